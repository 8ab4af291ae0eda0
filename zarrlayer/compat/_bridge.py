"""BridgeStore: a `zarr.abc.store.Store` over any zarrlayer store or cache stack.

zarr-python, xarray's engine="zarr" and dask.array.from_zarr/to_zarr then read and write
through zarrlayer's stores and caches. The bridge keeps zarr-python's contract, not ours,
where the two differ: zarr's Buffer/BufferPrototype values and ByteRequest classes, its
read-only ValueError, its `_open`/`close` lifecycle and its `with_read_only` default.
This module imports zarr at import time; `zarrlayer.compat` imports it only when used.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import Any, NoReturn, Self

from zarr.abc.store import OffsetByteRequest as ZarrOffsetByteRequest
from zarr.abc.store import RangeByteRequest as ZarrRangeByteRequest
from zarr.abc.store import Store as ZarrStore
from zarr.abc.store import SuffixByteRequest as ZarrSuffixByteRequest
from zarr.core.buffer import Buffer as ZarrBuffer
from zarr.core.buffer import BufferPrototype, default_buffer_prototype

from zarrlayer.compat._errors import BridgeReadOnlyError, bridge_read_only_error
from zarrlayer.errors import InvalidByteRangeError, ReadOnlyError
from zarrlayer.storage._base import ByteRequest, OffsetByteRequest, RangeByteRequest, Store, SuffixByteRequest

__all__ = ["BridgeStore", "SyncBridgeStore", "to_zarrlayer_request"]


def to_zarrlayer_request(byte_range: Any) -> ByteRequest | None:
    """zarr-python's ByteRequest (or None) as zarrlayer's; InvalidByteRangeError for anything else."""
    if byte_range is None:
        return None
    if isinstance(byte_range, ZarrRangeByteRequest):
        return RangeByteRequest(byte_range.start, byte_range.end)
    if isinstance(byte_range, ZarrOffsetByteRequest):
        return OffsetByteRequest(byte_range.offset)
    if isinstance(byte_range, ZarrSuffixByteRequest):
        return SuffixByteRequest(byte_range.suffix)
    if isinstance(byte_range, RangeByteRequest | OffsetByteRequest | SuffixByteRequest):
        return byte_range
    raise InvalidByteRangeError(
        f"Unexpected byte_range, got {byte_range!r}; expected None or a zarr.abc.store "
        "RangeByteRequest, OffsetByteRequest or SuffixByteRequest"
    )


def _to_bytes_like(value: Any, store: Store) -> memoryview:
    """The bytes of zarr Buffer `value`, without a copy for host memory."""
    if not isinstance(value, ZarrBuffer):
        raise TypeError(
            f"Store.set(): `value` must be a Buffer instance. Got an instance of {type(value)} instead "
            f"(zarr-python bridge over zarrlayer store {store.url})."
        )
    return memoryview(value.as_numpy_array()).cast("B")


class BridgeStore(ZarrStore):
    """A zarr-python store over the zarrlayer store `store` (any store, wrapper or cache stack).

    `read_only=None` keeps `store`'s mode; True or False gives a view with that mode.
    The bridge pickles to the store it wraps, so dask workers get the same configuration.
    Writes to a read-only bridge raise BridgeReadOnlyError, a ValueError as in zarr-python.
    """

    def __new__(cls, store: Store, *, read_only: bool | None = None) -> BridgeStore:
        if cls is BridgeStore and isinstance(store, Store) and store.supports_sync:
            cls = SyncBridgeStore
        return object.__new__(cls)

    def __init__(self, store: Store, *, read_only: bool | None = None) -> None:
        if not isinstance(store, Store):
            raise TypeError(
                f"as_zarr_store expects a zarrlayer Store (or a cache stack), found {type(store).__name__}"
            )
        if read_only is not None and bool(read_only) != store.read_only:
            store = store.with_read_only(bool(read_only))
        super().__init__(read_only=store.read_only)
        self._store = store

    # -- identity ---------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The zarrlayer store underneath."""
        return self._store

    @property
    def read_only(self) -> bool:
        return self._store.read_only

    @property
    def url(self) -> str:
        """The wrapped store's URL (never with credentials)."""
        return self._store.url

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BridgeStore) and other._store == self._store and other.read_only == self.read_only

    def __hash__(self) -> int:
        return hash((BridgeStore, self._store))

    def __repr__(self) -> str:
        return f"BridgeStore({self._store!r})"

    def __str__(self) -> str:
        return self._store.url

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._store,))

    def __dask_tokenize__(self) -> tuple[object, ...]:
        return ("zarrlayer-bridge", self._store.__dask_tokenize__())

    def with_read_only(self, read_only: bool = False) -> BridgeStore:
        """A bridge (not yet open) over the same location with the given mode."""
        return BridgeStore(self._store.with_read_only(read_only))

    # -- capabilities -----------------------------------------------------------------

    @property
    def supports_writes(self) -> bool:
        return bool(self._store.supports_writes)

    @property
    def supports_deletes(self) -> bool:
        return bool(self._store.supports_deletes)

    @property
    def supports_listing(self) -> bool:
        return bool(self._store.supports_listing)

    @property
    def supports_partial_writes(self) -> bool:  # type: ignore[override]
        return False

    @property
    def supports_consolidated_metadata(self) -> bool:
        return bool(getattr(self._store, "supports_consolidated_metadata", True))

    # -- lifecycle ----------------------------------------------------------------------

    async def _open(self) -> None:
        if self._is_open:
            raise ValueError("store is already open")
        await self._store._ensure_open()
        self._is_open = True

    def close(self) -> None:
        """Close the wrapped store (a ZipStore below is a complete archive when this returns)."""
        self._store.close()
        self._is_open = False

    def _check_writable(self) -> None:
        if self.read_only:
            raise bridge_read_only_error(self._store.url)

    def _refused(self, err: ReadOnlyError) -> NoReturn:
        raise BridgeReadOnlyError(
            f"store was opened in read-only mode and does not support writing ({err})"
        ) from err

    # -- reading --------------------------------------------------------------------------

    async def get(
        self, key: str, prototype: BufferPrototype | None = None, byte_range: Any = None
    ) -> ZarrBuffer | None:
        request = to_zarrlayer_request(byte_range)
        value = await self._store.get(key, request)
        if value is None:
            return None
        return (prototype or default_buffer_prototype()).buffer.from_bytes(value)

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, Any]]
    ) -> list[ZarrBuffer | None]:
        pairs = [(key, to_zarrlayer_request(r)) for key, r in key_ranges]
        values = await self._store.get_partial_values(pairs)
        make = (prototype or default_buffer_prototype()).buffer.from_bytes
        return [None if v is None else make(v) for v in values]

    async def _get_many(
        self, requests: Iterable[tuple[str, BufferPrototype, Any]]
    ) -> AsyncGenerator[tuple[str, ZarrBuffer | None], None]:
        requests = list(requests)
        values = await self._store.get_partial_values([(k, to_zarrlayer_request(r)) for k, _, r in requests])
        for (key, prototype, _), value in zip(requests, values, strict=True):
            yield key, None if value is None else prototype.buffer.from_bytes(value)

    async def exists(self, key: str) -> bool:
        return await self._store.exists(key)

    async def getsize(self, key: str) -> int:
        return await self._store.getsize(key)

    async def getsize_prefix(self, prefix: str) -> int:
        """The total size under the directory `prefix` ("c" counts "c/0", never "cc/0", as zarr-python 3.4)."""
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return await self._store.getsize_prefix(prefix)

    async def is_empty(self, prefix: str) -> bool:
        return await self._store.is_empty(prefix)

    # -- writing --------------------------------------------------------------------------

    async def set(self, key: str, value: ZarrBuffer) -> None:
        self._check_writable()
        data = _to_bytes_like(value, self._store)
        try:
            await self._store.set(key, data)
        except ReadOnlyError as err:
            self._refused(err)

    async def set_if_not_exists(self, key: str, value: ZarrBuffer) -> None:
        self._check_writable()
        data = _to_bytes_like(value, self._store)
        try:
            await self._store.set_if_not_exists(key, data)
        except ReadOnlyError as err:
            self._refused(err)

    async def delete(self, key: str) -> None:
        self._check_writable()
        try:
            await self._store.delete(key)
        except ReadOnlyError as err:
            self._refused(err)

    async def delete_dir(self, prefix: str) -> None:
        self._check_writable()
        try:
            await self._store.delete_dir(prefix)
        except ReadOnlyError as err:
            self._refused(err)

    async def clear(self) -> None:
        self._check_writable()
        try:
            await self._store.clear()
        except ReadOnlyError as err:
            self._refused(err)

    # -- listing ----------------------------------------------------------------------------

    async def list(self) -> AsyncIterator[str]:
        async for key in self._store.list():
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        async for key in self._store.list_prefix(prefix):
            yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        async for key in self._store.list_dir(prefix):
            yield key


class SyncBridgeStore(BridgeStore):
    """A BridgeStore over a store with a synchronous fast path (memory, local, zip): it also
    implements zarr-python's SupportsSyncStore protocol (`get_sync`, `set_sync`, `delete_sync`)."""

    def get_sync(
        self, key: str, *, prototype: BufferPrototype | None = None, byte_range: Any = None
    ) -> ZarrBuffer | None:
        """`get` without an event loop."""
        value = self._store.get_sync(key, to_zarrlayer_request(byte_range))
        if value is None:
            return None
        return (prototype or default_buffer_prototype()).buffer.from_bytes(value)

    def set_sync(self, key: str, value: ZarrBuffer) -> None:
        """`set` without an event loop."""
        self._check_writable()
        data = _to_bytes_like(value, self._store)
        try:
            self._store.set_sync(key, data)
        except ReadOnlyError as err:
            self._refused(err)

    def delete_sync(self, key: str) -> None:
        """`delete` without an event loop."""
        self._check_writable()
        try:
            self._store.delete_sync(key)
        except ReadOnlyError as err:
            self._refused(err)


def _rebuild(store: Store) -> BridgeStore:
    return BridgeStore(store)
