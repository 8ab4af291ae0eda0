"""A custom zarrlayer store backed by one SQLite file, and how to prove it keeps the contract.

Writing a store means subclassing `zarrlayer.storage.Store` (here `SyncStore`, the base for
stores whose I/O is local: its async API runs the `*_sync` methods): validate every key, refuse
writes before any I/O when read-only, return None for missing keys, slice byte ranges like
Python does, and pickle to something that reopens the same location. Then subclass
`zarrlayer.testing.StoreTests` in your test suite (see tests/storage/test_custom_store.py).

    python examples/custom_store.py          # a short demonstration
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
from collections.abc import AsyncIterator, Iterable
from typing import Any, Self

from zarrlayer.storage import (
    Buffer,
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
    SyncStore,
    direct_children,
    normalize_prefix,
    validate_key,
    validate_prefix,
)

__all__ = ["SQLiteStore"]

_SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"


class SQLiteStore(SyncStore):
    """Every key a row of one SQLite table; byte ranges are cut by SQLite's substr, not in Python."""

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        self._path = os.path.realpath(os.fspath(path))
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            self._db.execute(_SCHEMA)
        return self._db

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn().execute(sql, tuple(params)).fetchall()

    @property
    def url(self) -> str:
        return f"sqlite://{self._path}"

    def with_read_only(self, read_only: bool = False) -> Self:
        return type(self)(self._path, read_only=read_only)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SQLiteStore) and (other._path, other.read_only) == (self._path, self.read_only)

    def __hash__(self) -> int:
        return hash((SQLiteStore, self._path))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._path,), {"_read_only": self.read_only})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._read_only = state["_read_only"]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
        self._is_open = False

    # -- reading: the sync fast path does the work; SyncStore's async get and exists call it

    def get_sync(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        validate_key(key)
        if byte_range is None:
            rows = self._query("SELECT value FROM kv WHERE key = ?", (key,))
        elif isinstance(byte_range, RangeByteRequest):
            length = byte_range.end - byte_range.start
            rows = self._query("SELECT substr(value, ?, ?) FROM kv WHERE key = ?", (byte_range.start + 1, length, key))
        elif isinstance(byte_range, OffsetByteRequest):
            rows = self._query("SELECT substr(value, ?) FROM kv WHERE key = ?", (byte_range.offset + 1, key))
        elif isinstance(byte_range, SuffixByteRequest):
            if byte_range.suffix == 0:
                rows = self._query("SELECT x'' FROM kv WHERE key = ?", (key,))
            else:
                rows = self._query("SELECT substr(value, ?) FROM kv WHERE key = ?", (-byte_range.suffix, key))
        else:
            raise TypeError(f"expected a ByteRequest or None, found {type(byte_range).__name__}")
        return bytes(rows[0][0] or b"") if rows else None

    def exists_sync(self, key: str) -> bool:
        return bool(self._query("SELECT 1 FROM kv WHERE key = ?", (validate_key(key),)))

    async def getsize(self, key: str) -> int:
        rows = self._query("SELECT length(value) FROM kv WHERE key = ?", (validate_key(key),))
        if not rows:
            raise FileNotFoundError(f"no value at key {key!r} in store {self.url}")
        return rows[0][0]

    # -- writing -------------------------------------------------------------------------

    def _value(self, key: str, value: Buffer) -> bytes:
        validate_key(key)
        self._check_writable()
        try:
            return bytes(memoryview(value).cast("B")) if not isinstance(value, bytes) else value
        except TypeError:
            raise TypeError(f"expected a bytes-like value for key {key!r}, found {type(value).__name__}") from None

    def set_sync(self, key: str, value: Buffer) -> None:
        data = self._value(key, value)
        self._query("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, data))

    def delete_sync(self, key: str) -> None:
        validate_key(key)
        self._check_writable()
        self._query("DELETE FROM kv WHERE key = ?", (key,))

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        data = self._value(key, value)
        self._query("INSERT OR IGNORE INTO kv (key, value) VALUES (?, ?)", (key, data))

    async def delete_dir(self, prefix: str) -> None:
        prefix = normalize_prefix(prefix)
        self._check_writable()
        self._query("DELETE FROM kv WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))

    # -- listing -------------------------------------------------------------------------

    def _keys(self, prefix: str) -> list[str]:
        rows = self._query("SELECT key FROM kv WHERE substr(key, 1, ?) = ? ORDER BY key", (len(prefix), prefix))
        return [row[0] for row in rows]

    async def list(self) -> AsyncIterator[str]:
        for key in self._keys(""):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        for key in self._keys(validate_prefix(prefix)):
            yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = normalize_prefix(prefix)
        for child in direct_children(self._keys(prefix), prefix):
            yield child


def _demo() -> None:
    import pickle

    from zarrlayer.core.sync import sync

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(os.path.join(tmp, "hierarchy.sqlite"))
        sync(store.set("zarr.json", b'{"zarr_format": 3, "node_type": "group"}'))
        for i in range(4):
            sync(store.set(f"temperature/c/{i}", bytes(range(i * 10, i * 10 + 10))))
        print("store:", store)
        print("keys:", sync(_collect(store.list())))
        print("children of temperature/c:", sync(_collect(store.list_dir("temperature/c"))))
        print("bytes 2..5 of chunk 3:", sync(store.get("temperature/c/3", RangeByteRequest(2, 5))))
        copy = pickle.loads(pickle.dumps(store.with_read_only(True)))
        print("a pickled read-only copy reads:", sync(copy.get("zarr.json")))
        try:
            sync(copy.set("zarr.json", b"{}"))
        except PermissionError as e:
            print("and refuses writes:", e)
        store.close()
        copy.close()


async def _collect(items: AsyncIterator[str]) -> list[str]:
    return [item async for item in items]


if __name__ == "__main__":
    _demo()
