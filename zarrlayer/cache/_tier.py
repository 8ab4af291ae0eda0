"""CacheTier: the read-through, invalidate-on-write logic shared by the memory and disk caches.

A tier answers reads from its entries and sends what it misses upstream, once per entry
however many threads and tasks ask at the same moment (single flight). What it caches,
as entries keyed `(kind, key, request)`:

- `("v", key, None)`: the whole value, or None for a key known to be missing;
- `("r", key, request)`: the bytes of a range read (shard indexes);
- `("x", key, None)` / `("s", key, None)`: the answers of `exists` and `getsize`;
- `("d", prefix, None)`, `("p", prefix, None)`, `("l", "", None)`: listings.

Subclasses keep the entries (in a dict, on disk) through six small synchronous methods,
`_lookup`, `_epoch`, `_fill`, `_invalidate`, `_invalidate_prefix` and `_drop_all`, which
must be thread-safe. A fill only lands if no invalidation happened since its upstream
read began (the epoch check), so a write racing a read never leaves stale data behind.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import threading
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import Future
from typing import Any, TypeAlias

from zarrlayer.cache._singleflight import LeaderCancelled, SingleFlight
from zarrlayer.cache._staleness import ARRAY_DOCUMENTS, stale_chunks
from zarrlayer.storage._base import (
    Buffer,
    ByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
    apply_byte_request,
    normalize_prefix,
    validate_key,
    validate_prefix,
)
from zarrlayer.storage.wrapper import WrapperStore

__all__ = ["ABSENT", "CacheTier", "EntryKey", "METADATA_NAMES", "is_metadata_key"]

logger = logging.getLogger(__name__)

EntryKey: TypeAlias = "tuple[str, str, ByteRequest | None]"
Op: TypeAlias = "tuple[str, str, ByteRequest | None]"
"""A read: ("get", key, request) | ("exists", key, None) | ("size", key, None) | a listing entry key."""

METADATA_NAMES = frozenset({"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"})
LISTING_KINDS = frozenset({"d", "p", "l"})


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""What a lookup gives for an entry the tier does not hold (None means "cached as missing")."""
_NO_SIZE: Any = -1


def is_metadata_key(key: str) -> bool:
    """Whether `key` names a Zarr metadata document (these expire after metadata_ttl)."""
    return key.rpartition("/")[2] in METADATA_NAMES


def _candidates(op: Op) -> tuple[EntryKey, ...]:
    kind, key, request = op
    if kind == "get":
        return (("v", key, None),) if request is None else (("v", key, None), ("r", key, request))
    if kind == "exists":
        return (("v", key, None), ("x", key, None), ("s", key, None))
    if kind == "size":
        return (("v", key, None), ("s", key, None), ("x", key, None))
    return (op,)


def _resolve(op: Op, found: dict[EntryKey, Any]) -> Any:
    kind, key, request = op
    if kind in LISTING_KINDS:
        return found.get(op, ABSENT)
    whole = found.get(("v", key, None), ABSENT)
    if kind == "get":
        if whole is not ABSENT:
            return None if whole is None else apply_byte_request(whole, request)
        return found.get(("r", key, request), ABSENT) if request is not None else ABSENT
    exists, size = found.get(("x", key, None), ABSENT), found.get(("s", key, None), ABSENT)
    if kind == "exists":
        if whole is not ABSENT:
            return whole is not None
        return exists if exists is not ABSENT else (True if size is not ABSENT else ABSENT)
    if whole is not ABSENT:
        return _NO_SIZE if whole is None else len(whole)
    if size is not ABSENT:
        return size
    return _NO_SIZE if exists is False else ABSENT


def _incomplete(result: Any, request: ByteRequest | None) -> bool:
    """Whether a range answer holds fewer bytes than asked (the object's end, or a fault: never cached)."""
    if isinstance(request, RangeByteRequest):
        return len(result) != request.end - request.start
    if isinstance(request, SuffixByteRequest):
        return len(result) != request.suffix
    return False


