"""Hierarchies cross between zarr-python and zarrlayer over S3 (moto) and HTTP, bit-exact, both ways.

zarr-python writes with its own FsspecStore; zarrlayer reads through FsspecStore and
ObjectStore (given as stores and made implicitly from URLs), and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

import zarrlayer
from zarrlayer import config
from zarrlayer.api import open_array, open_group
from zarrlayer.errors import ReadOnlyError
from zarrlayer.storage._base import Store
from zarrlayer.storage.fsspec import FsspecStore
from zarrlayer.storage.obstore import ObjectStore
from zarrlayer.testing.servers import http_server, obstore_s3_options, s3fs_options

RNG = np.random.default_rng(5)
ARRAYS: dict[str, dict[str, Any]] = {
    "temperature": {"data": RNG.normal(size=(40, 30)).astype("<f4"), "chunks": (16, 8)},
    "counts": {"data": RNG.integers(0, 1000, size=(64,), dtype="<i8"), "chunks": (10,)},
    "nested/mask": {"data": RNG.integers(0, 2, size=(9, 9, 5)).astype("bool"), "chunks": (4, 4, 5)},
    "sharded": {"data": np.arange(32 * 32, dtype="<u2").reshape(32, 32), "chunks": (4, 4), "shards": (16, 16)},
}


def _zarr_python_store(s3_endpoint: str, root: str) -> Any:
    return zarr.storage.FsspecStore.from_url(f"s3://{root}", storage_options=s3fs_options(s3_endpoint))


def _write_with_zarr_python(store: Any, zarr_format: int) -> None:
    root = zarr.open_group(store, mode="w", zarr_format=zarr_format, attributes={"title": "written by zarr-python"})
    for name, spec in ARRAYS.items():
        if zarr_format == 2 and "shards" in spec:
            continue
        extra = {"shards": spec["shards"]} if "shards" in spec else {}
        array = root.create_array(name, shape=spec["data"].shape, dtype=spec["data"].dtype, chunks=spec["chunks"], **extra)
        array[...] = spec["data"]
        array.attrs["units"] = name


def _zarrlayer_store(kind: str, s3_endpoint: str, root: str) -> Store:
    if kind == "fsspec":
        return FsspecStore.from_url(f"s3://{root}", storage_options=s3fs_options(s3_endpoint))
    return ObjectStore.from_url(f"s3://{root}", **obstore_s3_options(s3_endpoint))


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("kind", ["fsspec", "obstore"])
def test_zarr_python_writes_zarrlayer_reads(s3_endpoint: str, s3_root: str, kind: str, zarr_format: int) -> None:
    _write_with_zarr_python(_zarr_python_store(s3_endpoint, s3_root), zarr_format)
    group = open_group(_zarrlayer_store(kind, s3_endpoint, s3_root), mode="r")
    assert group.attrs["title"] == "written by zarr-python"
    for name, spec in ARRAYS.items():
        if zarr_format == 2 and "shards" in spec:
            continue
        array = group[name]
        got = array[...]
        assert got.dtype == spec["data"].dtype and got.tobytes() == spec["data"].tobytes(), name
        assert array.attrs["units"] == name
        assert np.array_equal(array[3:7, 2:5] if array.ndim >= 2 else array[5:17], spec["data"][3:7, 2:5] if array.ndim >= 2 else spec["data"][5:17])


@pytest.mark.parametrize("kind", ["fsspec", "obstore"])
def test_zarrlayer_writes_zarr_python_reads(s3_endpoint: str, s3_root: str, kind: str) -> None:
    store = _zarrlayer_store(kind, s3_endpoint, s3_root)
    root = zarrlayer.api.create_group(store, attributes={"title": "written by zarrlayer"})
    for name, spec in ARRAYS.items():
        extra = {"shards": spec["shards"]} if "shards" in spec else {}
        array = root.create_array(name, shape=spec["data"].shape, dtype=spec["data"].dtype, chunks=spec["chunks"], **extra)
        array[...] = spec["data"]
    peer = zarr.open_group(_zarr_python_store(s3_endpoint, s3_root), mode="r")
    assert peer.attrs["title"] == "written by zarrlayer"
    for name, spec in ARRAYS.items():
        got = peer[name][...]
        assert got.dtype == spec["data"].dtype and got.tobytes() == spec["data"].tobytes(), name


@pytest.mark.parametrize("backend", ["fsspec", "obstore"])
def test_urls_open_through_the_configured_backend(s3_endpoint: str, s3_root: str, backend: str) -> None:
    _write_with_zarr_python(_zarr_python_store(s3_endpoint, s3_root), 3)
    options = s3fs_options(s3_endpoint) if backend == "fsspec" else obstore_s3_options(s3_endpoint)
    with config.override(remote_backend=backend):
        array = open_array(f"s3://{s3_root}", path="temperature", mode="r", storage_options=options)
    assert type(array.store).__name__ == ("FsspecStore" if backend == "fsspec" else "ObjectStore")
    assert array.store.read_only
    assert array[...].tobytes() == ARRAYS["temperature"]["data"].tobytes()


@pytest.fixture
def served_hierarchy(tmp_path: Path) -> Iterator[str]:
    _write_with_zarr_python(zarr.storage.LocalStore(tmp_path / "h.zarr"), 3)
    with http_server(tmp_path) as server:
        yield f"{server.url}/h.zarr"


def test_http_hierarchy_reads_bit_exact(served_hierarchy: str) -> None:
    group = open_group(served_hierarchy, mode="r")
    assert group.store.read_only and isinstance(group.store, FsspecStore)
    for name, spec in ARRAYS.items():
        assert group[name][...].tobytes() == spec["data"].tobytes(), name
    with pytest.raises(ReadOnlyError):
        group["counts"][0] = 5
