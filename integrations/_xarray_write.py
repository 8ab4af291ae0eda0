"""`to_zarrlayer`: write an xarray Dataset as a Zarr group that `xr.open_zarr` and engine='zarrlayer' read back."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from zarrlayer.errors import ModeError
from zarrlayer.integrations._regions import InvalidWriteError
from zarrlayer.integrations._xarray_open import join_path
from zarrlayer.integrations._xarray_store import ZarrlayerDataStore

__all__ = ["to_zarrlayer"]

_MODES = ("w", "w-", "a", "a-", "r+")


def _choose_mode(mode: str | None, append_dim: Hashable | None, region: Any) -> str:
    if mode is None:
        mode = "a" if append_dim is not None else "r+" if region is not None else "w-"
    if mode not in _MODES:
        raise ModeError(f"to_zarrlayer mode must be one of {_MODES}, found {mode!r}")
    if append_dim is not None and mode not in ("a", "a-"):
        raise ModeError(f"append_dim needs mode 'a' or 'a-', found mode={mode!r}")
    if region is not None and mode not in ("a", "a-", "r+"):
        raise ModeError(f"region needs mode 'a', 'a-' or 'r+', found mode={mode!r}")
    return mode


def _auto_region(ds: Any, region: Any, root: Any) -> dict[str, Any]:
    """`region` with each 'auto' entry replaced by the slice where the dataset's coordinate sits in the store."""
    import pandas as pd
    from xarray import conventions

    if region == "auto":
        region = dict.fromkeys(ds.dims, "auto")
    if not isinstance(region, Mapping):
        raise InvalidWriteError(
            f"region must be 'auto' or a dict of dimension name -> slice, found {type(region).__name__}"
        )
    region = dict(region)
    stored = ZarrlayerDataStore(root)
    for dim, value in region.items():
        if not (isinstance(value, str) and value == "auto"):
            continue
        if dim not in ds.variables or dim not in stored.arrays():
            region[dim] = slice(0, ds.sizes[dim])
            continue
        existing = conventions.decode_cf_variable(dim, stored.open_store_variable(dim).compute())
        positions = pd.Index(existing.values).get_indexer(ds[dim].values)
        if (positions == -1).any() or (len(positions) > 1 and (np.diff(positions) != 1).any()):
            raise InvalidWriteError(
                f"region='auto' needs the dataset's {dim!r} values to be a contiguous run of the stored "
                f"{dim!r} coordinate (group {root.path or '/'!r} of {root.store.url}); they are not"
            )
        region[dim] = slice(int(positions[0]), int(positions[-1]) + 1)
    return region


def _check_region(ds: Any, region: Mapping[str, slice], append_dim: Hashable | None) -> dict[str, slice]:
    if not isinstance(region, Mapping):
        raise InvalidWriteError(f"region must be a dict of dimension name -> slice, found {type(region).__name__}")
    for dim, sl in region.items():
        if dim not in ds.dims:
            raise InvalidWriteError(f"region dimension {dim!r} is not a dimension of the dataset {list(ds.dims)}")
        if not isinstance(sl, slice) or sl.step not in (None, 1):
            raise InvalidWriteError(f"region[{dim!r}] must be a slice with step 1, found {sl!r}")
    if append_dim is not None and append_dim in region:
        raise InvalidWriteError(f"dimension {append_dim!r} cannot be both append_dim and in region")
    outside = [k for k, v in ds.variables.items() if not set(region) & set(v.dims)]
    if outside:
        raise InvalidWriteError(
            f"every variable written to a region needs one of its dimensions {list(region)}; "
            f"drop these first: ds.drop_vars({outside!r})"
        )
    return dict(region)


class _NoWrites:
    """An ArrayWriter stand-in that writes nothing (for the rehearsal of a write)."""

    def add(self, source: Any, target: Any, region: Any = None) -> None:
        """Ignore the data; only the arrays' creation is rehearsed."""


