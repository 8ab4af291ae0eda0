"""WrapperStore: forwards every operation to an inner store; the base for caches, LoggingStore and test doubles."""

from __future__ import annotations

import builtins
import logging
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, Self, TypeVar

from zarrlayer.storage._base import Buffer, ByteRequest, Store

__all__ = ["LoggingStore", "WrapperStore"]

S = TypeVar("S", bound=Store)


class WrapperStore(Store, Generic[S]):
    """A store that delegates to `store`; subclasses override what they intercept."""

    def __init__(self, store: S) -> None:
        if not isinstance(store, Store):
            from zarrlayer.storage.resolve import as_store  # zarr-python stores and fsspec mappers too

            store = as_store(store, what="a store to wrap")
        self._store = store

    @classmethod
    async def open(cls, store_cls: type[S], *args: Any, **kwargs: Any) -> Self:
        """Construct `store_cls(*args, **kwargs)`, open it and wrap it (zarr-python's `WrapperStore.open`)."""
        store = store_cls(*args, **kwargs)
        await store._open()
        return cls(store)

    @property
    def _is_open(self) -> bool:
        """The wrapped store's state: a wrapper holds nothing of its own to open."""
        return self._store._is_open

    @_is_open.setter
    def _is_open(self, value: bool) -> None:
        self._store._is_open = value

    @property
    def store(self) -> S:
        """The wrapped store."""
        return self._store

    @property
    def read_only(self) -> bool:
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

    @property
    def supports_consolidated_metadata(self) -> bool:  # type: ignore[override]
        return self._store.supports_consolidated_metadata

    def with_read_only(self, read_only: bool = False) -> Self:
        return self._rewrap(self._store.with_read_only(read_only))

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._store == other._store

    def __hash__(self) -> int:
        return hash((type(self), self._store))

    def __dask_tokenize__(self) -> tuple[str, ...]:
        return ("zarrlayer-wrapper", type(self).__qualname__, *self._store.__dask_tokenize__())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._store!r})"

    async def _open(self) -> None:
        await self._store._open()

    async def _ensure_open(self) -> None:
        await self._store._ensure_open()

    def close(self) -> None:
        """Close the wrapped store (a ZipStore below is a complete archive when this returns)."""
        self._store.close()

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

    def get_many_sync(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> builtins.list[Buffer | None]:
        return self._store.get_many_sync(key_ranges)

    def set_sync(self, key: str, value: Buffer) -> None:
        self._store.set_sync(key, value)

    def delete_sync(self, key: str) -> None:
        self._store.delete_sync(key)

    def exists_sync(self, key: str) -> bool:
        return self._store.exists_sync(key)


class LoggingStore(WrapperStore[S]):
    """A wrapper that logs every call to `store` and counts calls per method (zarr-python's LoggingStore).

    `log_level`: the level of the logger (a name such as "DEBUG" or an int); `log_handler`: a
    handler to add (default: one writing to stdout), added only when the logger has none yet.
    `counter` maps each method name to its number of calls. Log lines name the store by its
    URL, which never holds credentials.
    """

    def __init__(
        self, store: S, log_level: str | int = "DEBUG", log_handler: logging.Handler | None = None
    ) -> None:
        super().__init__(store)
        self.counter: defaultdict[str, int] = defaultdict(int)
        self.log_level = log_level
        self.log_handler = log_handler
        self.logger = logging.getLogger(f"LoggingStore({store.url})")
        self.logger.setLevel(log_level)
        if not self.logger.hasHandlers():
            handler = log_handler or logging.StreamHandler(sys.stdout)
            if log_handler is None:
                handler.setLevel(log_level)
                handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
            self.logger.addHandler(handler)

    @classmethod
    async def open(cls, store_cls: type[S], *args: Any, **kwargs: Any) -> Self:
        """Construct `store_cls(*args, **kwargs)` (less `log_level`/`log_handler`), open it and wrap it."""
        log_level = kwargs.pop("log_level", "DEBUG")
        log_handler = kwargs.pop("log_handler", None)
        store = store_cls(*args, **kwargs)
        await store._open()
        return cls(store, log_level=log_level, log_handler=log_handler)

    def _rewrap(self, store: S) -> Self:
        return type(self)(store, log_level=self.log_level, log_handler=self.log_handler)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._store, self.log_level))

    @contextmanager
    def log(self, hint: Any = "", *, method: str | None = None) -> Iterator[None]:
        """Log the call of `method` (default: the caller's name) on the wrapped store, timing it and counting it."""
        name = method or sys._getframe(2).f_code.co_name
        op = f"{type(self._store).__name__}.{name}" + (f"({hint})" if hint != "" else "")
        self.logger.info(" Calling %s", op)
        start = time.perf_counter()
        self.counter[name] += 1
        try:
            yield
        finally:
            self.logger.info("Finished %s [%.2f s]", op, time.perf_counter() - start)

    def __repr__(self) -> str:
        return f"LoggingStore({type(self._store).__name__}, {self._store.url!r})"

    def close(self) -> None:
        with self.log(method="close"):
            super().close()

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        with self.log(key, method="get"):
            return await self._store.get(key, byte_range)

    async def get_partial_values(
        self, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        key_ranges = list(key_ranges)
        with self.log(",".join(k for k, _ in key_ranges), method="get_partial_values"):
            return await self._store.get_partial_values(key_ranges)

    async def exists(self, key: str) -> bool:
        with self.log(key, method="exists"):
            return await self._store.exists(key)

    async def getsize(self, key: str) -> int:
        with self.log(key, method="getsize"):
            return await self._store.getsize(key)

    async def getsize_prefix(self, prefix: str) -> int:
        with self.log(prefix, method="getsize_prefix"):
            return await self._store.getsize_prefix(prefix)

    async def set(self, key: str, value: Buffer) -> None:
        with self.log(key, method="set"):
            await self._store.set(key, value)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        with self.log(key, method="set_if_not_exists"):
            await self._store.set_if_not_exists(key, value)

    async def delete(self, key: str) -> None:
        with self.log(key, method="delete"):
            await self._store.delete(key)

    async def delete_dir(self, prefix: str) -> None:
        with self.log(prefix, method="delete_dir"):
            await self._store.delete_dir(prefix)

    async def clear(self) -> None:
        with self.log(method="clear"):
            await self._store.clear()

    async def is_empty(self, prefix: str = "") -> bool:
        with self.log(prefix, method="is_empty"):
            return await self._store.is_empty(prefix)

    async def list(self) -> AsyncIterator[str]:
        with self.log(method="list"):
            async for key in self._store.list():
                yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        with self.log(prefix, method="list_prefix"):
            async for key in self._store.list_prefix(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        with self.log(prefix, method="list_dir"):
            async for key in self._store.list_dir(prefix):
                yield key

    def get_sync(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        with self.log(key, method="get_sync"):
            return self._store.get_sync(key, byte_range)

    def get_many_sync(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> builtins.list[Buffer | None]:
        with self.log(",".join(k for k, _ in key_ranges), method="get_many_sync"):
            return self._store.get_many_sync(key_ranges)

    def set_sync(self, key: str, value: Buffer) -> None:
        with self.log(key, method="set_sync"):
            self._store.set_sync(key, value)

    def delete_sync(self, key: str) -> None:
        with self.log(key, method="delete_sync"):
            self._store.delete_sync(key)

    def exists_sync(self, key: str) -> bool:
        with self.log(key, method="exists_sync"):
            return self._store.exists_sync(key)
