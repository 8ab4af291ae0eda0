"""The caching tier: wrapper stores that keep what was read close at hand.

`MemoryCacheStore` (an LRU in process memory) and `DiskCacheStore` (persistent, shared by
processes on one host) stack: `MemoryCacheStore(DiskCacheStore(remote, dir, "20 GiB"), "2 GiB")`.
Their cache API is `stats()` and `clear_cache()`; `resolve_cache` builds them from the
`cache=` option of the open functions.
"""

from __future__ import annotations

from zarrlayer.cache._spec import DEFAULT_DISK_BYTES, DEFAULT_MEMORY_BYTES, parse_size, resolve_cache
from zarrlayer.cache._tier import CacheTier
from zarrlayer.cache.disk import DiskCacheStore
from zarrlayer.cache.memory import MemoryCacheStore

__all__ = [
    "DEFAULT_DISK_BYTES",
    "DEFAULT_MEMORY_BYTES",
    "CacheTier",
    "DiskCacheStore",
    "MemoryCacheStore",
    "parse_size",
    "resolve_cache",
]
