"""MemoryCacheStore: an LRU cache in process memory, bounded in bytes, in front of any store.

It caches values, byte ranges, `exists`, `getsize`, listings and misses; writes and
deletes through it reach the store first and then invalidate every cached form of the
key. Reads of local stores stay on the synchronous fast path when the wrapped store
offers one. Safe to share between threads and event loops (one threading.Lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from zarrlayer.cache._spec import parse_size
from zarrlayer.cache._tier import LISTING_KINDS, CacheTier, EntryKey, _payload_size, is_metadata_key
from zarrlayer.storage._base import Store

logger = logging.getLogger(__name__)

__all__ = ["MemoryCacheStore"]

_ENTRY_OVERHEAD = 96
"""Bytes charged per entry on top of its payload, so that misses and flags are bounded too."""


class MemoryCacheStore(CacheTier):
    """An LRU cache of `store` holding at most `max_bytes` (an int or a string like "2 GiB").

    `metadata_ttl` (seconds, None for never): metadata documents, listings and misses older
    than this are fetched again so that upstream changes are seen; when a refreshed array
    document differs, the chunks the change can affect are dropped. `chunk_ttl` (seconds,
    None for never): chunks older than this are fetched again (data rewritten in place). Values larger than `max_bytes` pass through uncached. `stats()` and
    `clear_cache()` are the cache API; pickling carries the configuration, not the contents.
    """

    _tier_name = "memory"

    def __init__(
        self,
        store: Store,
        max_bytes: int | str,
        *,
        metadata_ttl: float | None = None,
        chunk_ttl: float | None = None,
    ) -> None:
        super().__init__(store, metadata_ttl=metadata_ttl, chunk_ttl=chunk_ttl)
        self._max_bytes = parse_size(max_bytes, "max_bytes")
        self._lock = threading.Lock()
        self._entries: OrderedDict[EntryKey, tuple[Any, int, float | None]] = OrderedDict()
        self._by_key: dict[str, set[EntryKey]] = {}
        self._listings: set[EntryKey] = set()
        self._bytes = 0
        self._generation = 0

    @property
    def max_bytes(self) -> int:
        """The budget in bytes."""
        return self._max_bytes

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self._store == other._store
            and self._max_bytes == other._max_bytes
            and self._metadata_ttl == other._metadata_ttl
            and self._chunk_ttl == other._chunk_ttl
        )

    __hash__ = CacheTier.__hash__

    def __repr__(self) -> str:
        return (
            f"MemoryCacheStore({self._store!r}, max_bytes={self._max_bytes}, metadata_ttl={self._metadata_ttl}"
            + (f", chunk_ttl={self._chunk_ttl})" if self._chunk_ttl is not None else ")")
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._store, self._max_bytes, self._metadata_ttl, self._chunk_ttl))

    # -- entries ------------------------------------------------------------------------

    def _lookup(self, entries: Iterable[EntryKey]) -> dict[EntryKey, Any]:
        found: dict[EntryKey, Any] = {}
        now = time.monotonic()
        with self._lock:
            for entry in entries:
                held = self._entries.get(entry)
                if held is None:
                    continue
                value, _, expires = held
                if expires is not None and now >= expires:
                    self._remove(entry)
                    continue
                self._entries.move_to_end(entry)
                found[entry] = value
        return found

    def _epoch(self) -> int:
        return self._generation

    def _fill(self, items: Sequence[tuple[EntryKey, Any]], epoch: int) -> None:
        now = time.monotonic()
        evicted = 0
        with self._lock:
            if epoch != self._generation:
                return
            for entry, value in items:
                cost = _payload_size(value) + len(entry[1]) + _ENTRY_OVERHEAD
                if cost > self._max_bytes:
                    continue
                if entry in self._entries:
                    self._remove(entry)
                ttl = self._expiry(entry, value)
                self._entries[entry] = (value, cost, None if ttl is None else now + ttl)
                self._bytes += cost
                if entry[0] in LISTING_KINDS:
                    self._listings.add(entry)
                else:
                    self._by_key.setdefault(entry[1], set()).add(entry)
            while self._bytes > self._max_bytes:
                self._remove(next(iter(self._entries)))
                evicted += 1
        if evicted:
            self._counters.add(evictions=evicted)
            logger.debug("memory cache of %s evicted %d entries (least recently used) to stay within %d bytes",
                         self.url, evicted, self._max_bytes)

    def _remove(self, entry: EntryKey) -> None:
        _, cost, _ = self._entries.pop(entry)
        self._bytes -= cost
        if entry[0] in LISTING_KINDS:
            self._listings.discard(entry)
            return
        siblings = self._by_key.get(entry[1])
        if siblings is not None:
            siblings.discard(entry)
            if not siblings:
                del self._by_key[entry[1]]

    def _invalidate(self, keys: Sequence[str]) -> None:
        with self._lock:
            self._generation += 1
            for key in keys:
                for entry in list(self._by_key.get(key, ())):
                    self._remove(entry)
            for entry in list(self._listings):
                kind, prefix, _ = entry
                if kind == "l" or any(key.startswith(prefix) for key in keys):
                    self._remove(entry)

    def _invalidate_prefix(self, prefix: str) -> None:
        with self._lock:
            self._generation += 1
            for key in [k for k in self._by_key if k.startswith(prefix)]:
                for entry in list(self._by_key[key]):
                    self._remove(entry)
            for entry in list(self._listings):
                self._remove(entry)

    def _drop_matching(self, prefix: str, stale: Callable[[str], bool]) -> None:
        with self._lock:
            self._generation += 1
            for key in [k for k in self._by_key if k.startswith(prefix) and not is_metadata_key(k)]:
                if stale(key[len(prefix):]):
                    for entry in list(self._by_key.get(key, ())):
                        self._remove(entry)

    def _drop_all(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._by_key.clear()
            self._listings.clear()
            self._bytes = 0

    def _held(self) -> dict[str, Any]:
        with self._lock:
            return {"bytes": self._bytes, "entries": len(self._entries), "max_bytes": self._max_bytes}


def _rebuild(
    store: Store, max_bytes: int, metadata_ttl: float | None, chunk_ttl: float | None = None
) -> MemoryCacheStore:
    return MemoryCacheStore(store, max_bytes, metadata_ttl=metadata_ttl, chunk_ttl=chunk_ttl)
