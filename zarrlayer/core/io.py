"""Store access and the shared decode pool, used by the chunk engine and the node loaders.

Stores with a synchronous fast path (memory, local, zip) are read in a plain loop with
no event-loop hop; other stores go through one `get_partial_values` per batch on the
background loop, which keeps many requests in flight.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from zarrlayer import config
from zarrlayer.core.sync import sync
from zarrlayer.storage._base import Buffer, ByteRequest, Store

__all__ = [
    "ArrayLocation",
    "DecodeQueue",
    "batched",
    "decode_pool",
    "delete_keys",
    "fetch",
    "fetch_whole_reused",
    "join_path",
    "run_batches",
    "set_values",
]

T = TypeVar("T")

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] | None = None


def join_path(*parts: str) -> str:
    """Node paths joined with '/', ignoring empty parts (the root is '')."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


class ArrayLocation:
    """Where an array's stored units live: a store and the key prefix of its path."""

    __slots__ = ("store", "path", "prefix")

    def __init__(self, store: Store, path: str) -> None:
        self.store = store
        self.path = path
        self.prefix = f"{path}/" if path else ""


def decode_pool() -> ThreadPoolExecutor:
    """The process's decode/encode pool, sized by `config.get().decode_threads` (anew after a fork)."""
    global _pool, _pool_key
    key = (os.getpid(), config.get().decode_threads)
    pool = _pool
    if pool is not None and _pool_key == key:
        return pool
    with _pool_lock:
        if _pool is None or _pool_key != key:
            _pool = ThreadPoolExecutor(max_workers=key[1], thread_name_prefix="zarrlayer-codec")
            _pool_key = key
        return _pool


def fetch(store: Store, requests: Sequence[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
    """The values (or byte ranges) of `requests`, in order; None for each missing key."""
    if not requests:
        return []
    if store.supports_sync:
        return store.get_many_sync(requests)
    return sync(store.get_partial_values(list(requests)))


_read_buffer = threading.local()


def fetch_whole_reused(store: Store, key: str, size_hint: int) -> Buffer | None:
    """The whole value of `key`, read into this thread's reused buffer where the store can (else as `fetch`).

    The result is valid only until this thread's next call: use it up first. Looked up on
    the store's class, so a wrapper (a cache) never forwards it past itself.
    """
    reader = getattr(type(store), "get_into_sync", None)
    if reader is None:
        return fetch(store, [(key, None)])[0]
    buffer = getattr(_read_buffer, "buffer", None)
    if buffer is None or len(buffer) < size_hint:
        buffer = _read_buffer.buffer = bytearray(size_hint)
    value: Buffer | None = reader(store, key, buffer)
    return value


def set_values(store: Store, items: Sequence[tuple[str, Buffer]]) -> None:
    """Write every (key, value) pair: a plain loop on sync stores, concurrently otherwise."""
    if not items:
        return
    if store.supports_sync:
        for key, value in items:
            store.set_sync(key, value)
        return

    async def _all() -> None:
        await asyncio.gather(*(store.set(k, v) for k, v in items))

    sync(_all())


def delete_keys(store: Store, keys: Sequence[str]) -> None:
    """Delete every key (missing ones are no-ops)."""
    if not keys:
        return
    if store.supports_sync:
        for key in keys:
            store.delete_sync(key)
        return

    async def _all() -> None:
        await asyncio.gather(*(store.delete(k) for k in keys))

    sync(_all())


def batched(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_batches(func: Callable[[Sequence[Any]], T], items: Sequence[Any], *, threads: int) -> list[T]:
    """`func` over `threads` sub-batches of `items` in the decode pool (inline when `threads` is 1)."""
    if threads < 2 or len(items) < 2:
        return [func(items)]
    size = max(1, -(-len(items) // threads))
    futures: list[Future[T]] = [decode_pool().submit(func, part) for part in batched(items, size)]
    return [f.result() for f in futures]


class DecodeQueue:
    """Pool tasks with a bound on those in flight, so fetched-but-undecoded bytes stay bounded.

    With `threads` 1, tasks run at once on the caller's thread (small reads skip the pool).
    """

    def __init__(self, *, threads: int) -> None:
        self._threads = threads
        self._limit = 2 * threads
        self._futures: set[Future[Any]] = set()
        self._order: list[Future[Any]] = []

    def submit_split(self, func: Callable[[Sequence[Any]], Any], items: Sequence[Any]) -> None:
        """Run `func` over `items`, split into one task per thread in use."""
        if self._threads < 2 or len(items) < 2:
            func(items)
            return
        size = max(1, -(-len(items) // self._threads))
        for part in batched(items, size):
            self.submit(func, part)

    def submit(self, func: Callable[[Sequence[Any]], Any], items: Sequence[Any]) -> None:
        """Run `func(items)` as one pool task (at once with one thread), once a slot is free.

        A slot frees when any task finishes, not only the oldest, so one slow thread (a busy
        core) does not leave the others idle.
        """
        if self._threads < 2:
            func(items)
            return
        if len(self._futures) >= self._limit:
            self._futures = wait(self._futures, return_when=FIRST_COMPLETED).not_done
        future = decode_pool().submit(func, items)
        self._futures.add(future)
        self._order.append(future)

    def drain(self) -> None:
        """Wait for every task; the first failure (in submission order) is raised after all have finished."""
        futures, self._order, self._futures = self._order, [], set()
        error: BaseException | None = None
        for future in futures:
            try:
                future.result()
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                error = error or exc
        if error is not None:
            raise error
