"""The lazy BackendArray xarray wraps around a zarrlayer Array, and the parallel coordinate prefetch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from xarray.backends.common import BackendArray
from xarray.core import indexing

__all__ = ["ZarrlayerBackendArray", "CoordinatePrefetch", "string_dtype"]

_MAX_PREFETCH_THREADS = 8


def string_dtype() -> np.dtype:
    """The dtype xarray's zarr engine gives variable-length UTF-8 strings (numpy's StringDType)."""
    return np.dtype(np.dtypes.StringDType())


class CoordinatePrefetch:
    """Reads a dataset's dimension coordinates together, in parallel, the first time any one is loaded.

    xarray loads index coordinates one after the other while it builds indexes; on a
    remote store that is one round trip per coordinate. The first full read of any of
    them fetches all of them concurrently (in sequence on local stores, where threads
    cost more than they save); each cached result is handed out once.
    """

    def __init__(self, arrays: dict[str, Any]) -> None:
        self._arrays = dict(arrays)
        self._results: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()

    def take(self, name: str) -> np.ndarray | None:
        """The whole of coordinate `name`, read in the batch with its siblings (None if not prefetched)."""
        if name not in self._arrays:
            return None
        with self._lock:
            if self._results is None:
                self._results = _read_all_parallel(self._arrays)
            return self._results.pop(name, None)


def _read_all_parallel(arrays: dict[str, Any]) -> dict[str, np.ndarray]:
    local = all(getattr(getattr(a, "store", None), "supports_sync", False) for a in arrays.values())
    if len(arrays) == 1 or local:
        return {name: np.asarray(array[...]) for name, array in arrays.items()}
    workers = min(len(arrays), _MAX_PREFETCH_THREADS)
    with ThreadPoolExecutor(workers, thread_name_prefix="zarrlayer-coords") as pool:
        futures = {name: pool.submit(lambda a: np.asarray(a[...]), array) for name, array in arrays.items()}
        return {name: future.result() for name, future in futures.items()}


class ZarrlayerBackendArray(BackendArray):
    """A zarrlayer Array seen by xarray: lazy, thread-safe, picklable, outer and vectorized indexing."""

    __slots__ = ("_array", "_name", "_prefetch", "dtype", "shape")

    def __init__(
        self,
        array: Any,
        *,
        dtype: np.dtype | None = None,
        name: str | None = None,
        prefetch: CoordinatePrefetch | None = None,
    ) -> None:
        self._array = array
        self._name = name
        self._prefetch = prefetch
        self.shape: tuple[int, ...] = tuple(array.shape)
        self.dtype: np.dtype = np.dtype(dtype if dtype is not None else array.dtype)

    def get_array(self) -> Any:
        """The wrapped zarrlayer Array."""
        return self._array

    def __getstate__(self) -> tuple[Any, ...]:
        return (self._array, self._name, self.dtype, self.shape)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self._array, self._name, self.dtype, self.shape = state
        self._prefetch = None

    def _basic(self, key: tuple[Any, ...]) -> Any:
        if self._prefetch is not None and _is_whole(key, self.shape):
            cached = self._prefetch.take(self._name)  # type: ignore[arg-type]
            if cached is not None:
                return cached
        return self._array[key]

    def _outer(self, key: tuple[Any, ...]) -> Any:
        return self._array.oindex[key]

    def _vectorized(self, key: tuple[Any, ...]) -> Any:
        return self._array.vindex[key]

    def _method(self, key: indexing.ExplicitIndexer) -> Any:
        if isinstance(key, indexing.VectorizedIndexer):
            return self._vectorized
        if isinstance(key, indexing.OuterIndexer):
            return self._outer
        return self._basic

    def __getitem__(self, key: indexing.ExplicitIndexer) -> Any:
        value = indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.VECTORIZED, self._method(key)
        )
        return self._as_dtype(value)

    async def async_getitem(self, key: indexing.ExplicitIndexer) -> Any:
        """`__getitem__` for xarray's async loading: the read runs off the caller's event loop."""
        return await asyncio.to_thread(self.__getitem__, key)

    def _as_dtype(self, value: Any) -> Any:
        if self.dtype.kind == "T":
            return np.asarray(value, dtype=self.dtype)
        return value


def _is_whole(key: Sequence[Any], shape: tuple[int, ...]) -> bool:
    if len(key) != len(shape):
        return False
    for k, n in zip(key, shape, strict=True):
        if not isinstance(k, slice) or k.indices(n) != (0, n, 1):
            return False
    return True
