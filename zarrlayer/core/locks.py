"""Per-object write locks: writers in one process that touch the same stored object take turns.

A partial chunk write reads the chunk (or the whole shard), merges and writes it back; two
threads doing that to one object at once lose one of the writes. Every read-merge-write of
the chunk engine and every update of a consolidated metadata document therefore holds the
lock of (store identity, key) for its whole duration.

Locks are striped: a fixed table of re-entrant locks, each (store, key) mapped to one by
hash, so that memory stays bounded however many keys are written. A caller takes all the
stripes it needs at once, in ascending order, and only caller threads take them (never the
decode pool's workers), so writers cannot deadlock. Nothing here holds across processes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from operator import floordiv
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zarrlayer.core.indexing import ChunkPlan
    from zarrlayer.format import ArrayMetadata
    from zarrlayer.storage._base import Store

__all__ = ["STRIPES", "hold", "hold_plan", "store_identity"]

STRIPES = 4096
_locks = [threading.RLock() for _ in range(STRIPES)]


def store_identity(store: Store) -> str:
    """What names a store's bytes: its cache identity (the wrapped store's, through wrappers), else its URL."""
    identity = getattr(store, "cache_identity", None)
    return identity if isinstance(identity, str) else str(store.url)


def _stripes(identity: str, keys: Iterable[str]) -> list[int]:
    return sorted({hash((identity, key)) % STRIPES for key in keys})


@contextmanager
def hold(store: Store, keys: Iterable[str]) -> Iterator[None]:
    """Hold the write locks of `keys` in `store` (blocks until no other thread holds any of them)."""
    taken: list[threading.RLock] = []
    try:
        for index in _stripes(store_identity(store), keys):
            lock = _locks[index]
            lock.acquire()
            taken.append(lock)
        yield
    finally:
        for lock in reversed(taken):
            lock.release()


def plan_keys(prefix: str, metadata: ArrayMetadata, plan: ChunkPlan) -> Iterator[str]:
    """The stored objects a write of `plan` rewrites: its chunks, or the shards holding them (lazily)."""
    coords: Iterable[tuple[int, ...]] = (entry[0] for entry in plan.entries)
    if metadata.sharding is not None:
        cps = metadata.sharding.chunks_per_shard(metadata.chunk_grid_shape)
        coords = {tuple(map(floordiv, c, cps)) for c in coords}
    return (prefix + metadata.chunk_key(c) for c in coords)


def hold_plan(store: Store, prefix: str, metadata: ArrayMetadata, plan: ChunkPlan) -> Any:
    """`hold` for every chunk or shard that writing `plan` reads, merges and writes back."""
    return hold(store, plan_keys(prefix, metadata, plan))
