"""The cache= option of the open functions: warm array reads touch nothing upstream."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from cache_helpers import CountingStore

import zarrlayer
from zarrlayer.cache import DiskCacheStore, MemoryCacheStore
from zarrlayer.core.sync import get_loop, sync
from zarrlayer.storage import MemoryStore


@pytest.fixture
def written() -> tuple[dict[str, bytes], np.ndarray]:
    data = np.arange(40 * 30, dtype="i4").reshape(40, 30)
    backing: dict[str, bytes] = {}
    array = zarrlayer.create_array(MemoryStore(backing), shape=data.shape, chunks=(10, 10), dtype="i4")
    array[...] = data
    return backing, data


@pytest.mark.parametrize("spec", ["memory", {"memory": "8 MiB", "disk": {"max_bytes": "64 MiB"}}])
def test_open_array_with_a_cache_reads_warm_without_the_store(written, spec, tmp_path) -> None:
    backing, data = written
    if isinstance(spec, dict):
        spec = {**spec, "disk": {**spec["disk"], "directory": str(tmp_path)}}
    upstream = CountingStore(MemoryStore(backing))
    array = zarrlayer.open_array(upstream, mode="r", cache=spec)
    assert isinstance(array.store, MemoryCacheStore)
    np.testing.assert_array_equal(array[...], data)
    upstream.reset()
    np.testing.assert_array_equal(array[5:25, 3:17], data[5:25, 3:17])
    again = zarrlayer.open_array(array.store, mode="r")
    np.testing.assert_array_equal(again[...], data)
    assert upstream.reads == 0, upstream.counts


def test_disk_tier_does_its_io_off_the_event_loop(tmp_path, monkeypatch) -> None:
    cache = DiskCacheStore(MemoryStore({"k": b"v"}), tmp_path, "1 MiB")
    threads: list[threading.Thread] = []
    original = DiskCacheStore._lookup

    def recording(self, entries):
        threads.append(threading.current_thread())
        return original(self, entries)

    monkeypatch.setattr(DiskCacheStore, "_lookup", recording)
    assert sync(cache.get("k")) == b"v" and sync(cache.get("k")) == b"v"
    loop_thread = sync(_current_thread())
    assert threads and all(t is not loop_thread for t in threads)
    assert get_loop().is_running()


async def _current_thread() -> threading.Thread:
    return threading.current_thread()
