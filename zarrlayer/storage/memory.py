"""MemoryStore: a store over a plain dict of immutable bytes, and named process-wide stores.

Values are always copied to `bytes` on `set`, so the user's dict is a real snapshot of the
hierarchy: it pickles, compares and survives later changes to the caller's buffers.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any, Self

from zarrlayer.storage._base import (
    Buffer,
    ByteRequest,
    SyncStore,
    apply_byte_request,
    direct_children,
    normalize_prefix,
    validate_key,
    validate_prefix,
)
from zarrlayer.storage._buffers import to_bytes

__all__ = ["MemoryStore"]

_registry_lock = threading.Lock()
_registry: dict[str, dict[str, bytes]] = {}


class MemoryStore(SyncStore):
    """A store over `store_dict` (a new dict when None), keeping plain `bytes` values in it.

    Two MemoryStores are equal when they share the same dict (and read-only flag). A plain
    store pickles a snapshot of its dict; a named store (`MemoryStore.named`, or the URL
    `memory://NAME`) pickles its name and resolves to the process-wide dict of that name.
    """

    def __init__(self, store_dict: dict[str, bytes] | None = None, *, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        if store_dict is None:
            store_dict = {}
        elif not isinstance(store_dict, dict):
            raise TypeError(f"expected a dict for MemoryStore, found {type(store_dict).__name__}")
        self._data = store_dict
        self._name: str | None = None

    @classmethod
    def named(cls, name: str, *, read_only: bool = False) -> MemoryStore:
        """The process-wide store called `name` (created empty on first use); `memory://NAME` resolves here."""
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"expected a non-empty memory store name without '/', found {name!r}")
        with _registry_lock:
            data = _registry.setdefault(name, {})
        store = cls(data, read_only=read_only)
        store._name = name
        return store

    @staticmethod
    def is_named(name: str) -> bool:
        """Whether a process-wide store called `name` has been created."""
        with _registry_lock:
            return name in _registry

    @staticmethod
    def drop_named(name: str) -> None:
        """Forget the process-wide store called `name` (stores already holding it keep its dict)."""
        with _registry_lock:
            _registry.pop(name, None)

    @property
    def store_dict(self) -> dict[str, bytes]:
        """The dict this store reads and writes."""
        return self._data

    @property
    def name(self) -> str | None:
        """The process-wide name, or None for a store over a private dict."""
        return self._name

    @property
    def url(self) -> str:
        return f"memory://{self._name}" if self._name is not None else f"memory://{id(self._data):x}"

    def with_read_only(self, read_only: bool = False) -> Self:
        clone = type(self)(self._data, read_only=read_only)
        clone._name = self._name
        return clone

    def __eq__(self, other: object) -> bool:
        """Equal when both hold the same snapshot: the same dict, or equal contents (a pickled copy)."""
        return (
            isinstance(other, MemoryStore)
            and other.read_only == self.read_only
            and other._name == self._name
            and (other._data is self._data or other._data == self._data)
        )

    def __hash__(self) -> int:
        return hash((MemoryStore, self._name, self.read_only))

    def __reduce__(self) -> tuple[Any, ...]:
        if self._name is not None:
            return (_unpickle_named, (self._name, self.read_only))
        return (type(self), (dict(self._data),), {"_read_only": self.read_only})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._read_only = state["_read_only"]

    # -- synchronous fast path --------------------------------------------------------

    def get_sync(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        value = self._data.get(validate_key(key))
        if value is None or byte_range is None:
            return value
        return apply_byte_request(value, byte_range)

    def get_many_sync(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        return [self.get_sync(k, r) for k, r in key_ranges]

    def exists_sync(self, key: str) -> bool:
        return validate_key(key) in self._data

    def set_sync(self, key: str, value: Buffer) -> None:
        validate_key(key)
        self._check_writable()
        self._data[key] = to_bytes(value, key=key, url=self.url)

    def delete_sync(self, key: str) -> None:
        validate_key(key)
        self._check_writable()
        self._data.pop(key, None)

    # -- async API (get, exists and delete come from SyncStore) -------------------------

    async def set(self, key: str, value: Buffer, byte_range: tuple[int, int] | None = None) -> None:
        """Store `value` at `key`; with `byte_range=(start, end)`, replace those bytes of the existing
        value instead (zarr-python's MemoryStore.set; `value` must be `end - start` bytes long)."""
        if byte_range is None:
            self.set_sync(key, value)
            return
        validate_key(key)
        self._check_writable()
        new = to_bytes(value, key=key, url=self.url)
        start, end = byte_range
        old = self._data.get(key)
        if old is None:
            raise KeyError(f"no value at key {key!r} in store {self.url} to write bytes {start}:{end} into")
        if not 0 <= start <= end <= len(old) or end - start != len(new):
            raise ValueError(
                f"expected {end - start} bytes for range {start}:{end} of the {len(old)}-byte value at key "
                f"{key!r} in store {self.url}, found {len(new)} bytes"
            )
        self._data[key] = old[:start] + new + old[end:]

    async def getsize(self, key: str) -> int:
        value = self._data.get(validate_key(key))
        if value is None:
            raise FileNotFoundError(f"no value at key {key!r} in store {self.url}")
        return len(value)

    async def getsize_prefix(self, prefix: str) -> int:
        validate_prefix(prefix)
        return sum(len(v) for k, v in list(self._data.items()) if k.startswith(prefix))

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        validate_key(key)
        self._check_writable()
        self._data.setdefault(key, to_bytes(value, key=key, url=self.url))

    async def delete_dir(self, prefix: str) -> None:
        prefix = normalize_prefix(prefix)
        self._check_writable()
        if not prefix:
            self._data.clear()
            return
        for key in [k for k in list(self._data) if k.startswith(prefix)]:
            self._data.pop(key, None)

    async def clear(self) -> None:
        self._check_writable()
        self._data.clear()

    async def is_empty(self, prefix: str = "") -> bool:
        prefix = normalize_prefix(prefix)
        return not any(k.startswith(prefix) for k in list(self._data))

    async def list(self) -> AsyncIterator[str]:
        for key in list(self._data):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        validate_prefix(prefix)
        for key in list(self._data):
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        for child in direct_children(list(self._data), normalize_prefix(prefix)):
            yield child


def _unpickle_named(name: str, read_only: bool) -> MemoryStore:
    return MemoryStore.named(name, read_only=read_only)
