"""The `zarrlayer` xarray backend engine and the `to_zarrlayer` dataset writer.

    ds = xr.open_dataset("s3://bucket/data.zarr", engine="zarrlayer", chunks={}, store_cache="disk")
    to_zarrlayer(ds, "out.zarr", zarr_format=3)

Datasets read with this engine are identical (`xr.testing.assert_identical`) to
`engine="zarr"`'s on the same store. Differences, all in `encoding`: `preferred_chunks`
is the shard shape of sharded arrays (one dask task per stored object), v3 codecs are
their JSON when zarr-python is not installed, and `use_zarr_fill_value_as_mask` is
honoured (xarray's engine ignores it). docs/compatibility.md lists every difference.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from zarrlayer.errors import ModeError, missing_dependency

try:
    import xarray  # noqa: F401
except ImportError as _err:
    raise missing_dependency("xarray", "xarray", "zarrlayer.integrations.xarray") from _err

from xarray.backends.common import BackendEntrypoint, datatree_from_dict_with_io_cleanup
from xarray.backends.store import StoreBackendEntrypoint
from xarray.core.dataset import Dataset
from xarray.core.datatree import DataTree

from ._regions import InvalidWriteError, UnalignedWriteError
from ._xarray_nodes import is_group
from ._xarray_open import join_path, open_group_for_xarray
from ._xarray_store import ZarrlayerDataStore
from ._xarray_write import to_zarrlayer

__all__ = ["InvalidWriteError", "UnalignedWriteError", "ZarrlayerBackendEntrypoint", "to_zarrlayer"]

_MARKERS = ("zarr.json", ".zgroup", ".zarray", ".zmetadata")


def _decode(store: ZarrlayerDataStore, decoders: Mapping[str, Any]) -> Dataset:
    return StoreBackendEntrypoint().open_dataset(store, **decoders)


class ZarrlayerBackendEntrypoint(BackendEntrypoint):
    """Open Zarr v2 and v3 stores in xarray through zarrlayer (local, zip, fsspec, obstore, cached)."""

    description = "Open Zarr v2/v3 stores with zarrlayer (async stores, caching, parallel reads)"
    url = "https://github.com/zarrlayer/zarrlayer"
    supports_groups: ClassVar[bool] = True
    open_dataset_parameters: ClassVar[tuple[str, ...]] = (
        "filename_or_obj",
        "mask_and_scale",
        "decode_times",
        "concat_characters",
        "decode_coords",
        "drop_variables",
        "use_cftime",
        "decode_timedelta",
        "group",
        "consolidated",
        "storage_options",
        "store_cache",
        "zarr_format",
        "use_zarr_fill_value_as_mask",
        "mode",
        "cache_members",
        "store",
        "engine",
        "synchronizer",
        "chunk_store",
        "zarr_version",
    )

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """True for zarrlayer stores and groups, `*.zarr` paths and URLs, and directories holding Zarr metadata."""
        from zarrlayer.storage import Store
        from zarrlayer.storage.resolve import StorePath

        if isinstance(filename_or_obj, Store | StorePath) or is_group(filename_or_obj):
            return True
        if not isinstance(filename_or_obj, str | os.PathLike):
            return False
        path = os.fspath(filename_or_obj).rstrip("/")
        if path.endswith(".zarr") or path.endswith(".zarr.zip"):
            return True
        return os.path.isdir(path) and any(os.path.exists(os.path.join(path, m)) for m in _MARKERS)

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        mask_and_scale: bool = True,
        decode_times: Any = True,
        concat_characters: bool = True,
        decode_coords: Any = True,
        drop_variables: str | Iterable[str] | None = None,
        use_cftime: bool | None = None,
        decode_timedelta: Any = None,
        group: str | None = None,
        consolidated: bool | None = None,
        storage_options: dict[str, Any] | None = None,
        store_cache: Any = None,
        zarr_format: int | None = None,
        use_zarr_fill_value_as_mask: bool | None = None,
        mode: str = "r",
        cache_members: bool = True,
        store: Any = None,
        engine: Any = None,
        synchronizer: Any = None,
        chunk_store: Any = None,
        zarr_version: int | None = None,
    ) -> Dataset:
        """One group as a lazy Dataset: metadata is read now, chunks when values are needed."""
        options = locals()
        return _decode(_data_store(filename_or_obj, options), _decoders(options))

    def open_groups_as_dict(
        self,
        filename_or_obj: Any,
        *,
        mask_and_scale: bool = True,
        decode_times: Any = True,
        concat_characters: bool = True,
        decode_coords: Any = True,
        drop_variables: str | Iterable[str] | None = None,
        use_cftime: bool | None = None,
        decode_timedelta: Any = None,
        group: str | None = None,
        consolidated: bool | None = None,
        storage_options: dict[str, Any] | None = None,
        store_cache: Any = None,
        zarr_format: int | None = None,
        use_zarr_fill_value_as_mask: bool | None = None,
        mode: str = "r",
        cache_members: bool = True,
        store: Any = None,
        engine: Any = None,
        synchronizer: Any = None,
        chunk_store: Any = None,
        zarr_version: int | None = None,
    ) -> dict[str, Dataset]:
        """Every group under `group` (itself included) as a Dataset, keyed by its path ('/', '/a', '/a/b')."""
        options = locals()
        decoders = _decoders(options)
        out: dict[str, Dataset] = {}
        pending = [("/", _data_store(filename_or_obj, options))]
        while pending:
            path, store = pending.pop(0)
            out[path] = _decode(store, decoders)
            for name in store.subgroups():
                pending.append((f"{path.rstrip('/')}/{name}", store.child(name)))
        return out

    def open_datatree(
        self,
        filename_or_obj: Any,
        **kwargs: Any,
    ) -> DataTree:
        """The hierarchy under `group` as a DataTree of lazy Datasets."""
        return datatree_from_dict_with_io_cleanup(self.open_groups_as_dict(filename_or_obj, **kwargs))


_OPEN_MODES = ("r", "r+", "a", "w", "w-")


def _data_store(source: Any, options: Mapping[str, Any]) -> ZarrlayerDataStore:
    """The data store of the group `options["group"]` under `source`, opened with the engine's options.

    `engine`, `synchronizer` and `cache_members` are accepted as xarray's zarr engine accepts
    them and change nothing here: zarrlayer needs no synchronizer (reads take no locks,
    parallel writes are refused unless chunk-aligned) and always reads a group's members
    once per open. `chunk_store` (a separate store for chunks) is not supported.
    """
    options = dict(options)
    mode = options["mode"]
    if mode not in _OPEN_MODES:
        raise ModeError(f"engine='zarrlayer' mode must be one of {_OPEN_MODES}, found {mode!r}")
    if options["chunk_store"] is not None:
        raise ValueError(
            "engine='zarrlayer' keeps chunks beside their metadata; a separate chunk_store "
            f"is not supported (found chunk_store={options['chunk_store']!r})"
        )
    options["zarr_format"] = _zarr_format(options["zarr_format"], options["zarr_version"])
    if options["store"] is not None:
        source, prefix = _unwrap_xarray_store(options["store"])
        options["group"] = join_path(prefix, options["group"])
    names = ("group", "consolidated", "storage_options", "store_cache", "zarr_format", "mode")
    root = open_group_for_xarray(source, **{name: options[name] for name in names})
    return ZarrlayerDataStore(root, use_zarr_fill_value_as_mask=options["use_zarr_fill_value_as_mask"])


def _zarr_format(zarr_format: int | None, zarr_version: int | None) -> int | None:
    """`zarr_format`, or the deprecated `zarr_version` spelling of it (both given: they must agree)."""
    if zarr_version is None:
        return zarr_format
    if zarr_format is not None and zarr_format != zarr_version:
        raise ValueError(f"zarr_format={zarr_format} and zarr_version={zarr_version} disagree; give zarr_format only")
    warnings.warn("zarr_version is deprecated; use zarr_format", FutureWarning, stacklevel=4)
    return zarr_version


def _unwrap_xarray_store(store: Any) -> tuple[Any, str]:
    """What an xarray `ZarrStore` passed as `store=` opened: its zarr-python store and group path."""
    group = getattr(store, "zarr_group", None)
    if group is None:
        return store, ""
    return group.store, str(getattr(group, "path", "") or "")


def _decoders(params: Mapping[str, Any]) -> dict[str, Any]:
    names = (
        "mask_and_scale",
        "decode_times",
        "concat_characters",
        "decode_coords",
        "drop_variables",
        "use_cftime",
        "decode_timedelta",
    )
    return {name: params[name] for name in names}


