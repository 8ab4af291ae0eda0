"""Threads writing into the same chunk or shard of one array never lose each other's data."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import zarrlayer
from zarrlayer.core.locks import hold, plan_keys
from zarrlayer.storage import LocalStore, MemoryStore


def test_issue_input_dask_store_without_lock_into_one_shard() -> None:
    da = pytest.importorskip("dask.array")
    import dask

    lost_runs = []
    for run in range(30):
        target = zarrlayer.create_array(store=MemoryStore(), shape=(40,), chunks=(5,), shards=(20,), dtype="int64")
        source = da.arange(1, 41, chunks=5)
        with dask.config.set(scheduler="threads", num_workers=8):
            da.store(source, target, lock=False)
        got = target[:]
        if not np.array_equal(got, np.arange(1, 41)):
            lost_runs.append((run, int((got == 0).sum())))
    assert lost_runs == []


@pytest.mark.parametrize("shards", [None, (60,)])
@pytest.mark.parametrize("kind", ["memory", "local"])
def test_thread_pool_writing_adjacent_regions_is_exact(tmp_path: Path, kind: str,
                                                       shards: tuple[int, ...] | None) -> None:
    store = MemoryStore() if kind == "memory" else LocalStore(tmp_path / "a.zarr")
    zarrlayer.create_array(store=store, shape=(600,), chunks=(10,), shards=shards, dtype="int32", fill_value=-1)
    width = 3  # regions of 3 elements: most chunks are shared by several writers

    def write(i: int) -> None:
        array = zarrlayer.open_array(store, mode="r+")  # its own handle, as separate tasks would have
        array[i * width : (i + 1) * width] = np.arange(i * width, (i + 1) * width)

    for _ in range(3):
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(600 // width)))
        np.testing.assert_array_equal(zarrlayer.open_array(store, mode="r")[:], np.arange(600))
        zarrlayer.open_array(store, mode="r+")[:] = -1


def test_overlapping_writes_leave_one_writer_per_element() -> None:
    store = MemoryStore()
    array = zarrlayer.create_array(store=store, shape=(100,), chunks=(7,), dtype="int32")

    def write(i: int) -> None:
        array[i : i + 30] = i + 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(0, 70, 5)))
    got = array[:]
    # every element was written by some writer that covers it (none is left at 0 but those no one wrote)
    for position, value in enumerate(got):
        writers = [i + 1 for i in range(0, 70, 5) if i <= position < i + 30]
        assert (value in writers) if writers else value == 0, (position, value, writers)


def test_locks_are_per_store_and_key() -> None:
    import threading

    a, b = MemoryStore(), MemoryStore()
    inside = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with hold(a, ["x/c/0"]):
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    inside.wait(5)
    done: list[str] = []

    def other(store: MemoryStore, key: str) -> None:
        with hold(store, [key]):
            done.append(key)

    free = [threading.Thread(target=other, args=(b, "x/c/0")), threading.Thread(target=other, args=(a, "x/c/1"))]
    blocked = threading.Thread(target=other, args=(a, "x/c/0"))
    for t in (*free, blocked):
        t.start()
    for t in free:
        t.join(5)
    assert sorted(done) == ["x/c/0", "x/c/1"]  # another store's key and another key are not blocked
    assert blocked.is_alive()
    release.set()
    blocked.join(5)
    thread.join(5)
    assert len(done) == 3


def test_sharded_writes_lock_the_shard() -> None:
    from zarrlayer.core.indexing import basic_plan

    array = zarrlayer.create_array(store=MemoryStore(), shape=(40,), chunks=(5,), shards=(20,), dtype="int8")
    plan = basic_plan((slice(0, 40),), array.shape, array.metadata.chunks)
    assert sorted(plan_keys("p/", array.metadata, plan)) == ["p/c/0", "p/c/1"]
    plain = zarrlayer.create_array(store=MemoryStore(), shape=(40,), chunks=(5,), dtype="int8")
    plan = basic_plan((slice(3, 12),), plain.shape, plain.metadata.chunks)
    assert sorted(plan_keys("", plain.metadata, plan)) == ["c/0", "c/1", "c/2"]
