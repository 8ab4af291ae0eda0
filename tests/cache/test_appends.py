"""Issue 14.2: caches see appends and other changes of array metadata.

The issue's input: a length-1 array (chunks of 2) holding [1], read through a cache with
metadata_ttl=0.1; another writer appends [2]; after 0.3 s a reopen through the same cache
reads [1, 2] (it read [1, 0]: the boundary chunk was served from the cache).
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarrlayer
from zarrlayer.cache import DiskCacheStore, MemoryCacheStore, resolve_cache
from zarrlayer.cache._staleness import stale_chunks
from zarrlayer.storage.local import LocalStore

TTL = 0.1
STACKS = ["memory", "disk", "memory+disk"]


def _cache(stack: str, store: Any, directory: Path, **options: Any) -> Any:
    spec: dict[str, Any] = {"metadata_ttl": TTL, **options}
    if "memory" in stack:
        spec["memory"] = "64 MiB"
    if "disk" in stack:
        spec["disk"] = {"directory": str(directory), "max_bytes": "64 MiB"}
    return resolve_cache(store, spec)


@pytest.mark.parametrize("zarr_format", [3, 2])
@pytest.mark.parametrize("stack", STACKS)
def test_an_append_is_seen_through_the_same_cache(tmp_path: Path, stack: str, zarr_format: int) -> None:
    root = tmp_path / "data.zarr"
    zarrlayer.create_array(str(root), data=np.array([1], dtype="i4"), chunks=(2,), zarr_format=zarr_format)
    cache = _cache(stack, LocalStore(root, read_only=True), tmp_path / "cache")
    assert zarrlayer.open_array(cache, mode="r")[:].tolist() == [1]
    zarrlayer.open_array(str(root), mode="r+").append(np.array([2], dtype="i4"))
    time.sleep(3 * TTL)
    assert zarrlayer.open_array(cache, mode="r")[:].tolist() == [1, 2]


@pytest.mark.parametrize("stack", STACKS)
def test_a_data_type_change_drops_every_chunk(tmp_path: Path, stack: str) -> None:
    root = tmp_path / "data.zarr"
    data = np.arange(1, 9, dtype="i4")
    zarrlayer.create_array(str(root), data=data, chunks=(2,), compressors=None)
    cache = _cache(stack, LocalStore(root, read_only=True), tmp_path / "cache")
    assert zarrlayer.open_array(cache, mode="r")[:].tolist() == data.tolist()
    # the old chunks still decode (same size, no codec), to the wrong values
    zarrlayer.create_array(str(root), data=(data * 10).astype("u4"), chunks=(2,), compressors=None, mode="w")
    time.sleep(3 * TTL)
    assert zarrlayer.open_array(cache, mode="r")[:].tolist() == (data * 10).tolist()


def test_growth_drops_only_the_boundary_chunks(tmp_path: Path) -> None:
    root = tmp_path / "data.zarr"
    zarrlayer.create_array(str(root), data=np.arange(5, dtype="i4"), chunks=(2,))
    cache = MemoryCacheStore(LocalStore(root, read_only=True), "64 MiB", metadata_ttl=TTL)
    zarrlayer.open_array(cache, mode="r")[:]
    zarrlayer.open_array(str(root), mode="r+").append(np.array([5], dtype="i4"))
    time.sleep(3 * TTL)
    assert zarrlayer.open_array(cache, mode="r")[:].tolist() == list(range(6))
    held = {entry[1] for entry in cache._entries if entry[0] == "v"}
    assert {"c/0", "c/1", "c/2"} <= held


def _read_in_child(root: str, directory: str, queue: Any) -> None:
    cache = DiskCacheStore(LocalStore(root, read_only=True), directory, "64 MiB", metadata_ttl=TTL)
    queue.put(zarrlayer.open_array(cache, mode="r")[:].tolist())


def test_the_disk_tier_sees_an_append_across_processes(tmp_path: Path) -> None:
    root, directory = tmp_path / "data.zarr", tmp_path / "cache"
    zarrlayer.create_array(str(root), data=np.array([1], dtype="i4"), chunks=(2,))
    cache = DiskCacheStore(LocalStore(root, read_only=True), directory, "64 MiB", metadata_ttl=TTL)
    assert zarrlayer.open_array(cache, mode="r")[:].tolist() == [1]
    zarrlayer.open_array(str(root), mode="r+").append(np.array([2], dtype="i4"))
    time.sleep(3 * TTL)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_read_in_child, args=(str(root), str(directory), queue))
    child.start()
    got = queue.get(timeout=60)
    child.join(60)
    assert got == [1, 2]


def test_chunk_ttl_sees_data_rewritten_in_place(tmp_path: Path) -> None:
    root = tmp_path / "data.zarr"
    zarrlayer.create_array(str(root), data=np.array([1, 2], dtype="i4"), chunks=(2,))
    cache = _cache("memory", LocalStore(root, read_only=True), tmp_path / "cache", chunk_ttl=TTL)
    assert zarrlayer.open_array(cache, mode="r")[:].tolist() == [1, 2]
    zarrlayer.open_array(str(root), mode="r+")[:] = [7, 8]
    assert zarrlayer.open_array(cache, mode="r")[:].tolist() == [1, 2], "fresh chunks are served from the cache"
    time.sleep(3 * TTL)
    assert zarrlayer.open_array(cache, mode="r")[:].tolist() == [7, 8]


def test_xarray_store_cache_does_not_repeat_time_labels(tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    root = tmp_path / "ts.zarr"
    group = zarrlayer.open_group(str(root), mode="w")
    group.create_array("time", data=np.array([10], dtype="i8"), chunks=(2,), dimension_names=["time"])
    group.create_array("v", data=np.array([1.0]), chunks=(2,), dimension_names=["time"])
    cache = MemoryCacheStore(LocalStore(root, read_only=True), "64 MiB", metadata_ttl=TTL)
    with xr.open_dataset(str(root), engine="zarrlayer", store_cache=cache, consolidated=False) as ds:
        assert ds["time"].values.tolist() == [10]
    for name, value in (("time", np.array([11], dtype="i8")), ("v", np.array([2.0]))):
        zarrlayer.open_array(str(root), path=name, mode="r+").append(value)
    time.sleep(3 * TTL)
    with xr.open_dataset(str(root), engine="zarrlayer", store_cache=cache, consolidated=False) as ds:
        assert ds["time"].values.tolist() == [10, 11]
        assert ds["v"].values.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "old, new, stale, kept",
    [
        ({"shape": [5], "chunks": [2]}, {"shape": [7], "chunks": [2]}, ["2", "3"], ["0", "1", ".zattrs"]),
        ({"shape": [5], "chunks": [2]}, {"shape": [3], "chunks": [2]}, ["1", "2"], ["0"]),
        ({"shape": [5], "chunks": [2]}, {"shape": [5], "chunks": [3]}, ["0", "1", "2"], []),
        ({"shape": [4, 4], "chunks": [2, 2]}, {"shape": [6, 4], "chunks": [2, 2]}, ["2.0", "2.1"], ["0.0", "1.1"]),
    ],
)
def test_which_v2_chunks_a_change_makes_stale(old: dict, new: dict, stale: list[str], kept: list[str]) -> None:
    import json

    test = stale_chunks(".zarray", json.dumps(old).encode(), json.dumps(new).encode())
    assert test is not None
    assert all(test(key) for key in stale)
    assert not any(test(key) for key in kept)


def test_attribute_only_changes_drop_nothing() -> None:
    import json

    doc = {"zarr_format": 3, "node_type": "array", "shape": [4], "chunk_grid": {"configuration": {"chunk_shape": [2]}}}
    assert stale_chunks("zarr.json", json.dumps(doc).encode(), json.dumps({**doc, "attributes": {"a": 1}}).encode()) is None
