"""Concurrent misses make one upstream read; metadata, listings and misses expire after metadata_ttl."""

from __future__ import annotations

import asyncio
import threading
import types

import diskcache.core
import pytest
from cache_helpers import DATA

import zarrlayer.cache.memory
from zarrlayer.core.sync import sync

SLOW = 0.3
"""Seconds a slow upstream takes per read, so that every concurrent caller misses at once."""


def _run_in_threads(count: int, target) -> list:
    results: list = [None] * count
    barrier = threading.Barrier(count)

    def body(i: int) -> None:
        barrier.wait()
        results[i] = target()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_threads_on_their_own_event_loops_share_one_upstream_read(make_cache) -> None:
    cache, upstream = make_cache(delay=SLOW)
    results = _run_in_threads(8, lambda: asyncio.run(cache.get("a/c/0")))
    assert results == [DATA["a/c/0"]] * 8
    assert upstream.counts["get"] == 1


def test_tasks_share_one_upstream_read(make_cache) -> None:
    cache, upstream = make_cache(delay=SLOW)

    async def many() -> list:
        return await asyncio.gather(*(cache.get("a/c/1") for _ in range(10)), cache.get_partial_values([("a/c/1", None)]))

    results = sync(many())
    assert results[:10] == [DATA["a/c/1"]] * 10 and results[10] == [DATA["a/c/1"]]
    assert upstream.counts["get"] == 1


def test_sync_fast_path_threads_share_one_upstream_read(make_cache) -> None:
    cache, upstream = make_cache(delay=SLOW)
    results = _run_in_threads(6, lambda: cache.get_sync("a/c/0"))
    assert results == [DATA["a/c/0"]] * 6
    assert upstream.counts["get"] == 1


def test_a_failed_flight_fails_every_waiter_and_caches_nothing(make_cache) -> None:
    cache, upstream = make_cache(delay=SLOW)
    upstream.fail_with = TimeoutError("slow upstream gave up")

    def attempt() -> str:
        try:
            cache.get_sync("a/c/0")
        except TimeoutError as error:
            return str(error)
        return "no error"

    assert _run_in_threads(4, attempt) == ["slow upstream gave up"] * 4
    assert upstream.counts["get"] == 1
    upstream.fail_with = None
    assert cache.get_sync("a/c/0") == DATA["a/c/0"]


def test_a_cancelled_leader_lets_a_waiter_fetch(make_cache) -> None:
    cache, upstream = make_cache(delay=1.0)

    async def scenario() -> bytes:
        leader = asyncio.ensure_future(cache.get("a/c/1"))
        while upstream.counts["get"] < 1:
            await asyncio.sleep(0.005)
        waiter = asyncio.ensure_future(cache.get("a/c/1"))
        while cache.stats()["misses"] < 2:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        leader.cancel()
        return await waiter

    assert sync(scenario()) == DATA["a/c/1"]
    assert upstream.counts["get"] == 2


class _Clock:
    """A clock the test moves by hand, standing in for the caches' time source."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def read(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    clock = _Clock()
    monkeypatch.setattr(zarrlayer.cache.memory, "time", types.SimpleNamespace(monotonic=clock.read))
    monkeypatch.setattr(diskcache.core, "time", types.SimpleNamespace(time=clock.read))
    return clock


def test_upstream_changes_are_seen_after_metadata_ttl_and_not_before(make_cache, clock) -> None:
    cache, upstream = make_cache(metadata_ttl=60)
    data = upstream.store.store_dict
    assert sync(cache.get("a/zarr.json")) == DATA["a/zarr.json"]
    assert sorted(sync(_collect(cache.list_dir("a/c")))) == ["0", "1"]
    assert sync(cache.get("a/c/0")) == DATA["a/c/0"]
    assert sync(cache.get("a/c/5")) is None
    data["a/zarr.json"] = b'{"changed": true}'
    data["a/c/5"] = b"five"
    data["a/c/0"] = b"rewritten chunk"
    clock.now += 30
    assert sync(cache.get("a/zarr.json")) == DATA["a/zarr.json"]
    assert sorted(sync(_collect(cache.list_dir("a/c")))) == ["0", "1"]
    assert sync(cache.get("a/c/5")) is None
    clock.now += 31
    assert sync(cache.get("a/zarr.json")) == b'{"changed": true}'
    assert sorted(sync(_collect(cache.list_dir("a/c")))) == ["0", "1", "5"]
    assert sync(cache.get("a/c/5")) == b"five"
    assert sync(cache.get("a/c/0")) == b"rewritten chunk", "a changed array document drops the array's chunks"


def test_without_ttl_nothing_expires(make_cache, clock) -> None:
    cache, upstream = make_cache()
    sync(cache.get("zarr.json"))
    upstream.store.store_dict["zarr.json"] = b"{}"
    clock.now += 10**7
    upstream.reset()
    assert sync(cache.get("zarr.json")) == DATA["zarr.json"]
    assert upstream.reads == 0


async def _collect(iterator) -> list:
    return [item async for item in iterator]
