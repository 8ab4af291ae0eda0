"""Helpers of the cache tests: an upstream that counts (and can slow down or fail) its reads,
and the bodies of the child processes that share a disk cache."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from zarrlayer.cache import DiskCacheStore
from zarrlayer.core.sync import sync
from zarrlayer.storage import LocalStore, MemoryStore
from zarrlayer.storage._base import Buffer, ByteRequest
from zarrlayer.storage.wrapper import WrapperStore


DATA: dict[str, bytes] = {
    "zarr.json": b'{"zarr_format": 3, "node_type": "group"}',
    "a/zarr.json": b'{"zarr_format": 3, "node_type": "array"}',
    "a/c/0": bytes(range(256)) * 4,
    "a/c/1": b"one" * 100,
    "b/.zarray": b'{"zarr_format": 2}',
}

class CountingStore(WrapperStore):
    """Counts every upstream read by kind ("get" counts one per key); `delay` slows gets down."""

    def __init__(self, store: Any, *, delay: float = 0.0) -> None:
        super().__init__(store)
        self.counts: Counter[str] = Counter()
        self.delay = delay
        self.fail_with: BaseException | None = None
        self._lock = threading.Lock()

    def _count(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.counts[kind] += n
        if self.fail_with is not None and not self.delay:
            raise self.fail_with

    def _fail_late(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    @property
    def reads(self) -> int:
        """Every upstream request of any kind."""
        return sum(self.counts.values())

    def reset(self) -> None:
        self.counts.clear()

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        self._count("get")
        if self.delay:
            await asyncio.sleep(self.delay)
            self._fail_late()
        return await self._store.get(key, byte_range)

    async def get_partial_values(self, key_ranges: Iterable[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        key_ranges = list(key_ranges)
        self._count("get", len(key_ranges))
        if self.delay:
            await asyncio.sleep(self.delay)
            self._fail_late()
        return await self._store.get_partial_values(key_ranges)

    async def exists(self, key: str) -> bool:
        self._count("exists")
        return await self._store.exists(key)

    async def getsize(self, key: str) -> int:
        self._count("getsize")
        return await self._store.getsize(key)

    def list(self) -> AsyncIterator[str]:
        self._count("list")
        return self._store.list()

    def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        self._count("list_prefix")
        return self._store.list_prefix(prefix)

    def list_dir(self, prefix: str) -> AsyncIterator[str]:
        self._count("list_dir")
        return self._store.list_dir(prefix)

    def get_sync(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        self._count("get")
        if self.delay:
            time.sleep(self.delay)
            self._fail_late()
        return self._store.get_sync(key, byte_range)

    def get_many_sync(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        self._count("get", len(key_ranges))
        if self.delay:
            time.sleep(self.delay)
            self._fail_late()
        return self._store.get_many_sync(key_ranges)

    def exists_sync(self, key: str) -> bool:
        self._count("exists")
        return self._store.exists_sync(key)


def value_for(i: int, size: int) -> bytes:
    """A value whose every byte depends on `i`, so a torn or mixed-up value is caught."""
    block = i.to_bytes(4, "little") * 64
    return (block * (size // len(block) + 1))[:size]


def child_read_local(root: str, cache_dir: str, keys: list[str]) -> tuple[dict[str, bytes | None], dict[str, int]]:
    """In a fresh process: read `keys` of LocalStore(root) through a disk cache in `cache_dir`."""
    upstream = CountingStore(LocalStore(root))
    cache = DiskCacheStore(upstream, cache_dir, "64 MiB")
    values = {key: sync(cache.get(key)) for key in keys}
    values.update(dict(zip([k + "#many" for k in keys], sync(cache.get_partial_values([(k, None) for k in keys])))))
    return values, dict(upstream.counts)


def child_fill_forever(cache_dir: str, namespace: str, size: int, started: Any) -> None:
    """In a process the test kills: fill a disk cache with large values, one after another, forever."""
    data = {f"c/{i}": value_for(i, size) for i in range(64)}
    cache = DiskCacheStore(MemoryStore(data), cache_dir, "1 GiB", namespace=namespace)
    i = 0
    while True:
        sync(cache.get(f"c/{i % 64}"))
        if i == 2:
            started.set()
        i += 1
        if i % 64 == 0:
            cache.clear_cache()
