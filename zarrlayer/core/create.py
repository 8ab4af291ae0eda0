"""Creating arrays and groups: existence checks, implicit parents, automatic chunk shapes."""

from __future__ import annotations

import math
from typing import Any, Literal, cast

import numpy as np

from zarrlayer import config
from zarrlayer.core.array import Array, _parse_shape
from zarrlayer.core.io import delete_keys, join_path
from zarrlayer.core.nodes import encode_metadata, ensure_parents, node_exists, write_metadata
from zarrlayer.core.selection import coerce_value
from zarrlayer.core.sync import sync
from zarrlayer.errors import (
    ArgumentError,
    ContainsArrayError,
    ContainsGroupError,
    ModeError,
    ReadOnlyError,
    UnsupportedFeatureError,
)
from zarrlayer.format import (
    V2_ARRAY_KEY,
    V2_ATTRS_KEY,
    V2_CONSOLIDATED_KEY,
    V2_GROUP_KEY,
    V3_METADATA_KEY,
    ArrayMetadata,
    GroupMetadata,
    build_array_metadata,
)
from zarrlayer.format.build import DEFAULT_FILL_VALUE
from zarrlayer.storage._base import Store

__all__ = [
    "DEFAULT_FILL_VALUE",
    "clear_node",
    "create_array_node",
    "create_group_node",
    "array_config",
    "create_nodes",
    "guess_chunks",
    "like_options",
    "merge_compressor",
    "refuse_existing",
]


_TARGET_MIN = 128 * 1024
_TARGET_MAX = 64 * 1024 * 1024
_TARGET_STEP = 256 * 1024


