"""Tier-specific behaviour: LRU budgets and eviction, persistence across processes, namespaces,
torn writes, stacking, pickling."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import random
import signal
import threading

import diskcache.core
import pytest
from cache_helpers import CountingStore, child_fill_forever, child_read_local, value_for

from zarrlayer.cache import DiskCacheStore, MemoryCacheStore
from zarrlayer.core.sync import sync
from zarrlayer.errors import StoreError
from zarrlayer.storage import LocalStore, MemoryStore
from zarrlayer.storage._base import RangeByteRequest


def test_memory_budget_is_respected_and_least_recently_used_go_first() -> None:
    upstream = CountingStore(MemoryStore({f"c/{i}": value_for(i, 1000) for i in range(20)}))
    cache = MemoryCacheStore(upstream, 5000)
    for i in range(4):
        sync(cache.get(f"c/{i}"))
    sync(cache.get("c/0"))
    for i in range(4, 20):
        sync(cache.get(f"c/{i}"))
        assert cache.stats()["bytes"] <= 5000
        sync(cache.get("c/0"))
    stats = cache.stats()
    assert stats["evictions"] >= 15 and 1 <= stats["entries"] <= 5
    upstream.reset()
    assert sync(cache.get("c/0")) == value_for(0, 1000) and sync(cache.get("c/19")) == value_for(19, 1000)
    assert upstream.reads == 0
    assert sync(cache.get("c/1")) == value_for(1, 1000)
    assert upstream.counts["get"] == 1


def test_values_larger_than_the_budget_pass_through_uncached(tmp_path) -> None:
    big = value_for(7, 500_000)
    for make in (lambda s: MemoryCacheStore(s, 200_000), lambda s: DiskCacheStore(s, tmp_path, 200_000)):
        upstream = CountingStore(MemoryStore({"big": big}))
        cache = make(upstream)
        assert sync(cache.get("big")) == big and sync(cache.get("big")) == big
        assert upstream.counts["get"] == 2
        assert cache.stats()["evictions"] == 0


@pytest.mark.parametrize("policy", ["least-recently-stored", "least-recently-used"])
def test_disk_budget_is_respected_and_evictions_counted(tmp_path, policy) -> None:
    budget = 2 * 2**20
    upstream = CountingStore(MemoryStore({f"c/{i}": value_for(i, 64 * 1024) for i in range(80)}))
    cache = DiskCacheStore(upstream, tmp_path, budget, eviction_policy=policy)
    for i in range(80):
        assert sync(cache.get(f"c/{i}")) == value_for(i, 64 * 1024)
        assert cache.stats()["bytes"] <= budget
    stats = cache.stats()
    assert stats["evictions"] > 0 and stats["entries"] < 80
    upstream.reset()
    assert sync(cache.get("c/79")) == value_for(79, 64 * 1024) and upstream.reads == 0
    assert sync(cache.get("c/0")) == value_for(0, 64 * 1024) and upstream.counts["get"] == 1


def _write_local(root) -> dict[str, bytes]:
    data = {"zarr.json": b'{"zarr_format": 3}', **{f"c/{i}": value_for(i, 40_000) for i in range(12)}}
    local = LocalStore(root)
    for key, value in data.items():
        sync(local.set(key, value))
    return data


def test_a_second_process_reads_the_disk_cache_with_no_upstream_read(tmp_path) -> None:
    data = _write_local(tmp_path / "data")
    upstream = CountingStore(LocalStore(tmp_path / "data"))
    cache = DiskCacheStore(upstream, tmp_path / "cache", "64 MiB")
    keys = sorted(data) + ["c/missing"]
    for key in keys:
        sync(cache.get(key))
    assert upstream.counts["get"] == len(keys)
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        values, counts = pool.apply(child_read_local, (str(tmp_path / "data"), str(tmp_path / "cache"), keys))
    assert counts == {}
    assert values == {**data, "c/missing": None, **{k + "#many": data.get(k) for k in keys}}


def test_two_stores_with_the_same_keys_never_collide_in_one_directory(tmp_path) -> None:
    roots = []
    for name, digit in (("one", b"1"), ("two", b"2")):
        local = LocalStore(tmp_path / name)
        sync(local.set("zarr.json", name.encode()))
        sync(local.set("c/0", digit * 10))
        roots.append(local)
    first, second = CountingStore(roots[0]), CountingStore(roots[1])
    a = DiskCacheStore(first, tmp_path / "cache", "16 MiB")
    b = DiskCacheStore(second, tmp_path / "cache", "16 MiB")
    assert a.namespace != b.namespace
    for _ in range(2):
        assert sync(a.get("zarr.json")) == b"one" and sync(b.get("zarr.json")) == b"two"
        assert sync(a.get("c/0")) == b"1" * 10 and sync(b.get("c/0")) == b"2" * 10
        assert sorted(sync(_collect(a.list()))) == sorted(sync(_collect(b.list()))) == ["c/0", "zarr.json"]
    assert first.counts["get"] == second.counts["get"] == 2
    sync(a.set("c/0", b"changed"))
    assert sync(b.get("c/0")) == b"2" * 10 and second.counts["get"] == 2
    b.clear_cache()
    first.reset()
    assert sync(a.get("zarr.json")) == b"one" and first.reads == 0


def test_same_location_shares_entries_across_instances(tmp_path) -> None:
    data = _write_local(tmp_path / "data")
    warm = DiskCacheStore(LocalStore(tmp_path / "data"), tmp_path / "cache", "64 MiB")
    sync(warm.get("c/3"))
    upstream = CountingStore(LocalStore(tmp_path / "data"))
    other = DiskCacheStore(upstream, tmp_path / "cache", "64 MiB")
    assert sync(other.get("c/3")) == data["c/3"] and upstream.reads == 0


def test_a_writer_killed_mid_way_leaves_nothing_that_is_served(tmp_path) -> None:
    size = 2 * 2**20
    data = {f"c/{i}": value_for(i, size) for i in range(64)}
    context = multiprocessing.get_context("spawn")
    started = context.Event()
    child = context.Process(target=child_fill_forever, args=(str(tmp_path), "torn", size, started))
    child.start()
    try:
        assert started.wait(60)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.join(30)
    assert child.exitcode == -signal.SIGKILL
    upstream = CountingStore(MemoryStore(data))
    cache = DiskCacheStore(upstream, tmp_path, "1 GiB", namespace="torn")
    held = cache.stats()["entries"]
    assert held >= 1
    for key, value in data.items():
        assert sync(cache.get(key)) == value
        assert cache.get_sync(key) == value


def test_a_failed_write_is_not_served_and_the_read_still_succeeds(tmp_path, monkeypatch) -> None:
    value = value_for(3, 100_000)
    upstream = CountingStore(MemoryStore({"c/3": value}))
    cache = DiskCacheStore(upstream, tmp_path, "64 MiB")
    original = diskcache.core.Disk._write

    def torn_write(self, full_path, iterator, mode, encoding=None):
        with open(full_path, mode) as file:
            file.write(next(iter(iterator))[:1000])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(diskcache.core.Disk, "_write", torn_write)
    assert sync(cache.get("c/3")) == value
    monkeypatch.setattr(diskcache.core.Disk, "_write", original)
    assert sync(cache.get("c/3")) == value
    assert upstream.counts["get"] == 2
    assert sync(cache.get("c/3")) == value and upstream.counts["get"] == 2


def test_stacked_memory_miss_that_hits_disk_fills_memory(tmp_path) -> None:
    upstream = CountingStore(MemoryStore({"c/0": b"zero", "zarr.json": b"{}"}))
    disk = DiskCacheStore(upstream, tmp_path, "16 MiB")
    sync(disk.get("c/0"))
    stacked = MemoryCacheStore(disk, "1 MiB")
    upstream.reset()
    assert sync(stacked.get("c/0")) == b"zero" and upstream.reads == 0
    assert stacked.stats()["inner"]["hits"] == 1
    assert sync(stacked.get("c/0")) == b"zero"
    assert stacked.stats()["inner"]["hits"] == 1 and stacked.stats()["hits"] == 1


def test_a_write_through_the_stack_is_seen_by_both_tiers_and_new_processes(tmp_path) -> None:
    data = _write_local(tmp_path / "data")
    upstream = CountingStore(LocalStore(tmp_path / "data"))
    disk = DiskCacheStore(upstream, tmp_path / "cache", "64 MiB")
    stacked = MemoryCacheStore(disk, "8 MiB")
    assert sync(stacked.get("c/0")) == data["c/0"]
    sync(stacked.set("c/0", b"fresh"))
    assert sync(stacked.get("c/0")) == b"fresh"
    assert sync(disk.get("c/0")) == b"fresh"
    other_memory = MemoryCacheStore(DiskCacheStore(LocalStore(tmp_path / "data"), tmp_path / "cache", "64 MiB"), "1 MiB")
    assert sync(other_memory.get("c/0")) == b"fresh"


def test_pickling_carries_configuration_not_contents(tmp_path) -> None:
    local = LocalStore(tmp_path / "data")
    _write_local(tmp_path / "data")
    memory = MemoryCacheStore(local, "3 MiB", metadata_ttl=5)
    sync(memory.get("c/0"))
    copy = pickle.loads(pickle.dumps(memory))
    assert copy == memory and copy.max_bytes == 3 * 2**20 and copy.metadata_ttl == 5
    assert copy.stats()["entries"] == 0 and memory.stats()["entries"] == 1
    disk = DiskCacheStore(local, tmp_path / "cache", "64 MiB", eviction_policy="least-recently-stored")
    sync(disk.get("c/1"))
    disk_copy = pickle.loads(pickle.dumps(disk))
    assert disk_copy == disk and disk_copy.directory == disk.directory
    assert disk_copy.stats()["hits"] == 0
    sync(disk_copy.get("c/1"))
    assert disk_copy.stats()["hits"] == 1 and disk_copy.stats()["upstream_requests"] == 0
    assert MemoryCacheStore(local, "2 MiB") != memory


def test_bad_arguments_are_refused(tmp_path) -> None:
    with pytest.raises(TypeError, match="Store"):
        MemoryCacheStore({"a": b"1"}, 100)
    with pytest.raises(ValueError, match="512 MiB"):
        MemoryCacheStore(MemoryStore(), "lots")
    with pytest.raises(ValueError, match="metadata_ttl"):
        MemoryCacheStore(MemoryStore(), 100, metadata_ttl=-1)
    with pytest.raises(ValueError, match="eviction_policy"):
        DiskCacheStore(MemoryStore(), tmp_path, 100, eviction_policy="random")
    with pytest.raises(TypeError, match="directory"):
        DiskCacheStore(MemoryStore(), 42, 100)


async def _collect(iterator) -> list:
    return [item async for item in iterator]


def test_disk_least_recently_used_keeps_what_is_read_again(tmp_path) -> None:
    upstream = CountingStore(MemoryStore({f"c/{i}": value_for(i, 64 * 1024) for i in range(60)}))
    cache = DiskCacheStore(upstream, tmp_path, 2 * 2**20, eviction_policy="least-recently-used")
    for i in range(60):
        sync(cache.get_partial_values([(f"c/{i}", None), ("c/0", None)]))
    assert cache.stats()["evictions"] > 0
    upstream.reset()
    assert sync(cache.get("c/0")) == value_for(0, 64 * 1024) and upstream.reads == 0
    assert sync(cache.get("c/1")) == value_for(1, 64 * 1024) and upstream.reads == 1


def test_an_unusable_directory_is_a_clear_store_error(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"not a directory")
    with pytest.raises(StoreError, match="writable directory"):
        DiskCacheStore(MemoryStore(), blocker / "cache", "1 MiB")


@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_threads_mixing_reads_and_writes_leave_the_cache_agreeing_with_the_store(kind, tmp_path) -> None:
    keys = [f"k/{i}" for i in range(12)]
    upstream = MemoryStore({key: b"0" for key in keys})
    cache = MemoryCacheStore(upstream, 4000) if kind == "memory" else DiskCacheStore(upstream, tmp_path, "16 MiB")

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for step in range(150):
            key = rng.choice(keys)
            action = rng.random()
            if action < 0.2:
                cache.set_sync(key, f"{seed}-{step}".encode())
            elif action < 0.25:
                cache.delete_sync(key)
            elif action < 0.6:
                cache.get_many_sync([(key, None), (rng.choice(keys), RangeByteRequest(0, 2))])
            else:
                sync(cache.exists(key)) if action < 0.7 else sync(cache.get(key))

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for key in keys:
        truth = upstream.store_dict.get(key)
        assert cache.get_sync(key) == truth and sync(cache.get(key)) == truth
        assert sync(cache.exists(key)) == (truth is not None)
        assert cache.get_sync(key, RangeByteRequest(0, 2)) == (None if truth is None else truth[:2])


def test_stores_known_only_to_this_process_never_share_a_namespace(tmp_path) -> None:
    data = {"zarr.json": b"{}"}
    first = DiskCacheStore(MemoryStore(data), tmp_path, "1 MiB")
    sync(first.get("zarr.json"))
    upstream = CountingStore(MemoryStore(data))
    second = DiskCacheStore(upstream, tmp_path, "1 MiB")
    assert second.namespace != first.namespace
    named = MemoryStore.named("cache-test-shared")
    try:
        assert DiskCacheStore(named, tmp_path, "1 MiB").namespace == DiskCacheStore(named, tmp_path, "1 MiB").namespace
    finally:
        MemoryStore.drop_named("cache-test-shared")
    assert sync(second.get("zarr.json")) == b"{}" and upstream.counts["get"] == 1
