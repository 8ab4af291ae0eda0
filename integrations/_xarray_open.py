"""Turning what a user passes to xarray (a path, URL, store, StorePath or Group) into a zarrlayer Group."""

from __future__ import annotations

import os
import warnings
from typing import Any

from zarrlayer.errors import ContainsArrayError, NodeNotFoundError
from ._xarray_nodes import is_group

__all__ = ["join_path", "open_group_for_xarray", "peer_dict_store"]


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
        return _subgroup(source, group)
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    source = peer_dict_store(source)
    if getattr(source, "supports_consolidated_metadata", True) is False:
        consolidated = False  # a zarr-python store that keeps no consolidated metadata, as zarr-python treats it
    options = {"mode": mode, "zarr_format": zarr_format, "storage_options": storage_options, "cache": store_cache}
    try:
        if consolidated is False:
            return open_group(source, path=group or None, use_consolidated=False, **options)
        root = open_group(source, use_consolidated=consolidated, **options)
    except FileNotFoundError as err:
        if err.args and isinstance(err.args[0], str) and "does not exist" not in err.args[0]:
            err.args = (f"{err.args[0]} (the store does not exist)", *err.args[1:])
        raise
    if consolidated is None and getattr(root.metadata, "consolidated", None) is None:
        warnings.warn(
            f"Failed to open Zarr store with consolidated metadata, but successfully read with "
            f"non-consolidated metadata ({root.store.url}). This is typically much slower for opening a "
            "dataset. Consolidate it (zarrlayer.consolidate_metadata), or pass consolidated=False to "
            "silence this warning (consolidated=True to make it an error)",
            RuntimeWarning,
            stacklevel=_user_stacklevel(),
        )
    return _subgroup(root, group)


def peer_dict_store(source: Any) -> Any:
    """A dict that zarr-python filled (its values are zarr-python Buffers, not bytes) as zarr-python's
    MemoryStore over it, which zarrlayer reads through the bridge; anything else unchanged."""
    if not isinstance(source, dict) or not source:
        return source
    if all(isinstance(v, bytes | bytearray | memoryview) for v in source.values()):
        return source
    if not all(hasattr(v, "to_bytes") for v in source.values()):
        return source
    from zarr.storage import MemoryStore

    return MemoryStore(source)


def _user_stacklevel() -> int:
    """The stacklevel of the first caller outside zarrlayer and xarray (where a warning should point)."""
    import sys
    from types import FrameType

    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not name.startswith(("zarrlayer", "xarray")):
            return level
        frame, level = frame.f_back, level + 1
    return 1


def _subgroup(root: Any, group: str) -> Any:
    """The group at path `group` below `root` (found through its consolidated metadata when present)."""
    if not group:
        return root
    where = f"group {root.path or '/'!r} of store {root.store.url}"
    try:
        node = root[group]
    except KeyError as err:
        raise NodeNotFoundError(f"expected a group {group!r} below {where}; there is none") from err
    if not is_group(node):
        raise ContainsArrayError(f"expected a group at {group!r} below {where}; found an array")
    return node
