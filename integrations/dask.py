"""dask arrays over zarrlayer arrays: `from_zarrlayer` reads, `to_zarrlayer` writes, without locks.

    x = from_zarrlayer("s3://bucket/data.zarr", component="temperature", cache="disk")
    to_zarrlayer(x.mean(axis=0, keepdims=True), "out.zarr", component="mean")

Default dask chunks are the stored objects (shards when sharded, else chunks), so each
task issues one batched read. Graph names are deterministic: zarrlayer stores and arrays
tokenize cheaply from their URL, path and metadata.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from zarrlayer.errors import missing_dependency
from ._regions import (
    InvalidWriteError,
    UnalignedWriteError,
    check_aligned_chunks,
    check_aligned_region,
    normalize_region,
    storage_unit,
)
from ._xarray_nodes import is_array

__all__ = ["InvalidWriteError", "UnalignedWriteError", "from_zarrlayer", "to_zarrlayer"]

def _import_dask_array() -> Any:
    try:
        import dask.array as da
    except ImportError as err:
        raise missing_dependency("dask", "dask", "zarrlayer.integrations.dask") from err
    return da


def _open_source(
    source: Any,
    component: str | None,
    storage_options: dict[str, Any] | None,
    cache: Any,
    mode: str = "r",
) -> Any:
    if is_array(source):
        return source
    from zarrlayer.api import open_array

    return open_array(source, path=component, mode=mode, storage_options=storage_options, cache=cache)


def _dask_chunks(array: Any, chunks: Any) -> Any:
    if chunks is None:
        return storage_unit(array)
    return chunks


def from_zarrlayer(
    source: Any,
    component: str | None = None,
    chunks: Any = None,
    storage_options: dict[str, Any] | None = None,
    cache: Any = None,
    name: str | None = None,
    inline_array: bool = False,
) -> Any:
    """A dask array over a zarrlayer Array (or the array at `component` of a path, URL or store).

    `chunks` defaults to the stored objects (shards, else chunks); larger dask chunks are
    read by one batched call per task. `cache` is a zarrlayer cache spec (None, "memory",
    "disk", a dict or a Store) applied to a store opened here.
    """
    da = _import_dask_array()
    from dask.base import tokenize

    array = _open_source(source, component, storage_options, cache)
    dask_chunks = _dask_chunks(array, chunks)
    if name is None:
        name = "from-zarrlayer-" + tokenize(array, dask_chunks)
    meta = _empty_meta(array)
    return da.from_array(
        array,
        chunks=dask_chunks,
        name=name,
        lock=False,
        asarray=False,
        fancy=False,
        inline_array=inline_array,
        meta=meta,
    )


def _empty_meta(array: Any) -> Any:
    import numpy as np

    return np.empty((0,) * len(array.shape), dtype=array.dtype)


def _aligned_chunks(region: Sequence[slice], unit: Sequence[int], current: Sequence[Sequence[int]]) -> tuple:
    """Dask chunks over an aligned `region`: multiples of `unit` near the current sizes, the last one partial."""
    out = []
    for sl, u, sizes in zip(region, unit, current, strict=True):
        length = sl.stop - sl.start
        target = max(u, (max(sizes, default=0) // u) * u)
        pieces = [target] * (length // target) + ([length % target] if length % target else [])
        out.append(tuple(pieces) or (0,))
    return tuple(out)


def to_zarrlayer(
    darr: Any,
    target: Any,
    component: str | None = None,
    region: Sequence[slice] | None = None,
    compute: bool = True,
    storage_options: dict[str, Any] | None = None,
    **create_kwargs: Any,
) -> Any:
    """Write dask array `darr` to a zarrlayer Array, or create one at `component` of a path, URL or store.

    The data is rechunked so every task writes whole stored objects (shards, else chunks)
    and the write runs without locks. A `region` that starts or ends inside a stored object
    is refused (UnalignedWriteError): concurrent writers could lose each other's data.
    Returns the Array (or a Delayed when `compute=False`).
    """
    da = _import_dask_array()
    if not hasattr(darr, "dask"):
        darr = da.asarray(darr)
    array = target
    if not is_array(target):
        _check_extent(region, darr.shape, darr.shape, f"to_zarrlayer into a new array at {component or '/'!r}")
        array = _create_target(darr, target, component, storage_options, create_kwargs)
    where = f"to_zarrlayer into {array!r}"
    bounds = _check_extent(region, array.shape, darr.shape, where)
    unit = storage_unit(array)
    if region is not None:
        check_aligned_region(bounds, unit, array.shape, where)
    try:
        check_aligned_chunks(darr.chunks, bounds, unit, array.shape, where)
    except UnalignedWriteError:
        darr = darr.rechunk(_aligned_chunks(bounds, unit, darr.chunks))
    stored = da.store(darr, array, regions=bounds, lock=False, compute=compute, return_stored=False)
    return array if compute else stored


def _check_extent(
    region: Sequence[slice] | None, shape: Sequence[int], data_shape: Sequence[int], where: str
) -> tuple[slice, ...]:
    """`region` normalized against `shape`, refused unless it has the data's shape."""
    bounds = normalize_region(region, shape, where)
    extent = tuple(s.stop - s.start for s in bounds)
    if extent != tuple(data_shape):
        raise InvalidWriteError(
            f"{where}: the region has shape {extent} but the dask array has shape {tuple(data_shape)}"
        )
    return bounds


def _create_target(
    darr: Any, target: Any, component: str | None, storage_options: dict[str, Any] | None, create_kwargs: dict
) -> Any:
    from zarrlayer.api import create_array

    kwargs = dict(create_kwargs)
    if "chunks" not in kwargs:
        kwargs["chunks"] = tuple(max(c) if c else 1 for c in darr.chunks)
        if any(len(set(c[:-1])) > 1 or (c and c[-1] > c[0]) for c in darr.chunks):
            kwargs["chunks"] = tuple(max(1, math.gcd(*c)) if c else 1 for c in darr.chunks)
    return create_array(
        target, name=component, shape=darr.shape, dtype=darr.dtype, storage_options=storage_options, **kwargs
    )