def _entries_for(op: Op, result: Any) -> list[tuple[EntryKey, Any]]:
    kind, key, request = op
    if kind in LISTING_KINDS:
        return [(op, result)]
    if kind == "get":
        if result is None:
            return [(("v", key, None), None)]
        if _incomplete(result, request):
            return []
        return [(("v", key, None) if request is None else ("r", key, request), result)]
    if kind == "exists":
        return [(("x", key, None), True)] if result else [(("v", key, None), None)]
    return [(("s", key, None), result)] if result != _NO_SIZE else [(("v", key, None), None)]


def _items(fetched: dict[Op, Any]) -> list[tuple[EntryKey, Any]]:
    return [item for op, value in fetched.items() for item in _entries_for(op, value)]


def _as_bytes(value: Buffer | None) -> bytes | None:
    return value if value is None or type(value) is bytes else bytes(value)


def _payload_size(value: Any) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, list):
        return sum(len(item) + 8 for item in value)
    return 0


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values = dict.fromkeys(("hits", "misses", "evictions", "upstream_requests", "upstream_bytes"), 0)

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                self.values[name] += delta

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.values)


class CacheTier(WrapperStore[Store]):
    """Base of MemoryCacheStore and DiskCacheStore: a caching WrapperStore (see the module docstring)."""

    _hop_to_thread = False
    """Whether async methods run the tier's own I/O in a worker thread (the disk tier does)."""
    _tier_name = "cache"

    def __init__(self, store: Store, *, metadata_ttl: float | None = None, chunk_ttl: float | None = None) -> None:
        from zarrlayer.cache._spec import _check_ttl

        super().__init__(store)
        self._metadata_ttl = _check_ttl(metadata_ttl)
        self._chunk_ttl = _check_ttl(chunk_ttl, "chunk_ttl")
        self._flights = SingleFlight()
        self._counters = _Counters()

    # -- what subclasses implement (synchronous, thread-safe) -------------------------

    @abstractmethod
    def _lookup(self, entries: Iterable[EntryKey]) -> dict[EntryKey, Any]:
        """The fresh entries held among `entries` (absent ones left out)."""

    @abstractmethod
    def _epoch(self) -> int:
        """A token that changes with every invalidation."""

    @abstractmethod
    def _fill(self, items: Sequence[tuple[EntryKey, Any]], epoch: int) -> None:
        """Hold `items` unless the epoch moved on since `epoch` was read."""

    @abstractmethod
    def _invalidate(self, keys: Sequence[str]) -> None:
        """Forget every entry of `keys` and every listing that could include them."""

    @abstractmethod
    def _invalidate_prefix(self, prefix: str) -> None:
        """Forget every entry of a key under the directory `prefix` ('' for all) and every listing."""

    @abstractmethod
    def _drop_all(self) -> None:
        """Forget every entry of this tier."""

    @abstractmethod
    def _drop_matching(self, prefix: str, stale: Callable[[str], bool]) -> None:
        """Forget the entries of each key `prefix + rest` (not a listing) for which `stale(rest)` holds."""

    @abstractmethod
    def _held(self) -> dict[str, Any]:
        """`bytes`, `entries` and any tier-specific figures for `stats()`."""

    # -- the cache API -------------------------------------------------------------------

    @property
    def metadata_ttl(self) -> float | None:
        """Seconds after which metadata documents, listings and misses are fetched again (None: never)."""
        return self._metadata_ttl

    def stats(self) -> dict[str, Any]:
        """This tier's figures, as a dict; a cache tier below it reports its own under `"inner"`.

        `hits` / `misses`: reads (one per key) answered here / sent on; `upstream_requests`,
        `upstream_bytes`: what was asked of the store below; `evictions`: entries dropped for
        room; `bytes`, `entries`, `max_bytes`: what is held now and the budget (the disk tier
        reports its whole directory, every namespace and SQLite's own pages included).
        Counters are per instance and process; held figures are shared.
        """
        stats: dict[str, Any] = {"tier": self._tier_name, **self._counters.snapshot(), **self._held()}
        if isinstance(self._store, CacheTier):
            stats["inner"] = self._store.stats()
        return stats

    @property
    def chunk_ttl(self) -> float | None:
        """Seconds after which any other value (chunks, shard indexes) is fetched again (None: never)."""
        return self._chunk_ttl

    def drop_cached(self, keys: Sequence[str]) -> None:
        """Forget every cached form of `keys` here and in the cache tiers below.

        The read path calls it when a cached value fails to parse or decode, before it
        fetches the value once more from upstream.
        """
        keys = [validate_key(key) for key in keys]
        logger.debug("dropping cached %s of %s (failed to parse or decode); fetching again from upstream", keys, self.url)
        store: Store = self
        while isinstance(store, WrapperStore):
            if isinstance(store, CacheTier):
                store._invalidate(keys)
            store = store.store

    def clear_cache(self, *, inner: bool = True) -> None:
        """Empty this tier (and, with `inner`, the cache tiers below it); the store itself is untouched."""
        self._drop_all()
        if inner and isinstance(self._store, CacheTier):
            self._store.clear_cache(inner=True)

    def _expiry(self, entry: EntryKey, value: Any) -> float | None:
        """The time-to-live of `entry` holding `value`: metadata, listings and misses after
        metadata_ttl, any other value after chunk_ttl; the last-seen array documents never."""
        kind, key, _ = entry
        if kind == "m":
            return None
        if kind in LISTING_KINDS or value is None or value is False or is_metadata_key(key):
            return self._metadata_ttl
        return self._chunk_ttl

    def _note_metadata(self, fetched: dict[Op, Any]) -> None:
        """Compare each array document just fetched with the one last seen; drop the chunks a change affects."""
        for (kind, key, request), value in fetched.items():
            if kind != "get" or request is not None or value is None:
                continue
            head, _, name = key.rpartition("/")
            if name not in ARRAY_DOCUMENTS:
                continue
            seen = ("m", key, None)
            previous = self._lookup([seen]).get(seen)
            if previous is not None:
                stale = stale_chunks(name, previous, value)
                if stale is not None:
                    logger.debug("array metadata %s of %s changed: dropping affected chunks", key, self.url)
                    self._drop_matching(f"{head}/" if head else "", stale)
            if previous != value:
                self._fill([(seen, value)], self._epoch())

    async def _hop(self, function: Callable[..., Any], *args: Any) -> Any:
        if self._hop_to_thread:
            return await asyncio.to_thread(function, *args)
        return function(*args)

    def _safe_fill(self, items: Sequence[tuple[EntryKey, Any]], epoch: int) -> None:
        try:
            self._fill(items, epoch)
        except Exception as error:  # a cache that cannot store must not fail the read
            logger.warning("could not cache %d entries of %s: %r", len(items), self.url, error)

    def _refresh(self, fetched: dict[Op, Any], epoch: int) -> None:
        """Hold what was fetched, after dropping what changed array metadata makes stale."""
        try:
            self._note_metadata(fetched)
        except Exception as error:  # noqa: BLE001 - then drop the whole array rather than fail the read
            logger.warning("could not compare array metadata in %s: %r", self.url, error)
        self._safe_fill(_items(fetched), epoch)

    def _lookup_ops(self, ops: Sequence[Op]) -> list[Any]:
        wanted = {entry for op in ops for entry in _candidates(op)}
        found = self._lookup(wanted)
        results = [_resolve(op, found) for op in ops]
        misses = sum(result is ABSENT for result in results)
        self._counters.add(hits=len(results) - misses, misses=misses)
        return results

    def _epoch_and_lookup(self, ops: Sequence[Op]) -> tuple[int, list[Any]]:
        epoch = self._epoch()
        found = self._lookup({entry for op in ops for entry in _candidates(op)})
        return epoch, [_resolve(op, found) for op in ops]

    def _count_upstream(self, values: Iterable[Any]) -> None:
        values = list(values)
        self._counters.add(upstream_requests=len(values), upstream_bytes=sum(_payload_size(v) for v in values))

    # -- the read machinery -------------------------------------------------------------

    async def _read(self, ops: Sequence[Op]) -> list[Any]:
        results = await self._hop(self._lookup_ops, ops)
        pending = list(dict.fromkeys(op for op, result in zip(ops, results) if result is ABSENT))
        if not pending:
            return results
        fetched = await self._fetch(pending)
        return [fetched[op] if result is ABSENT else result for op, result in zip(ops, results)]

    def _claim(self, ops: list[Op]) -> tuple[list[tuple[Op, Future[Any]]], list[tuple[Op, Future[Any]]]]:
        """Split `ops` into those this caller leads and those already in flight elsewhere."""
        leaders: list[tuple[Op, Future[Any]]] = []
        waiters: list[tuple[Op, Future[Any]]] = []
        for op in ops:
            lead, future = self._flights.claim(op)
            (leaders if lead else waiters).append((op, future))
        return leaders, waiters

    def _publish(self, leaders: list[tuple[Op, Future[Any]]], again: list[Any], fetched: dict[Op, Any]) -> dict[Op, Any]:
        out = {}
        for (op, future), value in zip(leaders, again):
            out[op] = fetched[op] if value is ABSENT else value
            self._flights.finish(op, future, out[op])
        return out

    def _fail(self, leaders: list[tuple[Op, Future[Any]]], error: BaseException) -> None:
        for op, future in leaders:
            self._flights.finish(op, future, error=error)

    async def _fetch(self, ops: list[Op]) -> dict[Op, Any]:
        leaders, waiters = self._claim(ops)
        out: dict[Op, Any] = {}
        if leaders:
            try:
                epoch, again = await self._hop(self._epoch_and_lookup, [op for op, _ in leaders])
                todo = [op for (op, _), value in zip(leaders, again) if value is ABSENT]
                fetched = dict(zip(todo, await self._upstream(todo))) if todo else {}
                if fetched:
                    await self._hop(self._refresh, fetched, epoch)
            except BaseException as error:
                self._fail(leaders, error)
                raise
            out.update(self._publish(leaders, again, fetched))
        for op, future in waiters:
            try:
                out[op] = await asyncio.shield(asyncio.wrap_future(future))
            except LeaderCancelled:
                out[op] = (await self._read([op]))[0]
        return out

    async def _upstream(self, ops: list[Op]) -> list[Any]:
        gets = [(key, request) for kind, key, request in ops if kind == "get"]
        if len(gets) == len(ops):
            if len(gets) == 1:
                values = [await self._store.get(*gets[0])]
            else:
                values = await self._store.get_partial_values(gets)
            values = [_as_bytes(v) for v in values]
        else:
            values = list(await asyncio.gather(*(self._upstream_one(op) for op in ops)))
        self._count_upstream(values)
        return values

    async def _upstream_one(self, op: Op) -> Any:
        kind, key, request = op
        if kind == "get":
            return _as_bytes(await self._store.get(key, request))
        if kind == "exists":
            return bool(await self._store.exists(key))
        if kind == "size":
            try:
                return int(await self._store.getsize(key))
            except FileNotFoundError:
                return _NO_SIZE
        iterator = {"d": self._store.list_dir, "p": self._store.list_prefix}.get(kind)
        source = iterator(key) if iterator is not None else self._store.list()
        return [name async for name in source]

    def _read_sync(self, ops: Sequence[Op]) -> list[Any]:
        results = self._lookup_ops(ops)
        pending = list(dict.fromkeys(op for op, result in zip(ops, results) if result is ABSENT))
        if not pending:
            return results
        fetched = self._fetch_sync(pending)
        return [fetched[op] if result is ABSENT else result for op, result in zip(ops, results)]

    def _fetch_sync(self, ops: list[Op]) -> dict[Op, Any]:
        leaders, waiters = self._claim(ops)
        out: dict[Op, Any] = {}
        if leaders:
            try:
                epoch, again = self._epoch_and_lookup([op for op, _ in leaders])
                todo = [op for (op, _), value in zip(leaders, again) if value is ABSENT]
                fetched = dict(zip(todo, self._upstream_sync(todo))) if todo else {}
                if fetched:
                    self._refresh(fetched, epoch)
            except BaseException as error:
                self._fail(leaders, error)
                raise
            out.update(self._publish(leaders, again, fetched))
        for op, future in waiters:
            try:
                out[op] = future.result()
            except LeaderCancelled:
                out[op] = self._read_sync([op])[0]
        return out

    def _upstream_sync(self, ops: list[Op]) -> list[Any]:
        values: list[Any]
        if all(kind == "get" for kind, _, _ in ops):
            values = [_as_bytes(v) for v in self._store.get_many_sync([(key, request) for _, key, request in ops])]
        else:
            values = [
                _as_bytes(self._store.get_sync(key, request)) if kind == "get" else bool(self._store.exists_sync(key))
                for kind, key, request in ops
            ]
        self._count_upstream(values)
        return values

    # -- reading ------------------------------------------------------------------------

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        return (await self._read([("get", validate_key(key), byte_range)]))[0]

    async def get_partial_values(
        self, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return await self._read([("get", validate_key(key), request) for key, request in key_ranges])

    async def exists(self, key: str) -> bool:
        return (await self._read([("exists", validate_key(key), None)]))[0]

    async def getsize(self, key: str) -> int:
        size = (await self._read([("size", validate_key(key), None)]))[0]
        if size == _NO_SIZE:
            raise FileNotFoundError(f"no value at key {key!r} in store {self.url}")
        return size

    getsize_prefix = Store.getsize_prefix
    is_empty = Store.is_empty

    async def list(self) -> AsyncIterator[str]:
        for name in (await self._read([("l", "", None)]))[0]:
            yield name

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        for name in (await self._read([("p", validate_prefix(prefix), None)]))[0]:
            yield name

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        for name in (await self._read([("d", normalize_prefix(prefix), None)]))[0]:
            yield name

    def get_sync(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        return self._read_sync([("get", validate_key(key), byte_range)])[0]

    def get_many_sync(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> builtins.list[Buffer | None]:
        return self._read_sync([("get", validate_key(key), request) for key, request in key_ranges])

    def exists_sync(self, key: str) -> bool:
        return self._read_sync([("exists", validate_key(key), None)])[0]

    # -- writing: upstream first, then forget every cached form of the key --------------

    async def _write_through(self, key: str, write: Callable[..., Any], *args: Any) -> None:
        """`write(key, *args)` on the store below, then forget `key` here (even if the write failed)."""
        validate_key(key)
        self._check_writable()
        try:
            await write(key, *args)
        finally:
            await self._hop(self._invalidate, [key])

    async def set(self, key: str, value: Buffer) -> None:
        await self._write_through(key, self._store.set, value)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        await self._write_through(key, self._store.set_if_not_exists, value)

    async def delete(self, key: str) -> None:
        await self._write_through(key, self._store.delete)

    async def delete_dir(self, prefix: str) -> None:
        self._check_writable()
        prefix = normalize_prefix(prefix)
        try:
            await self._store.delete_dir(prefix)
        finally:
            await self._hop(self._invalidate_prefix, prefix)

    async def clear(self) -> None:
        """Delete every key of the wrapped store (Store.clear), then forget everything cached."""
        self._check_writable()
        try:
            await self._store.clear()
        finally:
            await self._hop(self._invalidate_prefix, "")

    def set_sync(self, key: str, value: Buffer) -> None:
        validate_key(key)
        self._check_writable()
        try:
            self._store.set_sync(key, value)
        finally:
            self._invalidate([key])

    def delete_sync(self, key: str) -> None:
        validate_key(key)
        self._check_writable()
        try:
            self._store.delete_sync(key)
        finally:
            self._invalidate([key])
