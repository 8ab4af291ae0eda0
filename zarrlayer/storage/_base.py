"""The Store contract: async bytes in, bytes out, keyed by validated relative paths.

Names follow zarr-python 3's Store so that users' knowledge carries over. Stores whose
I/O is local (memory, local directory, zip) also offer a synchronous fast path
(`supports_sync` and the `*_sync` methods) so that the chunk engine can read many small
chunks without an event-loop hop per chunk.
"""

from __future__ import annotations

import asyncio
import builtins
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeAlias

from zarrlayer.errors import InvalidByteRangeError, InvalidKeyError, ReadOnlyError

__all__ = [
    "Buffer",
    "ByteRequest",
    "OffsetByteRequest",
    "RangeByteRequest",
    "Store",
    "SuffixByteRequest",
    "SyncStore",
    "apply_byte_request",
    "direct_children",
    "empty_request",
    "normalize_prefix",
    "validate_key",
    "validate_keys",
    "validate_prefix",
]

Buffer: TypeAlias = "bytes | bytearray | memoryview"


@dataclass(frozen=True, slots=True)
class RangeByteRequest:
    """The bytes `value[start:end]`."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (isinstance(self.start, int) and isinstance(self.end, int)):
            raise InvalidByteRangeError(f"byte range bounds must be ints, found {self.start!r}, {self.end!r}")
        if self.start < 0 or self.end < self.start:
            raise InvalidByteRangeError(
                f"expected 0 <= start <= end for a byte range, found start={self.start}, end={self.end}"
            )


@dataclass(frozen=True, slots=True)
class OffsetByteRequest:
    """The bytes `value[offset:]`."""

    offset: int

    def __post_init__(self) -> None:
        if not isinstance(self.offset, int) or self.offset < 0:
            raise InvalidByteRangeError(f"expected a non-negative int offset, found {self.offset!r}")


@dataclass(frozen=True, slots=True)
class SuffixByteRequest:
    """The bytes `value[-suffix:]` (the whole value when it is shorter; nothing for 0)."""

    suffix: int

    def __post_init__(self) -> None:
        if not isinstance(self.suffix, int) or self.suffix < 0:
            raise InvalidByteRangeError(f"expected a non-negative int suffix, found {self.suffix!r}")


ByteRequest: TypeAlias = "RangeByteRequest | OffsetByteRequest | SuffixByteRequest"


def byte_request_slice(request: ByteRequest | None, size: int) -> tuple[int, int]:
    """The `(start, stop)` that `request` selects from a value of `size` bytes, clamped like slicing."""
    if request is None:
        return 0, size
    if isinstance(request, RangeByteRequest):
        return min(request.start, size), min(request.end, size)
    if isinstance(request, OffsetByteRequest):
        return min(request.offset, size), size
    if isinstance(request, SuffixByteRequest):
        return (max(size - request.suffix, 0) if request.suffix else size), size
    raise TypeError(f"expected a ByteRequest or None, found {type(request).__name__}")


def apply_byte_request(value: Buffer, request: ByteRequest | None) -> Buffer:
    """`value` sliced as `request` says (Python slicing semantics)."""
    if request is None:
        return value
    start, stop = byte_request_slice(request, len(value))
    return value[start:stop]


def empty_request(request: ByteRequest | None) -> bool:
    """Whether `request` selects no bytes whatever the value (its answer only says if the key exists)."""
    return (isinstance(request, RangeByteRequest) and request.start == request.end) or (
        isinstance(request, SuffixByteRequest) and request.suffix == 0
    )


def direct_children(keys: Iterable[str], prefix: str) -> list[str]:
    """The distinct names directly under the directory `prefix` ('' or ending in '/') among `keys`, first seen first."""
    return list(dict.fromkeys(key[len(prefix):].split("/", 1)[0] for key in keys if key.startswith(prefix)))


def validate_key(key: str) -> str:
    """Return `key` if it is a valid store key, else raise InvalidKeyError before any I/O."""
    if not isinstance(key, str):
        raise InvalidKeyError(f"expected a str store key, found {type(key).__name__}: {key!r}")
    if not key:
        raise InvalidKeyError("expected a non-empty store key, found ''")
    if "\\" in key or "\x00" in key:
        raise InvalidKeyError(f"store keys may not contain a backslash or NUL, found {key!r}")
    if key.startswith("/"):
        raise InvalidKeyError(f"store keys are relative and may not start with '/', found {key!r}")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKeyError(
                f"store keys may not contain empty, '.' or '..' segments, found {key!r}"
            )
    return key


def validate_keys(keys: Sequence[str]) -> None:
    """`validate_key` for every key of a batch, by a few substring searches over their newline-joined text.

    About 0.08 µs a key against 0.4 µs for `validate_key` one by one. Sound by construction:
    in the joined text each key starts at its start or after a newline and ends at its end or
    before one, so every empty, '.' or '..' segment and every leading or trailing '/' of a key
    shows as one of the searched pairs ('//', '/' or newline next to a newline, a '.' after
    '/' or a newline, or at an end of the text); backslash and NUL are searched for directly.
    Any hit (also harmless ones: a segment like '.zattrs', a newline inside a key) or a non-str
    key sends the batch through `validate_key` one by one, which raises InvalidKeyError naming
    the bad key before any I/O.
    """
    try:
        joined = "\n".join(keys)
    except TypeError:
        joined = None
    if (
        joined is None
        or "\\" in joined
        or "\x00" in joined
        or "//" in joined
        or "/\n" in joined
        or "\n/" in joined
        or "\n\n" in joined
        or "/." in joined
        or "\n." in joined
        or joined[:1] in ("", "/", ".", "\n")
        or joined[-1:] in ("/", "\n")
    ):
        for key in keys:
            validate_key(key)


def validate_prefix(prefix: str) -> str:
    """Return `prefix` ('' for the root, else a valid key optionally ending in '/')."""
    if not isinstance(prefix, str):
        raise InvalidKeyError(f"expected a str prefix, found {type(prefix).__name__}: {prefix!r}")
    if prefix == "":
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def normalize_prefix(prefix: str) -> str:
    """A validated directory prefix: '' for the root, else ending in exactly one '/'."""
    validate_prefix(prefix)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix


class Store(ABC):
    """An async key-value store of bytes; see DESIGN.md for the contracts every store keeps."""

    supports_writes: bool = True
    supports_deletes: bool = True
    supports_listing: bool = True
    supports_partial_writes: bool = False
    supports_consolidated_metadata: bool = True
    supports_sync: bool = False
    """True when the `*_sync` methods do local I/O without an event loop."""

    def __init__(self, *, read_only: bool = False) -> None:
        self._read_only = bool(read_only)
        self._is_open = False

    # -- identity -------------------------------------------------------------------

    @property
    def read_only(self) -> bool:
        """Whether every write, delete and clear raises ReadOnlyError."""
        return self._read_only

    @property
    def url(self) -> str:
        """A URL that names the store's location, never with credentials (used in errors and caches)."""
        return f"{type(self).__name__.lower()}://{id(self):x}"

    @property
    def cache_identity(self) -> str:
        """What names this store's data in a persistent cache: `url`, plus any setting it leaves out (an endpoint)."""
        return self.url

    def __dask_tokenize__(self) -> tuple[str, ...]:
        """dask's deterministic name for the store: its kind and location (not its mode; never credentials)."""
        return ("zarrlayer-store", type(self).__qualname__, self.cache_identity)

    @abstractmethod
    def with_read_only(self, read_only: bool = False) -> Self:
        """A store over the same location with the given read-only flag (writable by default, as zarr-python)."""

    @abstractmethod
    def __eq__(self, other: object) -> bool: ...

    def __hash__(self) -> int:
        return hash((type(self), self.url))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, read_only={self.read_only})"

    # -- lifecycle (zarr-python 3's) ----------------------------------------------------

    @classmethod
    async def open(cls, *args: Any, **kwargs: Any) -> Self:
        """Construct a store from `cls(*args, **kwargs)` and open it (zarr-python's `await Store.open(...)`)."""
        store = cls(*args, **kwargs)
        await store._open()
        return store

    async def _open(self) -> None:
        """Acquire what the store needs; ValueError if it is already open (as zarr-python)."""
        if self._is_open:
            raise ValueError(f"store {self.url} is already open")
        self._is_open = True

    async def _ensure_open(self) -> None:
        """Open the store unless it is open."""
        if not self._is_open:
            await self._open()

    def close(self) -> None:
        """Release what the store holds and leave what it wrote durable (idempotent, synchronous).

        Stores open lazily: a closed store still serves later calls, reopening what it needs.
        """
        self._is_open = False

    async def aclose(self) -> None:
        """`close()` in a worker thread, for async code that must not block its loop."""
        await asyncio.to_thread(self.close)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        await self._ensure_open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _check_writable(self) -> None:
        if self._read_only:
            raise ReadOnlyError(f"store {self.url} is read-only; open it with a writable mode to change it")

    # -- reading --------------------------------------------------------------------

    @abstractmethod
    async def get(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        """The value (or the requested bytes of it) at `key`, or None when missing."""

    async def get_partial_values(
        self, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        """`get` for many (key, range) pairs, in order; None for each missing key."""
        return list(await asyncio.gather(*(self.get(k, r) for k, r in key_ranges)))

    @abstractmethod
    async def exists(self, key: str) -> bool:
        """Whether `key` holds a value."""

    async def getsize(self, key: str) -> int:
        """The size in bytes of the value at `key`; FileNotFoundError when missing."""
        value = await self.get(key)
        if value is None:
            raise FileNotFoundError(f"no value at key {key!r} in store {self.url}")
        return len(value)

    async def getsize_prefix(self, prefix: str) -> int:
        """The total size of every value under `prefix`."""
        keys = [k async for k in self.list_prefix(prefix)]
        sizes = await asyncio.gather(*(self.getsize(k) for k in keys))
        return sum(sizes)

    # -- writing --------------------------------------------------------------------

    @abstractmethod
    async def set(self, key: str, value: Buffer) -> None:
        """Store `value` at `key`, replacing any value there."""

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        """Store `value` at `key` unless a value is there (atomic where the backend allows)."""
        if not await self.exists(key):
            await self.set(key, value)

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove `key`; a missing key is a no-op."""

    async def delete_dir(self, prefix: str) -> None:
        """Remove every key under the directory `prefix`."""
        self._check_writable()
        prefix = normalize_prefix(prefix)
        keys = [k async for k in self.list_prefix(prefix)]
        await asyncio.gather(*(self.delete(k) for k in keys))

    async def clear(self) -> None:
        """Remove every key in the store."""
        self._check_writable()
        await self.delete_dir("")

    async def is_empty(self, prefix: str = "") -> bool:
        """Whether no key lies under the directory `prefix`."""
        async for _ in self.list_prefix(normalize_prefix(prefix)):
            return False
        return True

    # -- listing --------------------------------------------------------------------

    @abstractmethod
    def list(self) -> AsyncIterator[str]:
        """Every key in the store."""

    @abstractmethod
    def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """Every key (relative to the store root) that starts with `prefix`."""

    @abstractmethod
    def list_dir(self, prefix: str) -> AsyncIterator[str]:
        """The names of the keys and sub-directories directly under the directory `prefix`."""

    # -- synchronous fast path (supports_sync stores only) ----------------------------

    def get_sync(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        """Synchronous `get`, for stores with `supports_sync`."""
        raise NotImplementedError(f"{type(self).__name__} has no synchronous fast path")

    def get_many_sync(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> builtins.list[Buffer | None]:
        """Synchronous `get_partial_values`, for stores with `supports_sync`."""
        return [self.get_sync(k, r) for k, r in key_ranges]

    def set_sync(self, key: str, value: Buffer) -> None:
        """Synchronous `set`, for stores with `supports_sync`."""
        raise NotImplementedError(f"{type(self).__name__} has no synchronous fast path")

    def delete_sync(self, key: str) -> None:
        """Synchronous `delete`, for stores with `supports_sync`."""
        raise NotImplementedError(f"{type(self).__name__} has no synchronous fast path")

    def exists_sync(self, key: str) -> bool:
        """Synchronous `exists`, for stores with `supports_sync`."""
        raise NotImplementedError(f"{type(self).__name__} has no synchronous fast path")


def describe(value: Any) -> str:
    """A short description of a value for error messages (never its contents)."""
    return f"{type(value).__name__} of {len(value)} bytes" if hasattr(value, "__len__") else type(value).__name__


class SyncStore(Store):
    """A store whose I/O is local and quick: the async reads and writes run its `*_sync` methods inline."""

    supports_sync = True

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        return self.get_sync(key, byte_range)

    async def get_partial_values(
        self, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return self.get_many_sync(list(key_ranges))

    async def exists(self, key: str) -> bool:
        return self.exists_sync(key)

    async def set(self, key: str, value: Buffer) -> None:
        self.set_sync(key, value)

    async def delete(self, key: str) -> None:
        self.delete_sync(key)
