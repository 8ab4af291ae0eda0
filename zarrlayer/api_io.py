"""zarr-python's convenience calls: save / save_array / save_group, load, tree, create_hierarchy, print_debug_info."""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from zarrlayer.api import _resolve, create_array, open
from zarrlayer.core.array import Array
from zarrlayer.core.create import create_nodes
from zarrlayer.core.group import Group
from zarrlayer.core.nodes import NodeMetadata
from zarrlayer.errors import ArgumentError, ArgumentTypeError

__all__ = ["create_hierarchy", "load", "print_debug_info", "save", "save_array", "save_group", "tree"]


def _ndarray(value: Any, what: str) -> np.ndarray:
    if np.isscalar(value):
        return np.asarray(value)
    if not hasattr(value, "shape") or not hasattr(value, "dtype"):
        raise ArgumentTypeError(f"expected a numpy (or other ndarray-like) array for {what}, found {type(value).__name__}")
    return np.asarray(value)


def save_array(
    store: Any,
    arr: Any,
    *,
    zarr_format: int | None = None,
    path: str | None = None,
    storage_options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Write `arr` as a new array at `path` (chunks from `arr.chunks` when it has them); options as create_array.

    `mode='w'` (or `overwrite=True`) replaces a node that is there; otherwise ContainsArrayError/ContainsGroupError.
    """
    data = _ndarray(arr, "arr")
    mode = kwargs.pop("mode", "a")
    overwrite = bool(kwargs.pop("overwrite", False)) or mode == "w"
    chunks = kwargs.pop("chunks", None) or getattr(arr, "chunks", None) or "auto"
    create_array(
        store, name=path, data=data, chunks=chunks, zarr_format=zarr_format,
        storage_options=storage_options, overwrite=overwrite, **kwargs,
    )


def save_group(
    store: Any,
    *args: Any,
    zarr_format: int | None = None,
    path: str | None = None,
    storage_options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Write several arrays into the group at `path`: positional ones as 'arr_0', 'arr_1'..., keyword ones by name."""
    arrays = {f"arr_{i}": _ndarray(a, f"positional argument {i}") for i, a in enumerate(args)}
    arrays.update({name: _ndarray(a, f"keyword argument {name!r}") for name, a in kwargs.items()})
    if not arrays:
        raise ArgumentError("save_group needs at least one array to save")
    from zarrlayer.api import open_group

    group = open_group(store, mode="a", path=path, zarr_format=zarr_format, storage_options=storage_options)
    for name, data in arrays.items():
        group.create_array(name, data=data)


def save(
    store: Any,
    *args: Any,
    zarr_format: int | None = None,
    path: str | None = None,
    storage_options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """`save_array` for one positional array and nothing else, else `save_group`."""
    if len(args) == 1 and not kwargs:
        save_array(store, args[0], zarr_format=zarr_format, path=path, storage_options=storage_options)
        return
    save_group(store, *args, zarr_format=zarr_format, path=path, storage_options=storage_options, **kwargs)


def load(store: Any, path: str | None = None, zarr_format: int | None = None) -> Any:
    """The data of the array at `path` as a numpy array, or of a group's direct arrays as a dict {name: ndarray}.

    zarr-python loads arrays only (a group raises NotImplementedError there).
    """
    node = open(store, mode="r", path=path, zarr_format=zarr_format)
    if isinstance(node, Array):
        return node[...]
    return {name: array[...] for name, array in node.arrays()}


def tree(grp: Group, expand: bool | None = None, level: int | None = None) -> Any:
    """`grp.tree(expand, level)`."""
    return grp.tree(expand=expand, level=level)


def create_hierarchy(
    *, store: Any, nodes: dict[str, NodeMetadata], overwrite: bool = False
) -> Iterator[tuple[str, Array | Group]]:
    """Create every node of `nodes` (path -> zarrlayer ArrayMetadata/GroupMetadata) and the groups between them.

    All checks come before any write; yields (path, Array or Group) for each given node.
    """
    zstore, root = _resolve(store, path=None, mode="a", storage_options=None, cache=None)
    return iter(create_nodes(zstore, root, nodes, overwrite=overwrite))


_PACKAGES = (
    "zarrlayer", "numpy", "numcodecs", "crc32c", "fsspec", "s3fs", "gcsfs", "aiohttp", "obstore",
    "diskcache", "xarray", "dask", "distributed", "zarr",
)


def print_debug_info() -> None:
    """Print the Python, platform and package versions, for bug reports."""
    print(f"platform: {platform.platform()}")
    print(f"python: {sys.version.split()[0]}")
    missing = []
    for package in _PACKAGES:
        try:
            print(f"{package}: {version(package)}")
        except PackageNotFoundError:
            missing.append(package)
    if missing:
        print("not installed: " + ", ".join(missing))
