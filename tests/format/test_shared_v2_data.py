"""Decode the v2 arrays written by zarr-python 2 chunk by chunk and compare with the reference image."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from zarrlayer.format import ArrayV2Metadata, parse_node_metadata

ROOT = Path(__file__).resolve().parents[1] / "data" / "zarr_implementations"
GROUP = ROOT / "examples" / "zarr.zr"


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(ROOT / "data" / "reference_image.png"))


@pytest.mark.parametrize("name", ["blosc", "gzip", "raw", "zlib"])
def test_decode_every_chunk(name, reference):
    node = GROUP / name
    docs = {p.name: p.read_bytes() for p in node.iterdir() if p.name.startswith(".z")}
    meta = parse_node_metadata(docs, path=name)
    assert isinstance(meta, ArrayV2Metadata) and meta.shape == reference.shape
    image = np.zeros(meta.shape, dtype=meta.dtype)
    for coords in itertools.product(*(range(n) for n in meta.grid_shape)):
        region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, meta.chunks, meta.shape))
        chunk = meta.codecs.decode((node / meta.chunk_key(coords)).read_bytes(), meta.chunks)
        image[region] = chunk[tuple(slice(0, r.stop - r.start) for r in region)]
    np.testing.assert_array_equal(image, reference)
