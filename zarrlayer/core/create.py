"""Creating arrays and groups: existence checks, implicit parents, automatic chunk shapes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zarrlayer import config
from zarrlayer.core.array import Array, _parse_shape
from zarrlayer.core.io import delete_keys, join_path
from zarrlayer.core.nodes import encode_metadata, ensure_parents, node_exists, write_metadata
from zarrlayer.core.sync import sync
from zarrlayer.errors import ContainsArrayError, ContainsGroupError, ModeError, ReadOnlyError
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
    "guess_chunks",
    "refuse_existing",
]


_TARGET_MIN = 128 * 1024
_TARGET_MAX = 64 * 1024 * 1024
_TARGET_STEP = 256 * 1024


def guess_chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """A chunk shape of roughly 0.1-1 MiB for small arrays, growing slowly with the array's size."""
    if not shape:
        return ()
    chunks = [max(int(s), 1) for s in shape]
    total = math.prod(chunks) * itemsize
    target = _TARGET_STEP * 2 ** math.log10(max(total, 1) / (1024 * 1024))
    target = min(max(target, _TARGET_MIN), _TARGET_MAX)
    axis = 0
    while True:
        nbytes = math.prod(chunks) * itemsize
        if nbytes <= target or (nbytes <= _TARGET_MAX and nbytes - target < target * 0.5) or all(
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


def _format(zarr_format: int | None) -> int:
    if zarr_format is None:
        return config.get().default_zarr_format
    if zarr_format not in (2, 3):
        raise ModeError(f"expected zarr_format 2 or 3, found {zarr_format!r}")
    return int(zarr_format)


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
) -> Array:
    """Write a new array's metadata at `path` (and missing parents); write `data` when given."""
    zarr_format = _format(zarr_format)
    if data is not None:
        data = np.asarray(data)
        shape = data.shape if shape is None else shape
        dtype = data.dtype if dtype is None else dtype
    if shape is None:
        raise ValueError(f"create_array at '{path}' needs a shape (or data=)")
    if dtype is None:
        raise ValueError(f"create_array at '{path}' needs a dtype (or data=)")
    shape = _parse_shape(shape)
    if data is not None and tuple(data.shape) != shape:
        raise ValueError(f"expected data of shape {shape}, found {data.shape}")
    chunks = _resolve_chunks(chunks, shards, shape, dtype)
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
        order=order,
        dimension_names=dimension_names,
        attributes=attributes,
        chunk_key_encoding=chunk_key_encoding,
    )
    _write_new_node(store, path, metadata, overwrite)
    array = Array(store, path, metadata)
    if data is not None and data.size:
        array[...] = data
    return array


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
