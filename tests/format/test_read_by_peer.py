"""The other direction: documents and chunks we encode, read back by zarr-python."""

from __future__ import annotations

import itertools
import warnings

import numcodecs
import numpy as np
import pytest
import zarr
from zarr.storage import MemoryStore
from zarr.core.buffer import default_buffer_prototype

from zarrlayer.format import GroupMetadata, build_array_metadata


def _write(meta, data) -> dict:
    """Our documents and every chunk of `data` (edge chunks padded with the fill value), as a zarr-python store."""
    items = {f"a/{k}": v for k, v in meta.to_documents().items()}
    items.update({f"{k}": v for k, v in GroupMetadata(meta.zarr_format).to_documents().items()})
    unit = meta.chunk_grid_shape
    fill = meta.fill_value if meta.fill_value is not None else 0
    for coords in itertools.product(*(range(n) for n in meta.grid_shape)):
        region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, unit, meta.shape))
        block = np.full(unit, fill, dtype=meta.dtype)
        block[tuple(slice(0, r.stop - r.start) for r in region)] = data[region]
        items[f"a/{meta.chunk_key(coords)}"] = meta.codecs.encode(block)
    proto = default_buffer_prototype()
    return {k: proto.buffer.from_bytes(v) for k, v in items.items()}


CASES = {
    "v3-default": dict(zarr_format=3, dtype="int32"),
    "v3-blosc-transpose": dict(zarr_format=3, dtype="float64", compressors=numcodecs.Blosc(cname="zstd"), filters=[{"name": "transpose", "configuration": {"order": [1, 0]}}]),
    "v3-big-gzip-crc": dict(zarr_format=3, dtype="uint16", serializer={"name": "bytes", "configuration": {"endian": "big"}}, compressors=[{"name": "gzip"}, {"name": "crc32c"}]),
    "v3-sharded": dict(zarr_format=3, dtype="float32", shards=(4, 6), fill_value=-1),
    "v3-strings": dict(zarr_format=3, dtype=str),
    "v3-strings-sharded": dict(zarr_format=3, dtype=str, shards=(4, 6)),
    "v3-dot-keys": dict(zarr_format=3, dtype="int8", chunk_key_encoding={"name": "default", "separator": "."}),
    "v2-default": dict(zarr_format=2, dtype=">i8"),
    "v2-F-zlib-delta": dict(zarr_format=2, dtype="<i4", order="F", compressors=numcodecs.Zlib(), filters=[numcodecs.Delta(dtype="<i4")]),
    "v2-strings": dict(zarr_format=2, dtype=str, chunk_key_encoding="/"),
    "v2-bytes-fixed": dict(zarr_format=2, dtype="|S3", compressors=None),
}


def _data(meta):
    n = int(np.prod(meta.shape))
    if meta.dtype == object:
        return np.array([f"v{i}é" for i in range(n)], dtype=object).reshape(meta.shape)
    if meta.dtype.kind == "S":
        return np.array([str(i).encode() for i in range(n)], dtype=meta.dtype).reshape(meta.shape)
    return (np.arange(n) % 100).astype(meta.dtype).reshape(meta.shape)


@pytest.mark.parametrize("case", list(CASES))
def test_peer_reads_what_we_write(case):
    meta = build_array_metadata(shape=(7, 6), chunks=(2, 3), **CASES[case])
    data = _data(meta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = zarr.open_array(MemoryStore(store_dict=_write(meta, data)), path="a", mode="r")
        values = peer[...]
    assert peer.shape == meta.shape and peer.chunks == meta.chunks and peer.shards == meta.shards
    if meta.dtype == object:
        assert values.tolist() == data.tolist()
    else:
        assert values.dtype.kind == meta.dtype.kind
        np.testing.assert_array_equal(values, data)
