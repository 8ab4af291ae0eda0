"""zarrlayer: a fast, safe Zarr v2/v3 data-access layer."""

from __future__ import annotations

from zarrlayer import config
from zarrlayer.api import (
    array,
    consolidate_metadata,
    create_array,
    create_group,
    group,
    open,
    open_array,
    open_consolidated,
    open_group,
)
from zarrlayer.api_create import (
    create,
    empty,
    empty_like,
    from_array,
    full,
    full_like,
    ones,
    ones_like,
    open_like,
    zeros,
    zeros_like,
)
from zarrlayer.api_io import create_hierarchy, load, print_debug_info, save, save_array, save_group, tree
from zarrlayer.core import Array, Attributes, Group
from zarrlayer.compat import as_zarr_store

__version__ = "0.1.0"

__all__ = [
    "Array",
    "Attributes",
    "Group",
    "__version__",
    "array",
    "as_zarr_store",
    "config",
    "consolidate_metadata",
    "create",
    "create_array",
    "create_group",
    "create_hierarchy",
    "empty",
    "empty_like",
    "from_array",
    "full",
    "full_like",
    "group",
    "load",
    "ones",
    "ones_like",
    "open",
    "open_array",
    "open_consolidated",
    "open_group",
    "open_like",
    "print_debug_info",
    "save",
    "save_array",
    "save_group",
    "tree",
    "zeros",
    "zeros_like",
]
