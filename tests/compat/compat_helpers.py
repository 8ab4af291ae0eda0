"""Helpers of the bridge tests: run a coroutine on zarr-python's loop; an upstream store that counts reads."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import Any

from zarrlayer.storage._base import Buffer, ByteRequest, Store
from zarrlayer.storage.wrapper import WrapperStore


def run(coro: Any) -> Any:
    """`coro`'s result, computed on zarr-python's event loop."""
    from zarr.core.sync import sync

    return sync(coro)


class ReadCounter(WrapperStore[Store]):
    """Counts every read that reaches the wrapped store, by kind (`get` counts one per key)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.counts[kind] += n

    @property
    def reads(self) -> int:
        """Every read of any kind so far."""
        return sum(self.counts.values())

    def _rewrap(self, store: Store) -> ReadCounter:
        return ReadCounter(store)

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        self._count("get")
        return await self._store.get(key, byte_range)

    async def get_partial_values(self, key_ranges: Iterable[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        key_ranges = list(key_ranges)
        self._count("get", len(key_ranges))
        return await self._store.get_partial_values(key_ranges)

    async def exists(self, key: str) -> bool:
        self._count("exists")
        return await self._store.exists(key)

    async def getsize(self, key: str) -> int:
        self._count("getsize")
        return await self._store.getsize(key)

    async def list(self) -> AsyncIterator[str]:  # type: ignore[override]
        self._count("list")
        async for key in self._store.list():
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:  # type: ignore[override]
        self._count("list")
        async for key in self._store.list_prefix(prefix):
            yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:  # type: ignore[override]
        self._count("list")
        async for key in self._store.list_dir(prefix):
            yield key
