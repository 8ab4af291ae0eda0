"""Turning what a user passes to xarray (a path, URL, store, StorePath or Group) into a zarrlayer Group."""

from __future__ import annotations

import os
from typing import Any

from zarrlayer.integrations._xarray_nodes import is_group

__all__ = ["join_path", "open_group_for_xarray"]


def join_path(*parts: str | None) -> str:
    """Node path parts joined with '/', empty parts and outer slashes dropped."""
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
    from zarrlayer.api import open_group

    group = join_path(group)
    if is_group(source):
        return source[group] if group else source
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    options = {"mode": mode, "zarr_format": zarr_format, "storage_options": storage_options, "cache": store_cache}
    if consolidated is False:
        return open_group(source, path=group or None, use_consolidated=False, **options)
    root = open_group(source, use_consolidated=consolidated, **options)
    return root[group] if group else root