def guess_chunks(shape: tuple[int, ...], itemsize: int, *, max_bytes: int = _TARGET_MAX) -> tuple[int, ...]:
    """A chunk shape of roughly 0.1-1 MiB for small arrays, growing slowly with the array's size (at most `max_bytes`)."""
    if not shape:
        return ()
    chunks = [max(int(s), 1) for s in shape]
    total = math.prod(chunks) * itemsize
    target = _TARGET_STEP * 2 ** math.log10(max(total, 1) / (1024 * 1024))
    target = min(max(target, _TARGET_MIN), max_bytes)
    axis = 0
    while True:
        nbytes = math.prod(chunks) * itemsize
        if nbytes <= target or (nbytes <= max_bytes and nbytes - target < target * 0.5) or all(
            c == 1 for c in chunks
        ):
            break
        if chunks[axis % len(chunks)] > 1:
            chunks[axis % len(chunks)] = -(-chunks[axis % len(chunks)] // 2)
        axis += 1
    return tuple(chunks)


def refuse_existing(store: Store, path: str, node: Any) -> None:
    """Raise ContainsArrayError or ContainsGroupError for the existing `node` at `path`."""
    kind = "an array" if isinstance(node, ArrayMetadata) else "a group"
    error = ContainsArrayError if isinstance(node, ArrayMetadata) else ContainsGroupError
    raise error(
        f"{kind} already exists at path '{path}' in store {store.url}; "
        "pass overwrite=True (or mode='w') to replace it"
    )


def clear_node(store: Store, path: str) -> None:
    """Delete the node at `path` and everything below it."""
    if not path:
        sync(store.clear())
        return
    sync(store.delete_dir(path))
    names = (V3_METADATA_KEY, V2_ARRAY_KEY, V2_GROUP_KEY, V2_ATTRS_KEY, V2_CONSOLIDATED_KEY)
    delete_keys(store, [join_path(path, n) for n in names])
    from zarrlayer.core.consolidation import forget_in_step

    forget_in_step(store, path)


def _write_new_node(store: Store, path: str, metadata: ArrayMetadata | GroupMetadata, overwrite: bool) -> None:
    """Write `metadata` as a new node at `path` with its missing parents; every check comes before any write."""
    encode_metadata(store, path, metadata)
    kind = "an array" if isinstance(metadata, ArrayMetadata) else "a group"
    if store.read_only:
        raise ReadOnlyError(f"cannot create {kind} at '{path}': store {store.url} is read-only")
    existing = node_exists(store, path)
    if existing is not None:
        if not overwrite:
            refuse_existing(store, path, existing)
        clear_node(store, path)
    ensure_parents(store, path, metadata.zarr_format)
    write_metadata(store, path, metadata)


def create_group_node(
    store: Store,
    path: str,
    *,
    zarr_format: int | None = None,
    attributes: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Any:
    """Write a new group at `path` (and any missing parent groups); returns a Group."""
    from zarrlayer.core.group import Group

    zarr_format = _format(zarr_format)
    metadata = GroupMetadata(zarr_format=zarr_format, attributes=dict(attributes or {}))
    _write_new_node(store, path, metadata, overwrite)
    return Group(store, path, metadata)


def _format(zarr_format: int | None) -> Literal[2, 3]:
    if zarr_format is None:
        return config.get().default_zarr_format
    if zarr_format == 2:
        return 2
    if zarr_format == 3:
        return 3
    raise ModeError(f"expected zarr_format 2 or 3, found {zarr_format!r}")


def create_array_node(
    store: Store,
    path: str,
    *,
    shape: Any = None,
    dtype: Any = None,
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
    data: Any = None,
    compressor: Any = "auto",
    config: Any = None,
    write_data: bool = True,
    storage_options: Any = None,
) -> Array:
    """Write a new array's metadata at `path` (and missing parents); write `data` when given.

    `compressor` is zarr-python's single-codec spelling of `compressors`; `config` an array config
    (dict or object with `order`/`write_empty_chunks`); `write_data=False` writes only the metadata.
    `storage_options` is accepted for zarr-python's signature (the store already exists here).
    """
    zarr_format = _format(zarr_format)
    compressors = merge_compressor(compressors, compressor)
    order = array_config(config, order)
    if data is not None:
        data = _as_data(data, dtype, path)
        shape = data.shape if shape is None else shape
        dtype = data.dtype if dtype is None else dtype
    if shape is None:
        raise ArgumentError(f"create_array at '{path}' needs a shape (or data=)")
    if dtype is None:
        raise ArgumentError(f"create_array at '{path}' needs a dtype (or data=)")
    shape = _parse_shape(shape)
    if data is not None and tuple(data.shape) != shape:
        raise ArgumentError(f"expected data of shape {shape}, found {data.shape}")
    if isinstance(shards, str) and shards == "auto":
        chunks, shards = _auto_shards(chunks, shape, dtype)
    chunks = _resolve_chunks(chunks, shards, shape, dtype)
    _check_fill_value(fill_value, dtype, path)
    metadata = build_array_metadata(
        zarr_format=zarr_format,
        shape=shape,
        dtype=dtype,
        chunks=chunks,
        shards=tuple(shards) if shards is not None else None,
        fill_value=fill_value,
        compressors=compressors,
        filters=filters,
        serializer=serializer,
        order=cast(Literal["C", "F"] | None, order),
        dimension_names=dimension_names,
        attributes=attributes,
        chunk_key_encoding=chunk_key_encoding,
    )
    _write_new_node(store, path, metadata, overwrite)
    array = Array(store, path, metadata)
    if data is not None and data.size and write_data:
        array[...] = data
    return array


def merge_compressor(compressors: Any, compressor: Any) -> Any:
    """`compressors`, or zarr-python's single `compressor` (None: no compression) when that was given instead."""
    if isinstance(compressor, str) and compressor == "auto":
        return compressors
    if not (isinstance(compressors, str) and compressors == "auto"):
        raise ArgumentError(
            f"give the compression once: compressors={compressors!r} and compressor={compressor!r} were both given"
        )
    return None if compressor is None else (compressor,)


def array_config(config: Any, order: str | None) -> str | None:
    """The memory order from zarr-python's array `config` (a dict or an ArrayConfig-like object).

    zarrlayer never stores a chunk of only fill values, and hands out C-ordered arrays, so
    `write_empty_chunks=True` and an in-memory order other than 'C' are refused
    (UnsupportedFeatureError, a ValueError) rather than ignored.
    """
    if config is None:
        return order
    get = config.get if isinstance(config, dict) else (lambda k, d=None: getattr(config, k, d))
    unknown = set(config) - {"order", "write_empty_chunks"} if isinstance(config, dict) else set()
    if unknown:
        raise ArgumentError(f"expected array config keys 'order' and 'write_empty_chunks', found {sorted(unknown)}")
    if get("write_empty_chunks", False):
        raise UnsupportedFeatureError(
            "write_empty_chunks=True is not supported: zarrlayer never stores a chunk of only fill values"
        )
    memory_order = get("order", None)
    if memory_order not in (None, "C"):
        raise UnsupportedFeatureError(
            f"array config order={memory_order!r} is not supported: reads return C-ordered arrays; "
            "pass order= to choose the stored chunk order of a v2 array"
        )
    return order


def like_options(data: Any, kwargs: dict[str, Any], keep_fill: bool = False) -> dict[str, Any]:
    """create_array options taking shape, dtype (and chunks, fill value when `keep_fill`) from `data`.

    `data` may be an Array (its chunks, shards, fill value and format are kept unless given) or any
    array-like (its shape and dtype).
    """
    options: dict[str, Any] = {"shape": np.shape(data), "dtype": getattr(data, "dtype", None)}
    if options["dtype"] is None:
        options["dtype"] = np.asarray(data).dtype
    if isinstance(data, Array):
        options.update(chunks=data.chunks, shards=data.shards, zarr_format=data.zarr_format)
        if keep_fill:
            options["fill_value"] = data.fill_value
    options.update(kwargs)
    return options


def create_nodes(
    store: Store, root: str, nodes: dict[str, ArrayMetadata | GroupMetadata], *, overwrite: bool = False
) -> list[tuple[str, Any]]:
    """Write every node of `nodes` (paths relative to `root` -> metadata) and the groups implied between them.

    Everything is checked first (metadata encodes, no existing node unless `overwrite`, no array
    above another node), then written; returns (path, Array or Group) for each given node.
    """
    from zarrlayer.core.group import make_node

    if store.read_only:
        raise ReadOnlyError(f"cannot create nodes under '{root}': store {store.url} is read-only")
    ordered = sorted(((p.strip("/"), m) for p, m in nodes.items()), key=lambda item: item[0].count("/"))
    formats = {m.zarr_format for _, m in ordered}
    if len(formats) > 1:
        raise ArgumentError(f"expected nodes of one zarr_format, found {sorted(formats)}")
    for rel, metadata in ordered:
        encode_metadata(store, join_path(root, rel), metadata)
        if not overwrite:
            existing = node_exists(store, join_path(root, rel))
            if existing is not None:
                refuse_existing(store, join_path(root, rel), existing)
    given = dict(ordered)
    for rel, _ in ordered:
        parts = rel.split("/") if rel else []
        for i in range(len(parts)):
            parent = "/".join(parts[:i])
            if isinstance(given.get(parent), ArrayMetadata):
                raise ContainsArrayError(
                    f"cannot create '{rel}' below the array '{parent}' (under '{root}' in store {store.url})"
                )
    created = []
    for rel, metadata in ordered:
        _write_new_node(store, join_path(root, rel), metadata, overwrite)
        created.append((rel, make_node(store, join_path(root, rel), metadata)))
    return created


def _resolve_chunks(chunks: Any, shards: Any, shape: tuple[int, ...], dtype: Any) -> tuple[int, ...]:
    """The concrete chunk shape: 'auto' guesses one inside the shard (or array); -1/None spans the axis."""
    outer = tuple(shards) if shards is not None else shape
    if chunks is None or (isinstance(chunks, str) and chunks == "auto"):
        return guess_chunks(outer, _itemsize(dtype))
    if isinstance(chunks, (int, np.integer)):
        chunks = (int(chunks),) * len(shape)
    chunks = tuple(chunks)
    spans = tuple(max(s, 1) if c in (None, -1) else int(c) for c, s in zip(chunks, outer))
    return spans + tuple(chunks[len(outer) :])  # a rank mismatch is left for the metadata check to report


def _itemsize(dtype: Any) -> int:
    """Bytes per element for chunk guessing; 1 for variable-length strings, as zarr-python counts them."""
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        return 1
    return 1 if np_dtype.kind == "O" or np_dtype.itemsize == 0 else np_dtype.itemsize


def _as_data(data: Any, dtype: Any, path: str) -> np.ndarray:
    """`data` as an array; Python lists and scalars convert to `dtype` as numpy 2 does (300 into uint8 raises)."""
    if dtype is None or hasattr(data, "dtype"):
        return np.asarray(data)
    try:
        target = np.dtype(dtype)
    except TypeError:
        return np.asarray(data)
    return np.asarray(coerce_value(data, target, f"create_array at '{path}'"))


_AUTO_SHARD_CHUNK_MAX = 1024 * 1024


def _auto_shards(chunks: Any, shape: tuple[int, ...], dtype: Any) -> tuple[Any, tuple[int, ...]]:
    """zarr-python's `shards="auto"`: chunks of at most 1 MiB (when 'auto'), and a shard of 2 chunks
    along each axis that holds more than 8 chunks (one chunk along the others)."""
    if chunks is None or (isinstance(chunks, str) and chunks == "auto"):
        chunks = guess_chunks(shape, _itemsize(dtype), max_bytes=_AUTO_SHARD_CHUNK_MAX)
    inner = _resolve_chunks(chunks, None, shape, dtype)
    return inner, tuple(c * 2 if c and s // c > 8 else c for s, c in zip(shape, inner))


def _check_fill_value(fill_value: Any, dtype: Any, path: str) -> None:
    """An out-of-range Python integer fill value is an OverflowError, as numpy 2 and zarr-python raise."""
    if not isinstance(fill_value, (int, float)) or isinstance(fill_value, bool):
        return
    try:
        target = np.dtype(dtype)
    except TypeError:
        return
    if target.kind in "iu":
        try:
            coerce_value(fill_value, target, f"the fill value of create_array at '{path}'")
        except ArgumentError:
            return  # NaN and friends: the metadata check says what is wrong
