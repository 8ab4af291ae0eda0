"""Shared pieces of the hostile-server tests: the backends, the cache stacks and a fault server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zarrlayer.cache import DiskCacheStore, MemoryCacheStore
from zarrlayer.storage._base import Store
from zarrlayer.storage._remote import RetryPolicy
from zarrlayer.storage.fsspec import FsspecStore
from zarrlayer.storage.obstore import ObjectStore

BACKENDS = ["fsspec", "obstore"]
STACKS = ["memory", "disk", "memory+disk"]


def remote(backend: str, url: str, *, retries: int = 3, timeout: float | None = None) -> Store:
    """A store over `url` with fast retries (tests must not sleep for backoff)."""
    store: Any = FsspecStore.from_url(url) if backend == "fsspec" else ObjectStore.from_url(url)
    store._policy = RetryPolicy(retries=retries, base_delay=0.005, max_delay=0.02, timeout=timeout)
    return store


def stacked(stack: str, store: Store, directory: Path, **options: Any) -> Store:
    """`store` under the cache tiers `stack` names (memory over disk when both)."""
    if "disk" in stack:
        store = DiskCacheStore(store, directory, "1 GiB", **options)
    if "memory" in stack:
        store = MemoryCacheStore(store, "1 GiB", **options)
    return store
