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


def as_zarr_store(store: Any, *, read_only: bool | None = None) -> BridgeStore:
    """A `zarr.abc.store.Store` over the zarrlayer store or cache stack `store`.

    Hand it to `zarr.open_group(store=...)`, `xr.open_zarr(...)`, `xr.open_dataset(...,
    engine="zarr")`, `Dataset.to_zarr(...)` or `dask.array.from_zarr`/`to_zarr`. A
    zarr-python store, a zarr-python adapter or a bridge comes back as the zarr-python store
    it is. `read_only=None` keeps `store`'s mode. TypeError for anything else that is not a
    zarrlayer Store; MissingDependencyError when zarr-python is not installed.
    """
    if isinstance(store, ZarrPythonStore):
        store = store.zarr_store
    if is_zarr_python_store(store):
        if read_only is not None and bool(read_only) != store.read_only:
            return store.with_read_only(bool(read_only))  # type: ignore[no-any-return]
        return store  # type: ignore[no-any-return]
    if not isinstance(store, Store):
        from zarrlayer.storage.resolve import UnsupportedStoreError

        raise UnsupportedStoreError(
            f"as_zarr_store expects a zarrlayer Store or cache stack (or a zarr-python store), "
            f"found {type(store).__module__}.{type(store).__qualname__}"
        )
    bridge: BridgeStore = _bridge_module().BridgeStore(store, read_only=read_only)
    return bridge


def from_zarr_store(zstore: Any) -> Store:
    """A zarrlayer Store over the zarr-python store `zstore` (a bridge gives back the store it wraps)."""
    if is_bridge_store(zstore):
        return zstore.store  # type: ignore[no-any-return]
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
