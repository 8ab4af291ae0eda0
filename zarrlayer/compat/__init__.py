"""The bridge between zarrlayer and zarr-python stores, both ways.

`as_zarr_store(store)` gives zarr-python, xarray's engine="zarr" and dask.array.from_zarr a
`zarr.abc.store.Store` over any zarrlayer store or cache stack; `from_zarr_store(zstore)`
gives zarrlayer a Store over a zarr-python store. zarr is imported only when a bridge is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zarrlayer.compat._adapter import ZarrPythonStore, is_zarr_python_store
from zarrlayer.compat._errors import BridgeReadOnlyError
from zarrlayer.errors import MissingDependencyError
from zarrlayer.storage._base import Store

if TYPE_CHECKING:
    from zarrlayer.compat._bridge import BridgeStore

__all__ = [
    "BridgeReadOnlyError",
    "BridgeStore",
    "ZarrPythonStore",
    "as_zarr_store",
    "from_zarr_store",
    "is_bridge_store",
    "is_zarr_python_store",
]


def _bridge_module() -> Any:
    try:
        from zarrlayer.compat import _bridge
    except ModuleNotFoundError as e:
        if e.name is None or not e.name.startswith("zarr") or e.name.startswith("zarrlayer"):
            raise
        raise MissingDependencyError(
            "as_zarr_store needs zarr-python (>=3.1), which is not installed; install it: pip install 'zarr>=3.1'"
        ) from e
    return _bridge


def as_zarr_store(
    store: Any,
    *,
    cache: Any = None,
    read_only: bool | None = None,
    storage_options: dict[str, Any] | None = None,
) -> BridgeStore:
    """A `zarr.abc.store.Store` over a zarrlayer store or cache stack, for zarr-python, xarray and dask.

    Hand it to `zarr.open_group(store=...)`, `xr.open_zarr(...)`, `xr.open_dataset(...,
    engine="zarr")`, `Dataset.to_zarr(...)` or `dask.array.from_zarr`/`to_zarr`.

    `store` is a zarrlayer Store (a cache stack included) or anything zarrlayer opens a
    store from: a path, a URL (with `storage_options`), a dict, an fsspec mapper.
    `cache` adds zarrlayer's caching tiers in front of it, as `cache=` of
    `zarrlayer.open_group` does ("memory", "disk", a dict of tier options, or a cache Store).
    `read_only=None` keeps the store's mode. A zarr-python store comes back as itself (with
    `cache`, wrapped: the cache then sits in front of it). Raises UnsupportedStoreError
    (a TypeError) for anything else, MissingDependencyError when zarr-python is missing.
    """
    if cache is None and isinstance(store, ZarrPythonStore):
        store = store.zarr_store
    if cache is None and is_zarr_python_store(store):
        if read_only is not None and bool(read_only) != store.read_only:
            return store.with_read_only(bool(read_only))
        return store
    if not isinstance(store, Store):
        store = _zarrlayer_store(store, read_only=read_only, storage_options=storage_options)
    elif storage_options:
        raise TypeError("storage_options apply to URLs only; as_zarr_store was given a Store")
    if cache is not None:
        from zarrlayer.cache import resolve_cache

        store = resolve_cache(store, cache)
    bridge: BridgeStore = _bridge_module().BridgeStore(store, read_only=read_only)
    return bridge


def _zarrlayer_store(store: Any, *, read_only: bool | None, storage_options: dict[str, Any] | None) -> Store:
    from zarrlayer.storage.resolve import ACCEPTED_STORES, UnsupportedStoreError, make_store, type_name

    try:
        return make_store(store, mode="r" if read_only else None, storage_options=storage_options)
    except UnsupportedStoreError:
        raise UnsupportedStoreError(
            f"as_zarr_store expects {ACCEPTED_STORES}, found {type_name(store)}"
        ) from None


def from_zarr_store(zstore: Any) -> Store:
    """A zarrlayer Store over the zarr-python store `zstore` (a bridge gives back the store it wraps)."""
    if is_bridge_store(zstore):
        return zstore.store
    return ZarrPythonStore(zstore)


def is_bridge_store(obj: object) -> bool:
    """Whether `obj` is a BridgeStore (False, without importing zarr, when the bridge was never loaded)."""
    import sys

    module = sys.modules.get("zarrlayer.compat._bridge")
    return module is not None and isinstance(obj, module.BridgeStore)


def __getattr__(name: str) -> Any:
    if name in ("BridgeStore", "SyncBridgeStore"):
        return getattr(_bridge_module(), name)
    raise AttributeError(f"module 'zarrlayer.compat' has no attribute {name!r}")
