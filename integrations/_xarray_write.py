"""`to_zarrlayer`: write an xarray Dataset as a Zarr group that `xr.open_zarr` and engine='zarrlayer' read back."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from zarrlayer.errors import ModeError
from ._regions import InvalidWriteError, UnknownVariableError
from ._xarray_nodes import settle_growth
from ._xarray_open import join_path
from ._xarray_store import ZarrlayerDataStore

__all__ = ["to_zarrlayer"]

_MODES = ("w", "w-", "a", "a-", "r+")


def _choose_mode(mode: str | None, append_dim: Hashable | None, region: Any) -> str:
    if mode is None:
        mode = "a" if append_dim is not None else "r+" if region is not None else "w-"
    if mode not in _MODES:
        raise ModeError(f"to_zarrlayer mode must be one of {_MODES}, found {mode!r}")
    if append_dim is not None and mode not in ("a", "a-"):
        raise ModeError(f"cannot set append_dim unless mode='a' or mode=None (or 'a-'); found mode={mode!r}")
    if region is not None and mode not in ("a", "a-", "r+"):
        raise ModeError(
            f"cannot set region unless mode='a', mode='a-', mode='r+' or mode=None; found mode={mode!r}"
        )
    return mode


def _auto_region(ds: Any, region: Any, root: Any) -> dict[str, Any]:
    """`region` with each 'auto' entry replaced by the slice where the dataset's coordinate sits in the store."""
    import pandas as pd
    from xarray import conventions

    if region == "auto":
        region = dict.fromkeys(ds.dims, "auto")
    if not isinstance(region, Mapping):
        raise InvalidWriteError(
            f"region must be a dict of dimension name -> slice (or 'auto'), found {type(region).__name__}"
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
        if (positions == -1).any():
            missing = ds[dim].values[positions == -1][:5].tolist()
            raise UnknownVariableError(
                f"region='auto': the dataset's {dim!r} values {missing} are not in the stored {dim!r} "
                f"coordinate (group {root.path or '/'!r} of {root.store.url}); a region write cannot add them"
            )
        if len(positions) > 1 and (np.diff(positions) != 1).any():
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
            raise InvalidWriteError(
                f"all keys in ``region`` are not in Dataset dimensions: {dim!r} is not one of {list(ds.dims)}"
            )
        if not isinstance(sl, slice):
            raise InvalidWriteError(f"all values in region must be slice objects; region[{dim!r}] is {sl!r}")
        if sl.step not in (None, 1):
            raise InvalidWriteError(f"step on all slices in region must be 1 or None; region[{dim!r}] is {sl!r}")
    if append_dim is not None and append_dim in region:
        raise InvalidWriteError(f"cannot list the same dimension in both append_dim and region: {append_dim!r}")
    outside = [k for k, v in ds.variables.items() if region and not set(region) & set(v.dims)]
    if outside:
        raise InvalidWriteError(
            f"all variables in the dataset to write must have at least one dimension in common with the "
            f"region's dimensions {list(region)}; drop these first: ds.drop_vars({outside!r})"
        )
    return dict(region)


class _NoWrites:
    """An ArrayWriter stand-in that writes nothing (for the rehearsal of a write)."""

    def add(self, source: Any, target: Any, region: Any = None) -> None:
        """Ignore the data; only the arrays' creation is rehearsed."""


def _rehearse(
    ds: Any, encoding: Mapping[Hashable, Mapping[str, Any]], zarr_format: int, **options: Any
) -> None:
    """Run the whole write of a new dataset into memory, without data, so bad input fails before the target
    is created or cleared (mode 'w' would otherwise have removed what was there)."""
    from xarray.backends.writers import dump_to_store

    from zarrlayer.api import open_group
    from zarrlayer.storage import MemoryStore

    scratch = open_group(MemoryStore(), mode="w", zarr_format=zarr_format)
    copies = {k: dict(v) for k, v in encoding.items()}
    target = ZarrlayerDataStore(scratch, mode="w", **options)
    dump_to_store(_lazy(ds, copies), target, _NoWrites(), encoding=copies)


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


def _keeps_consolidated(store: Any) -> bool:
    """False for a zarr-python store that declares it keeps no consolidated metadata."""
    return getattr(store, "supports_consolidated_metadata", True) is not False


def new_writer(*, safe_chunks: bool, align_chunks: bool) -> Any:
    """xarray's ArrayWriter: without a lock when chunks are checked (or aligned), else one lock for all writes."""
    import threading

    from xarray.backends.common import ArrayWriter

    return ArrayWriter(lock=False if safe_chunks or align_chunks else threading.Lock())


def _finished(*writes: Any) -> None:
    """The end of a deferred write (a node that depends on every chunk write)."""


def _store_empty(written: list[tuple[Any, tuple[slice, ...]]], grown: list[Any], *writes: Any) -> None:
    """After the data writes: stored objects for the chunks left empty (write_empty_chunks=True), then the
    new shapes of the arrays grown by an append, published together (see `publish_growth`).

    An append writes all its data beyond the stored shapes first, where no reader looks, so a
    crash at any moment leaves consolidated readers every variable at the old or the new length.
    """
    from ._empty_chunks import store_empty_chunks
    from ._xarray_nodes import publish_growth

    for array, region in written:
        store_empty_chunks(array, region)
    publish_growth(grown)


def _validate_encoding(ds: Any, encoding: Any) -> dict[Hashable, dict[str, Any]]:
    """`encoding` as {variable name: dict of options}, or InvalidWriteError naming what is wrong."""
    if encoding is None:
        return {}
    if not isinstance(encoding, Mapping):
        raise InvalidWriteError(
            f"encoding must be a dict of variable name -> dict of options, found {type(encoding).__name__}"
        )
    out: dict[Hashable, dict[str, Any]] = {}
    for name, options in encoding.items():
        if not isinstance(options, Mapping):
            raise InvalidWriteError(
                f"encoding[{name!r}] must be castable to a dict of options (chunks, compressors, ...), "
                f"found {type(options).__name__} {options!r}"
            )
        out[name] = dict(options)
    unknown = sorted(map(str, set(out) - set(ds.variables)))
    if unknown:
        raise UnknownVariableError(f"encoding names variables {unknown} that are not in the dataset {sorted(map(str, ds.variables))}")
    return out


def _existing_format(store: Any, group: str, storage_options: dict[str, Any] | None) -> int | None:
    """The Zarr format of the group at `group` (or, when it is missing, of the store's root); None if neither exists."""
    from zarrlayer.api import open_group
    from zarrlayer.errors import NodeNotFoundError

    for path in dict.fromkeys((group, "")):
        try:
            return int(open_group(store, mode="r", path=path or None, storage_options=storage_options).metadata.zarr_format)
        except (NodeNotFoundError, FileNotFoundError, KeyError):
            continue
    return None


def _target_exists(store: Any, group: str, storage_options: dict[str, Any] | None) -> bool:
    from zarrlayer.api import open_group
    from zarrlayer.errors import NodeNotFoundError

    try:
        open_group(store, mode="r", path=group or None, storage_options=storage_options)
    except (NodeNotFoundError, FileNotFoundError, KeyError):
        return False
    return True


def _default_format() -> int:
    from zarrlayer import config

    return int(config.get("default_zarr_format"))


def _resolve_format(mode: str, zarr_format: int | None, zarr_version: int | None, existing: int | None) -> int:
    if zarr_version is not None:
        if zarr_format is not None and zarr_format != zarr_version:
            raise InvalidWriteError(f"zarr_format={zarr_format} and zarr_version={zarr_version} disagree")
        zarr_format = zarr_version
    if zarr_format not in (None, 2, 3):
        raise InvalidWriteError(f"zarr_format must be 2 or 3, found {zarr_format!r}")
    if mode in ("a", "a-", "r+") and existing is not None:
        if zarr_format is not None and zarr_format != existing:
            raise InvalidWriteError(
                f"the store holds Zarr v{existing}; cannot add Zarr v{zarr_format} data to it with mode={mode!r}"
            )
        return existing
    return zarr_format or _default_format()


def _write_options(chunk_store: Any) -> None:
    if chunk_store is not None:
        raise InvalidWriteError("a separate chunk_store is not supported: chunks are kept beside their metadata")


def to_zarrlayer(
    ds: Any,
    store: Any = None,
    mode: str | None = None,
    group: str | None = None,
    encoding: Mapping[Hashable, Mapping[str, Any]] | None = None,
    append_dim: Hashable | None = None,
    region: Mapping[str, slice | str] | str | None = None,
    consolidated: bool | None = None,
    zarr_format: int | None = None,
    compute: bool = True,
    storage_options: dict[str, Any] | None = None,
    *,
    safe_chunks: bool = True,
    align_chunks: bool = False,
    write_empty_chunks: bool | None = None,
    chunkmanager_store_kwargs: dict[str, Any] | None = None,
    write_inherited_coords: bool = False,
    synchronizer: Any = None,
    chunk_store: Any = None,
    zarr_version: int | None = None,
) -> Any:
    """Write `ds` (a Dataset or DataTree) to `store` (path, URL, Store, zarr-python store or mapper) at `group`.

    Returns the Group written, or a dask Delayed when `compute=False`. Keywords are
    those of `Dataset.to_zarr` (and `DataTree.to_zarr`). Modes: 'w-' creates (default),
    'w' overwrites, 'a' adds or appends along `append_dim` (the default with it), 'a-'
    appends only the variables with `append_dim`, 'r+' writes `region` of existing arrays
    (the default with it; 'auto' entries are found from the stored coordinates).
    `consolidated` None or True writes consolidated metadata. Dask-backed variables are
    written in parallel without a lock: chunks that would share a stored chunk are refused
    (UnalignedWriteError) unless `safe_chunks=False` (then writes are serialised by a lock)
    or `align_chunks=True` (then they are rechunked to the stored chunks first). A chunk of
    only fill values is never stored (`write_empty_chunks=True` is refused); `synchronizer`
    is accepted and unused. Raises InvalidWriteError (naming the variable) before anything in
    the store changes when the write cannot be done exactly.
    """
    from xarray.core.datatree import DataTree

    _write_options(chunk_store)
    if store is None:
        from zarrlayer.storage import MemoryStore

        store = MemoryStore()
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    options: dict[str, Any] = {
        "append_dim": append_dim, "region": region, "consolidated": consolidated, "compute": compute,
        "storage_options": storage_options, "safe_chunks": safe_chunks, "align_chunks": align_chunks,
        "chunkmanager_store_kwargs": chunkmanager_store_kwargs, "write_empty_chunks": write_empty_chunks,
    }  # fmt: skip
    if isinstance(ds, DataTree):
        from ._xarray_tree import tree_to_zarrlayer

        return tree_to_zarrlayer(
            ds, store, mode=mode, group=group, encoding=encoding, zarr_format=zarr_format,
            zarr_version=zarr_version, write_inherited_coords=write_inherited_coords, **options,
        )  # fmt: skip
    mode = _choose_mode(mode, append_dim, region)
    fmt = _resolve_format(mode, zarr_format, zarr_version, _existing_format(store, join_path(group), storage_options))
    writes = write_dataset(ds, store, mode=mode, group=group, encoding=encoding, zarr_format=fmt, **options)
    return writes


def write_dataset(
    ds: Any,
    store: Any,
    *,
    mode: str,
    group: str | None,
    encoding: Any,
    zarr_format: int,
    append_dim: Hashable | None,
    region: Any,
    consolidated: bool | None,
    compute: bool,
    storage_options: dict[str, Any] | None,
    safe_chunks: bool,
    align_chunks: bool,
    chunkmanager_store_kwargs: dict[str, Any] | None,
    write_empty_chunks: bool | None = None,
    writer: Any = None,
) -> Any:
    """One Dataset written as the group `group` of `store` (the checked core of `to_zarrlayer`).

    With a shared `writer` (a DataTree's nodes), the data is only queued on it and the data
    store returned: the caller syncs the writer once and consolidates.
    """
    from xarray.backends.writers import _validate_dataset_names, dump_to_store

    from zarrlayer.api import consolidate_metadata, open_group

    _validate_dataset_names(ds)
    encoding = _validate_encoding(ds, encoding)
    group = join_path(group)
    if mode in ("w", "w-") or not _target_exists(store, group, storage_options):
        if mode == "r+":
            raise ModeError(f"mode 'r+' writes into an existing group; there is no group {group or '/'!r} in {store!r}")
        _rehearse(ds, encoding, zarr_format, safe_chunks=safe_chunks, align_chunks=align_chunks)
    root = open_group(
        store, mode={"a-": "a"}.get(mode, mode), path=group or None, zarr_format=zarr_format,
        storage_options=storage_options,
    )  # fmt: skip
    if mode in ("a", "a-", "r+"):
        settle_growth(root)
    if region is not None:
        region = _check_region(ds, _auto_region(ds, region, root), append_dim)
        ds = ds.drop_vars(ds.indexes)
    if encoding and mode in ("a", "a-", "r+"):
        clash = sorted(set(map(str, encoding)) & set(ZarrlayerDataStore(root).arrays()))
        if clash:
            raise InvalidWriteError(
                f"variables {clash} already exist, but encoding was provided for them; encoding can only "
                f"be given for new variables (it is read from the store for existing ones)"
            )
    target = ZarrlayerDataStore(
        root, mode=mode, append_dim=append_dim, write_region=region, safe_chunks=safe_chunks,
        align_chunks=align_chunks, write_empty_chunks=write_empty_chunks,
    )  # fmt: skip
    if writer is not None:
        dump_to_store(ds, target, writer, encoding=encoding)
        return target
    writer = new_writer(safe_chunks=safe_chunks, align_chunks=align_chunks)
    dump_to_store(ds, target, writer, encoding=encoding)
    writes = writer.sync(compute=compute, chunkmanager_store_kwargs=chunkmanager_store_kwargs)
    if not compute:
        import dask

        writes = dask.delayed(_store_empty, pure=False)(target.written, target.grown, writes)
    else:
        _store_empty(target.written, target.grown)
    if consolidated is not False and mode != "r+" and _keeps_consolidated(store):
        base = root.path[: len(root.path) - len(group)].strip("/") if group else root.path
        consolidate_metadata(root.store, path=base or None, zarr_format=root.metadata.zarr_format)
    return root if compute else writes