def _rehearse(ds: Any, encoding: Mapping[Hashable, Mapping[str, Any]] | None, zarr_format: int) -> None:
    """Run the whole write of a new dataset into memory, without data, so bad input fails before the target
    is created or cleared (mode 'w' would otherwise have removed what was there)."""
    from xarray.backends.writers import dump_to_store

    from zarrlayer.api import open_group
    from zarrlayer.storage import MemoryStore

    scratch = open_group(MemoryStore(), mode="w", zarr_format=zarr_format)
    copies = {k: dict(v) for k, v in (encoding or {}).items()}
    dump_to_store(_lazy(ds, copies), ZarrlayerDataStore(scratch, mode="w"), _NoWrites(), encoding=copies)


def _lazy(ds: Any, encoding: Mapping[Hashable, Mapping[str, Any]]) -> Any:
    """A shallow copy of `ds` in which in-memory numeric variables with explicit encoding chunks are lazy
    dask zeros of the same shape and dtype, so that rehearsing their CF encoding costs nothing.

    Only there: without encoding chunks, xarray would take dask chunks as the stored chunks, which
    would change what is rehearsed. Times stay too (xarray encodes lazy times only with both units
    and dtype given).
    """
    out = ds.copy(deep=False)
    try:
        import dask.array as da
    except ImportError:
        return out
    for name, var in out.variables.items():
        chunks = (encoding[name] if name in encoding else var.encoding).get("chunks")
        in_memory = var.chunks is None and var.ndim and name not in ds.indexes
        if chunks is not None and in_memory and var.dtype.kind in "biufc":
            var.data = da.zeros(var.shape, dtype=var.dtype, chunks=var.shape)
    return out


def _finished(*writes: Any) -> None:
    """The end of a deferred write (a node that depends on every chunk write)."""


def to_zarrlayer(
    ds: Any,
    store: Any,
    mode: str | None = None,
    group: str | None = None,
    encoding: Mapping[Hashable, Mapping[str, Any]] | None = None,
    append_dim: Hashable | None = None,
    region: Mapping[str, slice | str] | str | None = None,
    consolidated: bool = True,
    zarr_format: int = 3,
    compute: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """Write `ds` to `store` (path, URL or Store) at `group`; the Group, or a Delayed when `compute=False`.

    Modes as in `Dataset.to_zarr`: 'w-' creates (default), 'w' overwrites, 'a' adds or
    appends along `append_dim` (the default with it), 'r+' writes `region` of existing
    arrays (the default with it; 'auto' entries are found from the stored coordinates).
    Dask-backed variables are written in parallel without a lock; chunks that would share
    a stored chunk are refused (UnalignedWriteError).
    """
    from xarray.backends.common import ArrayWriter
    from xarray.backends.writers import _validate_dataset_names, dump_to_store

    from zarrlayer.api import consolidate_metadata, open_group

    mode = _choose_mode(mode, append_dim, region)
    _validate_dataset_names(ds)
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    group = join_path(group)
    fmt = None if mode in ("a", "a-", "r+") else zarr_format
    if fmt is not None:
        _rehearse(ds, encoding, fmt)
    root = open_group(
        store, mode={"a-": "a"}.get(mode, mode), path=group or None, zarr_format=fmt, storage_options=storage_options
    )
    if region is not None:
        region = _check_region(ds, _auto_region(ds, region, root), append_dim)
        ds = ds.drop_vars(ds.indexes)
    if encoding and mode in ("a", "a-", "r+"):
        clash = sorted(set(map(str, encoding)) & set(ZarrlayerDataStore(root).arrays()))
        if clash:
            raise InvalidWriteError(f"variables {clash} already exist; encoding can only be given for new variables")
    target = ZarrlayerDataStore(root, mode=mode, append_dim=append_dim, write_region=region)
    writer = ArrayWriter(lock=False)
    dump_to_store(ds, target, writer, encoding={k: dict(v) for k, v in (encoding or {}).items()})
    writes = writer.sync(compute=compute)
    if not compute:
        import dask

        writes = dask.delayed(_finished, pure=False)(writes)
    if consolidated and mode != "r+":
        base = root.path[: len(root.path) - len(group)].strip("/") if group else root.path
        consolidate_metadata(root.store, path=base or None, zarr_format=root.metadata.zarr_format)
    return root if compute else writes
