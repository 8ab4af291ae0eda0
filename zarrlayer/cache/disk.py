"""DiskCacheStore: a persistent cache on local disk (diskcache), shared by processes on one host.

Entries of different stores never collide: every entry key starts with a hash of the
wrapped store's `cache_identity` (its URL, plus settings such as an endpoint that the URL
leaves out; never credentials), its namespace, so one directory can serve many datasets under one
byte budget. diskcache writes a value's file before the SQLite row that points at it,
in a transaction, so a writer killed mid-way leaves nothing that is served. Async
methods do their disk I/O in a worker thread, off the event loop.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from zarrlayer.cache._spec import parse_size
from zarrlayer.cache._tier import ABSENT, LISTING_KINDS, CacheTier, EntryKey, _payload_size, is_metadata_key
from zarrlayer.errors import StoreError, missing_dependency
from zarrlayer.storage._base import OffsetByteRequest, RangeByteRequest, Store, SuffixByteRequest
from zarrlayer.storage.wrapper import WrapperStore

__all__ = ["DiskCacheStore"]

logger = logging.getLogger(__name__)

EVICTION_POLICIES = ("least-recently-used", "least-recently-stored")


def _request_code(request: Any) -> str:
    if isinstance(request, RangeByteRequest):
        return f"{request.start}-{request.end}"
    if isinstance(request, OffsetByteRequest):
        return f"{request.offset}-"
    if isinstance(request, SuffixByteRequest):
        return f"-{request.suffix}"
    raise TypeError(f"expected a ByteRequest, found {type(request).__name__}")


def _identity(store: Store) -> str:
    """`store.cache_identity`, made unique where the URL names only an object of this process (its
    id could be reused later, and a persistent cache must never serve one store's data for another)."""
    from zarrlayer.storage.memory import MemoryStore

    inner = store
    while isinstance(inner, WrapperStore):
        inner = inner.store
    if (isinstance(inner, MemoryStore) and inner.name is None) or inner.url == Store.url.fget(inner):  # type: ignore[attr-defined]
        return f"{store.url}#{uuid.uuid4().hex}"
    return store.cache_identity


class DiskCacheStore(CacheTier):
    """A persistent cache of `store` in `directory`, holding at most `max_bytes` (int or "20 GiB").

    Several processes may open the same directory at once (dask workers on one host).
    `metadata_ttl` (seconds, None for never): metadata documents, listings and misses older
    than this are fetched again, and when a refreshed array document differs (in any process
    sharing the directory) the chunks the change can affect are dropped; `chunk_ttl` (seconds,
    None for never): chunks older than this are fetched again. `namespace` overrides the hash
    of `store.cache_identity` (URL and endpoint) that keeps datasets apart (a store known only to this process, such as an
    unnamed MemoryStore, gets a namespace of its own that no later store can reuse). `eviction_policy` is diskcache's
    "least-recently-stored" (default: a hit writes nothing, so readers in many processes
    never queue for SQLite's write lock) or "least-recently-used" (a hit records its time).
    """

    _hop_to_thread = True
    _tier_name = "disk"

    def __init__(
        self,
        store: Store,
        directory: str | os.PathLike[str],
        max_bytes: int | str,
        *,
        metadata_ttl: float | None = None,
        eviction_policy: str = "least-recently-stored",
        namespace: str | None = None,
        chunk_ttl: float | None = None,
    ) -> None:
        try:
            import diskcache
        except ImportError:
            raise missing_dependency("diskcache", "cache", "DiskCacheStore") from None
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"expected a directory path for DiskCacheStore, found {type(directory).__name__}")
        if eviction_policy not in EVICTION_POLICIES:
            raise ValueError(f"expected eviction_policy in {EVICTION_POLICIES}, found {eviction_policy!r}")
        if namespace is not None and (not isinstance(namespace, str) or not namespace or ":" in namespace):
            raise ValueError(f"expected namespace as a non-empty str without ':', found {namespace!r}")
        super().__init__(store, metadata_ttl=metadata_ttl, chunk_ttl=chunk_ttl)
        self._max_bytes = parse_size(max_bytes, "max_bytes")
        self._directory = str(Path(directory).expanduser().absolute())
        self._eviction_policy = eviction_policy
        self._namespace_given = namespace
        self._ns = namespace or hashlib.sha256(_identity(self.store).encode()).hexdigest()[:32]
        self._epoch_key = f"{self._ns}:#epoch"
        try:
            self._cache = diskcache.Cache(
                self._directory,
                size_limit=self._max_bytes,
                eviction_policy=eviction_policy,
                tag_index=True,
                cull_limit=0,
            )
        except (OSError, sqlite3.Error) as error:
            raise StoreError(
                f"expected a writable directory for the disk cache of {store.url}, "
                f"found {self._directory!r} unusable: {error}"
            ) from error

    @property
    def directory(self) -> str:
        """The cache directory."""
        return self._directory

    @property
    def max_bytes(self) -> int:
        """The budget in bytes of the whole directory (shared by every namespace in it)."""
        return self._max_bytes

    @property
    def namespace(self) -> str:
        """The prefix of this store's entries (a hash of `store.cache_identity` unless given)."""
        return self._ns

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self._store == other._store
            and self._config()[1:] == other._config()[1:]
        )

    __hash__ = CacheTier.__hash__

    def __repr__(self) -> str:
        return f"DiskCacheStore({self._store!r}, {self._directory!r}, max_bytes={self._max_bytes})"

    def _config(self) -> tuple[Any, ...]:
        return (
            self._store, self._directory, self._max_bytes, self._metadata_ttl,
            self._eviction_policy, self._namespace_given, self._chunk_ttl,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, self._config())

    def close(self) -> None:
        """Close the wrapped store and this process's handle on the cache directory (reopened on next use)."""
        super().close()
        self._cache.close()

    # -- entries ------------------------------------------------------------------------

    def _disk_key(self, entry: EntryKey) -> str:
        kind, key, request = entry
        if kind == "r":
            return f"{self._ns}:r{_request_code(request)}:{key}"
        return f"{self._ns}:{kind}:{key}"

    def _tag(self, entry: EntryKey) -> str:
        return f"{self._ns}:/" if entry[0] in LISTING_KINDS else f"{self._ns}:{entry[1]}"

    def _lookup(self, entries: Iterable[EntryKey]) -> dict[EntryKey, Any]:
        entries = list(entries)
        if self._eviction_policy == "least-recently-stored" or len(entries) < 2:
            return self._lookup_each(entries)
        with self._cache.transact(retry=True):  # one commit for the batch's access-time updates
            return self._lookup_each(entries)

    def _lookup_each(self, entries: Iterable[EntryKey]) -> dict[EntryKey, Any]:
        found: dict[EntryKey, Any] = {}
        for entry in entries:
            value = self._cache.get(self._disk_key(entry), default=ABSENT, retry=True)
            if value is not ABSENT:
                found[entry] = value
        return found

    def _epoch(self) -> int:
        epoch = self._cache.get(self._epoch_key, retry=True)
        if epoch is None:
            self._cache.add(self._epoch_key, random.getrandbits(60), retry=True)
            epoch = self._cache.get(self._epoch_key, retry=True)
        return epoch

    def _fill(self, items: Sequence[tuple[EntryKey, Any]], epoch: int) -> None:
        stored = []
        for entry, value in items:
            if _payload_size(value) > self._max_bytes:
                continue
            disk_key = self._disk_key(entry)
            self._cache.set(disk_key, value, expire=self._expiry(entry, value), tag=self._tag(entry), retry=True)
            stored.append(disk_key)
        if stored and self._cache.get(self._epoch_key, retry=True) != epoch:
            for disk_key in stored:
                self._cache.delete(disk_key, retry=True)
        if self._cache.volume() > self._max_bytes:
            evicted = self._cache.cull(retry=True)
            self._counters.add(evictions=evicted)
            logger.debug("disk cache of %s in %s evicted %d entries to stay within %d bytes",
                         self.url, self._directory, evicted, self._max_bytes)

    def _bump(self) -> None:
        self._cache.incr(self._epoch_key, default=random.getrandbits(60), retry=True)

    def _invalidate(self, keys: Sequence[str]) -> None:
        self._bump()
        for key in keys:
            self._cache.evict(f"{self._ns}:{key}", retry=True)
        self._cache.evict(f"{self._ns}:/", retry=True)

    def _own_entries(self) -> Iterator[tuple[str, str, str]]:
        """(disk key, kind, store key) of every entry of this namespace but its epoch marker (a snapshot)."""
        start = f"{self._ns}:"
        for disk_key in list(self._cache.iterkeys()):
            if isinstance(disk_key, str) and disk_key.startswith(start) and disk_key != self._epoch_key:
                kind, _, key = disk_key[len(start):].partition(":")
                yield disk_key, kind, key

    def _invalidate_prefix(self, prefix: str) -> None:
        self._bump()
        for disk_key, kind, key in self._own_entries():
            if kind[0] not in LISTING_KINDS and key.startswith(prefix):
                self._cache.delete(disk_key, retry=True)
        self._cache.evict(f"{self._ns}:/", retry=True)

    def _drop_matching(self, prefix: str, stale: Callable[[str], bool]) -> None:
        self._bump()
        for disk_key, kind, key in self._own_entries():
            if kind[0] in LISTING_KINDS or not key.startswith(prefix) or is_metadata_key(key):
                continue
            if stale(key[len(prefix):]):
                self._cache.delete(disk_key, retry=True)

    def _drop_all(self) -> None:
        self._bump()
        for disk_key, _kind, _key in self._own_entries():
            self._cache.delete(disk_key, retry=True)

    def _held(self) -> dict[str, Any]:
        return {
            "bytes": _value_bytes(self._directory),
            "disk_bytes": self._cache.volume(),
            "entries": len(self._cache),
            "max_bytes": self._max_bytes,
            "directory": self._directory,
        }


# Inline values are SQLite blobs (their length); larger ones live in files (diskcache's `size` column).
VALUE_BYTES_SQL = (
    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN filename IS NOT NULL THEN size"
    " WHEN typeof(value) IN ('blob', 'text') THEN LENGTH(CAST(value AS BLOB)) ELSE 0 END), 0) FROM Cache"
)


def _value_bytes(directory: str) -> int:
    """The bytes of the values cached in `directory` (what `max_bytes` budgets, less SQLite's own pages)."""
    with closing(sqlite3.connect(os.path.join(directory, "cache.db"), timeout=60)) as con:
        return int(con.execute(VALUE_BYTES_SQL).fetchone()[1])


def _rebuild(
    store: Store,
    directory: str,
    max_bytes: int,
    metadata_ttl: float | None,
    eviction_policy: str,
    namespace: str | None,
    chunk_ttl: float | None = None,
) -> DiskCacheStore:
    return DiskCacheStore(
        store,
        directory,
        max_bytes,
        metadata_ttl=metadata_ttl,
        eviction_policy=eviction_policy,
        namespace=namespace,
        chunk_ttl=chunk_ttl,
    )
