"""ZarrPythonStore: a zarrlayer Store over a zarr-python store object (the other way of the bridge).

zarrlayer's open and create functions, caches, xarray engine and dask entry points wrap a
zarr-python store in this adapter, so `zarrlayer.open_group(zarr.storage.LocalStore(...))`
and `MemoryCacheStore(zarr.storage.FsspecStore(...))` work. zarr is imported only when
one of these is made (the caller already holds a zarr store, so zarr is loaded).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any, Self

from zarrlayer.storage._base import (
    Buffer,
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
    apply_byte_request,
    direct_children,
    empty_request,
    normalize_prefix,
    validate_key,
    validate_prefix,
)

__all__ = ["ZarrPythonStore", "is_zarr_python_store"]


def is_zarr_python_store(obj: object) -> bool:
    """Whether `obj` is a zarr-python `zarr.abc.store.Store` (False, without importing zarr, when zarr is not loaded)."""
    import sys

    if "zarr.abc.store" not in sys.modules:
        return False
    return isinstance(obj, sys.modules["zarr.abc.store"].Store)


def _to_zarr_request(request: ByteRequest | None) -> Any:
    from zarr.abc import store as zstore

    if request is None:
        return None
    if isinstance(request, RangeByteRequest):
        return zstore.RangeByteRequest(request.start, request.end)
    if isinstance(request, OffsetByteRequest):
        return zstore.OffsetByteRequest(request.offset)
    if isinstance(request, SuffixByteRequest):
        return zstore.SuffixByteRequest(request.suffix)
    raise TypeError(f"expected a zarrlayer ByteRequest or None, found {type(request).__name__}")


def _host_bytes(buffer: Any) -> Buffer:
    """The bytes of a zarr Buffer as a zero-copy memoryview of host memory."""
    return memoryview(buffer.as_numpy_array()).cast("B")


def _zarr_url(zstore: Any) -> str | None:
    """A credential-free URL for the zarr-python stores that have a location; None for the others."""
    root = getattr(zstore, "root", None)
    if type(zstore).__name__ == "LocalStore" and root is not None:
        return f"file://{root}"
    if type(zstore).__name__ == "ZipStore" and getattr(zstore, "path", None) is not None:
        return f"zip://{zstore.path}"
    store_dict = getattr(zstore, "_store_dict", None)
    if type(zstore).__name__ == "MemoryStore" and store_dict is not None:
        return f"zarr-python-memorystore://{id(store_dict):x}"  # its views (with_read_only) share the dict
    fs = getattr(zstore, "fs", None)
    path = getattr(zstore, "path", None)
    if fs is not None and isinstance(path, str):
        from zarrlayer.storage._remote import redact_url

        try:
            return str(redact_url(fs.unstrip_protocol(path).rstrip("/")))
        except Exception:
            return None
    return None


def _is_zarr(zstore: Any, class_name: str) -> bool:
    import zarr.storage

    cls = getattr(zarr.storage, class_name, None)
    return cls is not None and isinstance(zstore, cls)


def _copied_buffer(value: Buffer) -> Any:
    """A zarr Buffer holding a copy of `value` (some zarr-python stores keep the buffer they are given)."""
    from zarr.core.buffer import default_buffer_prototype

    try:
        data = memoryview(value).tobytes()
    except TypeError:
        raise TypeError(f"expected a bytes-like value to store, found {type(value).__name__}") from None
    return default_buffer_prototype().buffer.from_bytes(data)


def _open_if_closed(zstore: Any) -> None:
    """Open a zarr-python store that is not open yet, as zarr-python's own open functions do
    (`StorePath.open` awaits `_ensure_open`); an unopened ZipStore has no lock or archive yet."""
    if getattr(zstore, "_is_open", True):
        return
    sync_open = getattr(zstore, "_sync_open", None)
    if callable(sync_open):
        sync_open()
        return
    from zarrlayer.core.sync import in_loop_thread, sync

    if not in_loop_thread():  # on zarrlayer's loop, `_open` (awaited by Store.open) does it
        sync(zstore._ensure_open())


class ZarrPythonStore(Store):
    """A zarrlayer Store over the zarr-python store `zstore` (its mode is `zstore`'s mode).

    Values come back as zero-copy memoryviews of zarr's host buffers; keys are checked by
    zarrlayer's validator before zarr-python sees them; writes to a read-only store raise
    ReadOnlyError before any I/O. Pickles to `zstore` (zarr-python stores pickle).
    """

    def __init__(self, zstore: Any) -> None:
        if not is_zarr_python_store(zstore):
            raise TypeError(f"ZarrPythonStore needs a zarr.abc.store.Store, found {type(zstore).__name__}")
        super().__init__(read_only=zstore.read_only)
        _open_if_closed(zstore)
        self._zstore = zstore
        self._url = _zarr_url(zstore)
        self._in_memory = _is_zarr(zstore, "MemoryStore")
        self._local_dirs = _is_zarr(zstore, "LocalStore")

    @property
    def zarr_store(self) -> Any:
        """The zarr-python store underneath."""
        return self._zstore

    @property
    def url(self) -> str:
        return self._url or f"zarr-python-{type(self._zstore).__name__.lower()}://{id(self._zstore):x}"

    @property
    def supports_writes(self) -> bool:  # type: ignore[override]
        return bool(self._zstore.supports_writes)

    @property
    def supports_deletes(self) -> bool:  # type: ignore[override]
        return bool(self._zstore.supports_deletes)

    @property
    def supports_listing(self) -> bool:  # type: ignore[override]
        return bool(self._zstore.supports_listing)

    @property
    def supports_consolidated_metadata(self) -> bool:  # type: ignore[override]
        return bool(getattr(self._zstore, "supports_consolidated_metadata", True))

    def with_read_only(self, read_only: bool = False) -> Self:
        return type(self)(self._zstore.with_read_only(read_only))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZarrPythonStore) and bool(other._zstore == self._zstore)

    def __hash__(self) -> int:
        return hash((ZarrPythonStore, self.url))

    def __reduce__(self) -> tuple[Any, ...]:
        return (ZarrPythonStore, (self._zstore,))

    def __repr__(self) -> str:
        return f"ZarrPythonStore({self._zstore!r})"

    async def _open(self) -> None:
        await super()._open()
        await self._zstore._ensure_open()

    def close(self) -> None:
        self._zstore.close()
        self._is_open = False

    # -- reading ----------------------------------------------------------------------------

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        from zarr.core.buffer import default_buffer_prototype

        validate_key(key)
        if empty_request(byte_range):  # zarr-python stores disagree on zero-length requests
            return b"" if await self._zstore.exists(key) else None
        if byte_range is not None and self._in_memory:  # zarr's MemoryStore mis-slices suffixes past the start
            whole = await self._zstore.get(key, default_buffer_prototype())
            return None if whole is None else apply_byte_request(_host_bytes(whole), byte_range)
        value = await self._zstore.get(key, default_buffer_prototype(), _to_zarr_request(byte_range))
        return None if value is None else _host_bytes(value)

    async def get_partial_values(
        self, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        from zarr.core.buffer import default_buffer_prototype

        key_ranges = list(key_ranges)
        if self._in_memory or any(empty_request(r) for _, r in key_ranges):
            return list(await asyncio.gather(*(self.get(k, r) for k, r in key_ranges)))
        pairs = [(validate_key(k), _to_zarr_request(r)) for k, r in key_ranges]
        prototype = default_buffer_prototype()
        try:
            values = await self._zstore.get_partial_values(prototype, pairs)
        except FileNotFoundError:
            # some zarr-python stores raise here for a missing key where `get` returns None
            values = await asyncio.gather(*(self._zstore.get(k, prototype, r) for k, r in pairs))
        return [None if v is None else _host_bytes(v) for v in values]

    async def exists(self, key: str) -> bool:
        return bool(await self._zstore.exists(validate_key(key)))

    async def getsize(self, key: str) -> int:
        return int(await self._zstore.getsize(validate_key(key)))

    async def getsize_prefix(self, prefix: str) -> int:
        return int(await self._zstore.getsize_prefix(normalize_prefix(prefix)))

    # -- writing ----------------------------------------------------------------------------

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        validate_key(key)
        await self._zstore.set(key, _copied_buffer(value))

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        self._check_writable()
        validate_key(key)
        await self._zstore.set_if_not_exists(key, _copied_buffer(value))

    async def delete(self, key: str) -> None:
        self._check_writable()
        await self._zstore.delete(validate_key(key))

    async def delete_dir(self, prefix: str) -> None:
        self._check_writable()
        await self._zstore.delete_dir(normalize_prefix(prefix))

    async def clear(self) -> None:
        self._check_writable()
        await self._zstore.clear()

    async def is_empty(self, prefix: str = "") -> bool:
        return bool(await self._zstore.is_empty(normalize_prefix(prefix)))

    # -- listing ----------------------------------------------------------------------------

    async def list(self) -> AsyncIterator[str]:
        async for key in self._zstore.list():
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        async for key in self._zstore.list_prefix(validate_prefix(prefix)):
            yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = normalize_prefix(prefix)
        if self._local_dirs:  # zarr's LocalStore lists directories left empty by deletes: list keys instead
            for name in direct_children([k async for k in self._zstore.list_prefix(prefix)], prefix):
                yield name
            return
        async for key in self._zstore.list_dir(prefix.rstrip("/")):
            yield key
