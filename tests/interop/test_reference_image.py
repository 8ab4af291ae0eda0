"""Zarr v2 data written by another implementation decodes exactly to its reference image."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import zarrlayer
from zarrlayer.errors import ReadOnlyError


DATA = Path(__file__).resolve().parents[1] / "data" / "zarr_implementations"
EXAMPLE = DATA / "examples" / "zarr.zr"
IMAGE = DATA / "data" / "reference_image.png"


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    assert EXAMPLE.is_dir() and IMAGE.is_file(), (
        f"expected the zarr_implementations data in the repository at {DATA} (see tests/data/README.md)"
    )
    return np.asarray(Image.open(IMAGE))


@pytest.mark.parametrize("name", ["blosc", "gzip", "raw", "zlib"])
def test_array_decodes_to_reference_image(name, reference):
    group = zarrlayer.open_group(str(EXAMPLE), mode="r")
    array = group[name]
    assert array.metadata.zarr_format == 2
    data = array[...]
    assert data.shape == reference.shape and data.dtype == reference.dtype
    assert np.array_equal(data, reference)
    assert np.array_equal(array[100:300:7, ::3, 1], reference[100:300:7, ::3, 1])


def test_group_lists_the_four_arrays_read_only(reference):
    group = zarrlayer.open_group(str(EXAMPLE), mode="r")
    assert list(group) == ["blosc", "gzip", "raw", "zlib"]
    assert group.read_only
    with pytest.raises(ReadOnlyError):
        group["raw"][0, 0, 0] = 1


def test_copy_is_writable_and_reads_back(tmp_path, reference):
    target = tmp_path / "zarr.zr"
    shutil.copytree(EXAMPLE, target)
    array = zarrlayer.open_array(str(target), path="zlib", mode="r+")
    array[0:10, 0:10] = 255
    expect = reference.copy()
    expect[0:10, 0:10] = 255
    assert np.array_equal(zarrlayer.open_array(str(target), path="zlib", mode="r")[...], expect)
