"""Turning what a user passes to xarray (a path, URL, store, StorePath or Group) into a zarrlayer Group."""

from __future__ import annotations

import os
from typing import Any

from zarrlayer.integrations._xarray_nodes import is_group

__all__ = ["open_group_for_xarray", "resolve_store"]


def resolve_store(
    source: Any,
    *,
    mode: str,
    storage_options: dict[str, Any] | None = None,
    store_cache: Any = None,
) -> tuple[Any, str]:
    """`(store, path)` for `source`: implicit store creation, then the cache tier when `store_cache` is given."""
    from zarrlayer.storage.resolve import make_store_path

    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    store_path = make_store_path(source, mode=mode, storage_options=storage_options)
    store, path = store_path.store, store_path.path
    if store_cache is not None:
        from zarrlayer.cache import resolve_cache

        store = resolve_cache(store, store_cache)
    return store, path


def _join(*parts: str | None) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def open_group_for_xarray(
    source: Any,
    *,
    group: str | None = None,
    mode: str = "r",
    consolidated: bool | None = None,
    storage_options: dict[str, Any] | None = None,
    store_cache: Any = None,
    zarr_format: int | None = None,
) -> Any:
    """The Group at `group` under `source`, read through consolidated metadata when there is some.

    Consolidated metadata is looked for at the root of `source`, as xarray's engine does,
    so a subgroup of a consolidated hierarchy opens without listing.
    """
    import zarrlayer

    if is_group(source):
        return source[group.strip("/")] if group and group.strip("/") else source
    store, base = resolve_store(source, mode=mode, storage_options=storage_options, store_cache=store_cache)
    if consolidated is False:
        return zarrlayer.open_group(
            store, mode=mode, path=_join(base, group), zarr_format=zarr_format, use_consolidated=False
        )
    root = zarrlayer.open_group(store, mode=mode, path=base, zarr_format=zarr_format, use_consolidated=consolidated)
    return root[group.strip("/")] if group and group.strip("/") else root
