"""WrapperStore: forwards every operation to an inner store; the base for caches, logging and test doubles."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Generic, Self, TypeVar

from zarrlayer.storage._base import Buffer, ByteRequest, Store

__all__ = ["WrapperStore"]

S = TypeVar("S", bound=Store)


class WrapperStore(Store, Generic[S]):
    """A store that delegates to `store`; subclasses override what they intercept."""

    def __init__(self, store: S) -> None:
        if not isinstance(store, Store):
            from zarrlayer.storage.resolve import as_store  # zarr-python stores and fsspec mappers too

            store = as_store(store, what="a store to wrap")  # type: ignore[assignment]
        self._store = store
        self._is_open = False

    @property
    def store(self) -> S:
        """The wrapped store."""
        return self._store

    @property
    def read_only(self) -> bool:  # type: ignore[override]
        return self._store.read_only

    @property
    def _read_only(self) -> bool:  # type: ignore[override]
        return self._store.read_only

    @property
    def url(self) -> str:
        return self._store.url

    @property
    def cache_identity(self) -> str:
        return self._store.cache_identity

    @property
    def supports_writes(self) -> bool:  # type: ignore[override]
        return self._store.supports_writes

    @property
    def supports_deletes(self) -> bool:  # type: ignore[override]
        return self._store.supports_deletes

    @property
    def supports_listing(self) -> bool:  # type: ignore[override]
        return self._store.supports_listing

    @property
    def supports_partial_writes(self) -> bool:  # type: ignore[override]
        return self._store.supports_partial_writes

    @property
    def supports_sync(self) -> bool:  # type: ignore[override]
        return self._store.supports_sync

    def _rewrap(self, store: S) -> Self:
        """A copy of this wrapper around `store` (subclasses with more state override)."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._store = store
        return clone

    def with_read_only(self, read_only: bool = True) -> Self:
        return self._rewrap(self._store.with_read_only(read_only))

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._store == other._store  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._store))

    def __dask_tokenize__(self) -> tuple[object, ...]:
        return ("zarrlayer-wrapper", type(self).__qualname__, self._store.__dask_tokenize__())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._store!r})"

    async def open(self) -> None:
        await self._store.open()
        self._is_open = True

    async def close(self) -> None:
        await self._store.close()
        self._is_open = False

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        return await self._store.get(key, byte_range)

    async def get_partial_values(
        self, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return await self._store.get_partial_values(key_ranges)

    async def exists(self, key: str) -> bool:
        return await self._store.exists(key)

    async def getsize(self, key: str) -> int:
        return await self._store.getsize(key)

    async def getsize_prefix(self, prefix: str) -> int:
        return await self._store.getsize_prefix(prefix)

    async def set(self, key: str, value: Buffer) -> None:
        await self._store.set(key, value)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        await self._store.set_if_not_exists(key, value)

    async def delete(self, key: str) -> None:
        await self._store.delete(key)

    async def delete_dir(self, prefix: str) -> None:
        await self._store.delete_dir(prefix)

    async def clear(self) -> None:
        await self._store.clear()

    async def is_empty(self, prefix: str = "") -> bool:
        return await self._store.is_empty(prefix)

    def list(self) -> AsyncIterator[str]:
        return self._store.list()

    def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        return self._store.list_prefix(prefix)

    def list_dir(self, prefix: str) -> AsyncIterator[str]:
        return self._store.list_dir(prefix)

    def get_sync(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        return self._store.get_sync(key, byte_range)

    def get_many_sync(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        return self._store.get_many_sync(key_ranges)

    def set_sync(self, key: str, value: Buffer) -> None:
        self._store.set_sync(key, value)

    def delete_sync(self, key: str) -> None:
        self._store.delete_sync(key)

    def exists_sync(self, key: str) -> bool:
        return self._store.exists_sync(key)
