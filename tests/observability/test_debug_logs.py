"""Retries, backoffs, cache evictions and fallbacks are logged at DEBUG, by each module's own logger
(`logging.getLogger(__name__)`), and no credential ever appears in those lines."""

from __future__ import annotations

import asyncio
import logging

import pytest

from zarrlayer.cache import DiskCacheStore, MemoryCacheStore
from zarrlayer.core.sync import sync
from zarrlayer.storage import MemoryStore, RangeByteRequest, SuffixByteRequest
from zarrlayer.storage._remote import Failure, Limiter, RetryPolicy, call_with_retries

SECRET = "s3cr3t-AKIA-0123456789"


def _messages(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == logging.DEBUG]


def test_retries_and_backoffs_are_logged_without_credentials(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    async def flaky() -> bytes:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError(f"connection to https://user:{SECRET}@host/x dropped (token={SECRET})")
        return b"ok"

    async def scenario() -> bytes:
        return await call_with_retries(
            flaky, limiter=Limiter(4), policy=RetryPolicy(retries=3, base_delay=0.001, timeout=5, deadline=30),
            classify=lambda exc: Failure.TRANSIENT, where=f"s3://bucket/data.zarr key 'c/0' ({SECRET})",
            secrets=[SECRET],
        )

    with caplog.at_level(logging.DEBUG, logger="zarrlayer"):
        assert asyncio.run(scenario()) == b"ok"
    lines = _messages(caplog, "zarrlayer.storage._remote")
    retries = [m for m in lines if m.startswith("retrying ")]
    assert len(retries) == 2 and "after attempt 1 of 4" in retries[0] and "ConnectionError" in retries[0]
    assert any("backing off: requests in flight limited to 2 (was 4 of 4)" in m for m in lines)
    assert all(SECRET not in m for m in lines), lines


def test_memory_cache_evictions_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    upstream = MemoryStore({f"c/{i}": bytes([i]) * 1000 for i in range(10)})
    cache = MemoryCacheStore(upstream, 3000)
    with caplog.at_level(logging.DEBUG, logger="zarrlayer"):
        for i in range(10):
            assert sync(cache.get(f"c/{i}")) == bytes([i]) * 1000
    lines = _messages(caplog, "zarrlayer.cache.memory")
    assert lines and all("evicted" in m and cache.url in m and "3000 bytes" in m for m in lines)
    assert sum(int(m.split("evicted ")[1].split()[0]) for m in lines) == cache.stats()["evictions"] > 0


def test_disk_cache_evictions_are_logged(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    upstream = MemoryStore({f"c/{i}": bytes([i]) * 65536 for i in range(40)})
    cache = DiskCacheStore(upstream, tmp_path, 1 << 20)
    try:
        with caplog.at_level(logging.DEBUG, logger="zarrlayer"):
            for i in range(40):
                assert sync(cache.get(f"c/{i}")) == bytes([i]) * 65536
        lines = _messages(caplog, "zarrlayer.cache.disk")
        assert lines and all("evicted" in m and str(tmp_path) in m for m in lines)
        assert sum(int(m.split("evicted ")[1].split()[0]) for m in lines) == cache.stats()["evictions"] > 0
    finally:
        cache.close()


def test_fallbacks_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    from zarrlayer.storage._fsspec_support import trim_ignored_range

    whole = bytes(range(100))
    with caplog.at_level(logging.DEBUG, logger="zarrlayer"):
        assert trim_ignored_range(whole, RangeByteRequest(10, 20)) == whole[10:20]
        assert trim_ignored_range(whole, SuffixByteRequest(5)) == whole[-5:]
        assert trim_ignored_range(whole[10:20], RangeByteRequest(10, 20)) == whole[10:20]  # honoured: no log
        cache = MemoryCacheStore(MemoryStore({"c/0": b"x"}), 10_000)
        assert sync(cache.get("c/0")) == b"x"
        cache.drop_cached(["c/0"])
    ranges = _messages(caplog, "zarrlayer.storage._fsspec_support")
    assert len(ranges) == 2 and all("ignored a Range request" in m for m in ranges)
    dropped = _messages(caplog, "zarrlayer.cache._tier")
    assert any("dropping cached ['c/0']" in m and "fetching again" in m for m in dropped)


def test_an_s3_store_logs_no_credentials_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("moto")
    import zarrlayer
    from zarrlayer.testing.servers import create_bucket, moto_server, s3fs_options

    endpoint = moto_server().__enter__()
    create_bucket(endpoint, "logs")
    options = s3fs_options(endpoint)
    with caplog.at_level(logging.DEBUG, logger="zarrlayer"):
        root = zarrlayer.create_group("s3://logs/x.zarr", storage_options=options, cache={"memory": 4000})
        arr = root.create_array("a", shape=(40,), chunks=(4,), dtype="int64")
        arr[:] = range(40)
        assert list(zarrlayer.open_array("s3://logs/x.zarr", path="a", mode="r", storage_options=options,
                                         cache={"memory": 400})[:3]) == [0, 1, 2]
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("zarrlayer")]
    assert ours, "expected eviction lines from the small memory cache"
    assert all(options["secret"] not in m and options["key"] not in m for m in ours)
