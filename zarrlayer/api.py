"""The public entry points, named and shaped like zarr-python 3's (`zarr.open_group` -> `zarrlayer.open_group`).

Each takes a store-like (a Store, a local path, a URL, a dict, None for memory), a `path`
inside it, an access `mode` ('r', 'r+', 'a', 'w', 'w-'), `storage_options` for remote
stores and `cache=` for the caching tier.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any

from zarrlayer.core.array import Array
from zarrlayer.core.create import DEFAULT_FILL_VALUE, array_config, create_array_node, create_group_node
from zarrlayer.core.group import Group, make_node
from zarrlayer.core.io import join_path
from zarrlayer.core.io import set_values
from zarrlayer.core.locks import hold
from zarrlayer.core.nodes import NodeMetadata, list_children, load_node
from zarrlayer.errors import (
    ArgumentError,
    ArgumentTypeError,
    ArrayNotFoundError,
    ContainsArrayError,
    ContainsGroupError,
    GroupNotFoundError,
    ModeError,
    NodeNotFoundError,
)
from zarrlayer.format import ArrayMetadata, GroupMetadata, build_consolidated
from zarrlayer.format.common import V2_CONSOLIDATED_KEY, V3_METADATA_KEY
from zarrlayer.storage._base import Store

__all__ = [
    "array",
    "consolidate_metadata",
    "create_array",
    "create_group",
    "group",
    "open",
    "open_array",
    "open_consolidated",
    "open_group",
]

_MODES = ("r", "r+", "a", "w", "w-")


def _check_mode(mode: str) -> str:
    if mode == "x":
        return "w-"
    if mode not in _MODES:
        raise ModeError(f"expected an access mode in {_MODES}, found {mode!r}")
    return mode


def _resolve(
    store_like: Any, *, path: str | None, mode: str, storage_options: dict[str, Any] | None, cache: Any
) -> tuple[Store, str]:
    """The store and node path for a store-like, read-only for mode 'r', wrapped in `cache` when given.

    Node-level modes ('w' clearing a node, 'w-' refusing one) are applied by the callers, so the
    store itself is opened with 'a' for them (a 'w' Zip archive would otherwise be truncated whole).
    """
    from zarrlayer.storage.resolve import AccessMode, make_store_path

    if isinstance(store_like, os.PathLike):
        store_like = os.fspath(store_like)
    store_mode: AccessMode = "r" if mode == "r" else "r+" if mode == "r+" else "a"
    try:
        store_path = make_store_path(store_like, path=path, mode=store_mode, storage_options=storage_options)
    except ModeError as exc:
        if store_mode == mode:
            raise
        raise ModeError(str(exc).replace(f"mode {store_mode!r}", f"mode {mode!r}")) from None
    store = store_path.store
    if cache is not None:
        try:
            from zarrlayer.cache import resolve_cache
        except ImportError as exc:
            raise ImportError(
                f"cache={cache!r} needs zarrlayer.cache.resolve_cache, which failed to import: {exc}"
            ) from exc
        store = resolve_cache(store, cache)
    return store, store_path.path


def _default_mode(store_like: Any, mode: str | None) -> str:
    """'a' unless given; 'r' for a read-only store passed without a mode."""
    if mode is not None:
        return _check_mode(mode)
    read_only = getattr(store_like, "read_only", None)
    if read_only is None and hasattr(store_like, "store"):
        read_only = getattr(store_like.store, "read_only", False)
    return "r" if read_only is True else "a"


def _creating(mode: str | None, overwrite: bool, what: str) -> bool:
    """Whether a create call replaces an existing node: `overwrite`, or mode 'w'; mode 'r' cannot create."""
    if mode is None:
        return overwrite
    mode = _check_mode(mode)
    if mode == "r":
        raise ModeError(f"cannot create {what} with mode 'r' (read-only); use 'a', 'w' or 'w-'")
    if mode == "w-" and overwrite:
        raise ModeError(f"mode 'w-' refuses to replace a node, but overwrite=True was given for {what}")
    return overwrite or mode == "w"


def _node_name(name: str | None, path: str | None) -> str | None:
    """`name`, or `path` as its synonym (zarr.create's spelling); both only when equal."""
    if path is None or name is None or name.strip("/") == path.strip("/"):
        return name if path is None else path
    raise ArgumentError(f"give the array's location once: name={name!r} and path={path!r} differ")


def _existing(
    store: Store,
    path: str,
    mode: str,
    zarr_format: int | None,
    use_consolidated: bool | None,
    missing: type[NodeNotFoundError] = GroupNotFoundError,
) -> NodeMetadata | None:
    """The node to open, or None where `mode` says to create one ('w', 'w-', or 'a' on a missing node).

    A missing node with mode 'r'/'r+' raises `missing` (GroupNotFoundError or ArrayNotFoundError, as zarr-python).
    """
    if mode in ("w", "w-"):
        return None
    try:
        return load_node(store, path, zarr_format=zarr_format, use_consolidated=use_consolidated)
    except NodeNotFoundError as exc:
        if mode != "a":
            raise missing(str(exc)) from None
        return None


def open_group(
    store: Any = None,
    *,
    mode: str | None = None,
    path: str | None = None,
    zarr_format: int | None = None,
    storage_options: dict[str, Any] | None = None,
    use_consolidated: bool | None = None,
    attributes: dict[str, Any] | None = None,
    cache: Any = None,
) -> Group:
    """Open the group at `path` ('r', 'r+', 'a'), or create one ('a' when missing, 'w', 'w-')."""
    mode = _default_mode(store, mode)
    zstore, node_path = _resolve(store, path=path, mode=mode, storage_options=storage_options, cache=cache)
    metadata = _existing(zstore, node_path, mode, zarr_format, use_consolidated)
    if metadata is None:
        return create_group_node(
            zstore, node_path, zarr_format=zarr_format, attributes=attributes, overwrite=mode == "w"
        )
    if isinstance(metadata, ArrayMetadata):
        raise ContainsArrayError(
            f"expected a group at path '{node_path}' in store {zstore.url}, found an array"
        )
    return Group(zstore, node_path, metadata)


def open_consolidated(
    store: Any = None, *, mode: str | None = "r", path: str | None = None, use_consolidated: bool = True, **kwargs: Any
) -> Group:
    """`open_group` that requires consolidated metadata (MetadataError when there is none)."""
    if use_consolidated is not True:
        raise ArgumentTypeError(f"open_consolidated needs use_consolidated=True, found {use_consolidated!r}; use open_group")
    return open_group(store, mode=mode, path=path, use_consolidated=True, **kwargs)


def open_array(
    store: Any = None,
    *,
    mode: str | None = None,
    path: str | None = None,
    zarr_format: int | None = None,
    storage_options: dict[str, Any] | None = None,
    cache: Any = None,
    config: Any = None,
    **create_kwargs: Any,
) -> Array:
    """Open the array at `path`; with 'w', 'w-' (or 'a' and a `shape`) create it from `create_kwargs`.

    `config` is zarr-python's array config, checked as the create functions check it.
    """
    array_config(config, None)
    if config is not None:
        create_kwargs["config"] = config
    mode = _default_mode(store, mode)
    zstore, node_path = _resolve(store, path=path, mode=mode, storage_options=storage_options, cache=cache)
    creates = mode != "a" or create_kwargs.get("shape") is not None or create_kwargs.get("data") is not None
    metadata = _existing(zstore, node_path, mode if creates else "r+", zarr_format, False, ArrayNotFoundError)
    if metadata is None:
        return create_array_node(zstore, node_path, zarr_format=zarr_format, overwrite=mode == "w", **create_kwargs)
    if isinstance(metadata, GroupMetadata):
        raise ContainsGroupError(f"expected an array at path '{node_path}' in store {zstore.url}, found a group")
    return Array(zstore, node_path, metadata)


def open(  # noqa: A001 - mirrors zarr.open
    store: Any = None,
    *,
    mode: str | None = None,
    path: str | None = None,
    zarr_format: int | None = None,
    storage_options: dict[str, Any] | None = None,
    use_consolidated: bool | None = None,
    cache: Any = None,
    config: Any = None,
    **kwargs: Any,
) -> Array | Group:
    """Open the array or group at `path`; create an array (with `shape=`) or a group where the mode allows.

    `config` is zarr-python's array config, checked as the create functions check it.
    """
    array_config(config, None)
    if config is not None:
        kwargs["config"] = config
    mode = _default_mode(store, mode)
    zstore, node_path = _resolve(store, path=path, mode=mode, storage_options=storage_options, cache=cache)
    wants_array = kwargs.get("shape") is not None or kwargs.get("data") is not None
    metadata = _existing(zstore, node_path, mode, zarr_format, use_consolidated)
    if metadata is not None:
        return make_node(zstore, node_path, metadata)
    if wants_array:
        return create_array_node(zstore, node_path, zarr_format=zarr_format, overwrite=mode == "w", **kwargs)
    return create_group_node(
        zstore, node_path, zarr_format=zarr_format, attributes=kwargs.get("attributes"), overwrite=mode == "w"
    )


def create_group(
    store: Any = None,
    *,
    path: str | None = None,
    zarr_format: int | None = None,
    overwrite: bool = False,
    attributes: dict[str, Any] | None = None,
    storage_options: dict[str, Any] | None = None,
    cache: Any = None,
    mode: str | None = None,
) -> Group:
    """A new group at `path`; ContainsArrayError/ContainsGroupError when a node is there and not `overwrite`.

    `mode='w'` means `overwrite=True`; 'a', 'r+', 'w-' keep the refusal; 'r' is a ModeError.
    """
    overwrite = _creating(mode, overwrite, "a group")
    zstore, node_path = _resolve(store, path=path, mode="w" if overwrite else "a", storage_options=storage_options, cache=cache)
    return create_group_node(zstore, node_path, zarr_format=zarr_format, attributes=attributes, overwrite=overwrite)


def group(
    store: Any = None,
    *,
    overwrite: bool = False,
    path: str | None = None,
    zarr_format: int | None = None,
    attributes: dict[str, Any] | None = None,
    storage_options: dict[str, Any] | None = None,
    cache: Any = None,
    mode: str | None = None,
) -> Group:
    """The group at `path`, created if missing (replaced when `overwrite`); `mode` as open_group."""
    if mode is None or overwrite:
        mode = "w" if _creating(mode, overwrite, "a group") else "a"
    return open_group(
        store, mode=mode, path=path, zarr_format=zarr_format,
        storage_options=storage_options, attributes=attributes, cache=cache,
    )


def create_array(
    store: Any = None,
    *,
    name: str | None = None,
    shape: Any = None,
    dtype: Any = None,
    data: Any = None,
    chunks: Any = "auto",
    shards: Any = None,
    fill_value: Any = DEFAULT_FILL_VALUE,
    compressors: Any = "auto",
    filters: Any = "auto",
    serializer: Any = "auto",
    order: str | None = None,
    dimension_names: Any = None,
    attributes: dict[str, Any] | None = None,
    chunk_key_encoding: Any = None,
    zarr_format: int | None = None,
    overwrite: bool = False,
    storage_options: dict[str, Any] | None = None,
    cache: Any = None,
    mode: str | None = None,
    path: str | None = None,
    config: Any = None,
    write_data: bool = True,
) -> Array:
    """A new array at `name` (or `path=`); codecs may be numcodecs objects or v3 JSON dicts; `data=` writes it too.

    `mode='w'` means `overwrite=True`; 'a', 'r+', 'w-' keep the refusal; 'r' is a ModeError.
    `config` is zarr-python's array config (see `core.create.array_config`); `write_data=False`
    writes only the metadata of an array created from `data`.
    """
    overwrite = _creating(mode, overwrite, "an array")
    name = _node_name(name, path)
    zstore, node_path = _resolve(store, path=name, mode="w" if overwrite else "a", storage_options=storage_options, cache=cache)
    return create_array_node(
        zstore, node_path, shape=shape, dtype=dtype, data=data, chunks=chunks, shards=shards,
        fill_value=fill_value, compressors=compressors, filters=filters, serializer=serializer,
        order=order, dimension_names=dimension_names, attributes=attributes,
        chunk_key_encoding=chunk_key_encoding, zarr_format=zarr_format, overwrite=overwrite,
        config=config, write_data=write_data,
    )


def array(data: Any, **kwargs: Any) -> Array:
    """A new array holding `data` (shape and dtype from it); options as create_array."""
    return create_array(data=data, **kwargs)


def _walk(store: Store, path: str, zarr_format: int) -> dict[str, ArrayMetadata | GroupMetadata]:
    """Every node below the group at `path`, by path relative to it (breadth first, listing each group)."""
    nodes: dict[str, ArrayMetadata | GroupMetadata] = {}
    queue: deque[str] = deque([""])
    while queue:
        rel = queue.popleft()
        for name, metadata in list_children(store, join_path(path, rel), zarr_format):
            child = join_path(rel, name)
            if isinstance(metadata, GroupMetadata):
                metadata = metadata.evolve(consolidated=None)
                queue.append(child)
            nodes[child] = metadata
    return nodes


def consolidate_metadata(
    store: Any, path: str | None = None, zarr_format: int | None = None, *, storage_options: dict[str, Any] | None = None
) -> Group:
    """Record the metadata of every node below the group at `path` in one document; returns the group."""
    zstore, node_path = _resolve(store, path=path, mode="r+", storage_options=storage_options, cache=None)
    root = load_node(zstore, node_path, zarr_format=zarr_format, use_consolidated=False)
    if isinstance(root, ArrayMetadata):
        raise ContainsArrayError(
            f"expected a group at path '{node_path}' in store {zstore.url} to consolidate, found an array"
        )
    # under the consolidated document's lock: a node created meanwhile in this process is either
    # walked here or added to the document in step after this write, never dropped from it
    with hold(zstore, [join_path(node_path, V3_METADATA_KEY), join_path(node_path, V2_CONSOLIDATED_KEY)]):
        nodes = _walk(zstore, node_path, root.zarr_format)
        documents = build_consolidated(nodes, zarr_format=2 if root.zarr_format == 2 else 3, root=root)
        set_values(zstore, [(join_path(node_path, name), value) for name, value in documents.items()])
    consolidated = load_node(zstore, node_path, zarr_format=root.zarr_format)
    assert isinstance(consolidated, GroupMetadata)
    return Group(zstore, node_path, consolidated)

