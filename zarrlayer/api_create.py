"""zarr-python's array constructors: zeros, ones, full, empty, their `*_like` forms, create, from_array, open_like.

They are thin spellings of `zarrlayer.create_array` with zarr-python's defaults (float64
when no dtype is given, chunks guessed) and its keyword names, including the zarr-python 2
ones it still takes (`compressor=`, `chunk_shape=`, `dimension_separator=`, `codecs=`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zarrlayer.api import create_array, open_array
from zarrlayer.core.array import Array
from zarrlayer.core.create import DEFAULT_FILL_VALUE, merge_compressor
from zarrlayer.errors import ArgumentError, ArgumentTypeError

__all__ = [
    "create",
    "empty",
    "empty_like",
    "from_array",
    "full",
    "full_like",
    "ones",
    "ones_like",
    "open_like",
    "zeros",
    "zeros_like",
]

_SERIALIZER_NAMES = {"bytes", "vlen-utf8", "vlen-bytes", "sharding_indexed"}


def _split_codecs(codecs: Any) -> tuple[Any, Any, Any]:
    """(filters, serializer, compressors) of a full v3 codec list (dicts or codec objects with `to_dict`)."""
    items = [c.to_dict() if hasattr(c, "to_dict") else c for c in codecs]
    names = [c.get("name") if isinstance(c, dict) else None for c in items]
    at = next((i for i, n in enumerate(names) if n in _SERIALIZER_NAMES), None)
    if at is None:
        raise ArgumentError(f"expected a serializer (one of {sorted(_SERIALIZER_NAMES)}) in codecs, found {names}")
    return items[:at], items[at], items[at + 1 :]


def _chunks(chunks: Any, chunk_shape: Any, shape: Any) -> Any:
    """zarr.create's chunks: None/True guess, False one chunk, int or tuple as given; `chunk_shape` is an alias."""
    if chunk_shape is not None:
        if chunks is not None and tuple(np.atleast_1d(chunks)) != tuple(np.atleast_1d(chunk_shape)):
            raise ArgumentError(f"give the chunk shape once: chunks={chunks!r} and chunk_shape={chunk_shape!r} differ")
        chunks = chunk_shape
    if chunks is None or chunks is True:
        return "auto"
    if chunks is False:
        return tuple(np.atleast_1d(shape))
    return chunks


def create(
    shape: Any,
    *,
    chunks: Any = None,
    dtype: Any = None,
    compressor: Any = "auto",
    fill_value: Any = DEFAULT_FILL_VALUE,
    order: str | None = None,
    store: Any = None,
    overwrite: bool = False,
    path: str | None = None,
    filters: Any = None,
    read_only: bool = False,
    object_codec: Any = None,
    dimension_separator: str | None = None,
    write_empty_chunks: bool | None = None,
    zarr_format: int | None = None,
    attributes: dict[str, Any] | None = None,
    chunk_shape: Any = None,
    chunk_key_encoding: Any = None,
    codecs: Any = None,
    dimension_names: Any = None,
    storage_options: dict[str, Any] | None = None,
    config: Any = None,
    mode: str | None = None,
    cache: Any = None,
    compressors: Any = "auto",
    shards: Any = None,
    data: Any = None,
) -> Array:
    """A new array of `shape` (dtype float64 unless given), with zarr-python's `zarr.create` options; `data` is written.

    Returns it read-only when `read_only`. ContainsArrayError/ContainsGroupError when a node is
    there and neither `overwrite` nor mode 'w' was given; UnsupportedFeatureError (a ValueError)
    for `write_empty_chunks=True`.
    """
    serializer: Any = "auto"
    if codecs is not None:
        filters, serializer, compressors = _split_codecs(codecs)
    compressors = merge_compressor(compressors, compressor)
    if object_codec is not None:
        filters = [object_codec, *(filters or [])]
    if dimension_separator is not None:
        if chunk_key_encoding is not None:
            raise ArgumentError("give dimension_separator= or chunk_key_encoding=, not both")
        chunk_key_encoding = dimension_separator if zarr_format == 2 else {
            "name": "default", "configuration": {"separator": dimension_separator},
        }
    if write_empty_chunks is not None:
        config = {**(config or {}), "write_empty_chunks": write_empty_chunks}
    array = create_array(
        store, name=path, shape=shape, dtype="f8" if dtype is None else dtype,
        chunks=_chunks(chunks, chunk_shape, shape), shards=shards, fill_value=fill_value,
        compressors=compressors, filters="auto" if filters is None and codecs is None else filters,
        serializer=serializer, order=order, dimension_names=dimension_names, attributes=attributes,
        chunk_key_encoding=chunk_key_encoding, zarr_format=zarr_format, overwrite=overwrite,
        storage_options=storage_options, cache=cache, mode=mode, config=config,
    )
    if data is not None:
        array[...] = data
    if read_only:
        return Array(array.store.with_read_only(True), array.path, array.metadata)
    return array


def zeros(shape: Any, **kwargs: Any) -> Array:
    """A new array of zeros (fill value 0; no chunk is written); options as `create`."""
    return create(shape=shape, **{**kwargs, "fill_value": 0})


def ones(shape: Any, **kwargs: Any) -> Array:
    """A new array of ones (fill value 1; no chunk is written); options as `create`."""
    return create(shape=shape, **{**kwargs, "fill_value": 1})


def empty(shape: Any, **kwargs: Any) -> Array:
    """A new array whose unwritten chunks read as the fill value (the data type's default); options as `create`."""
    return create(shape=shape, **kwargs)


def full(shape: Any, fill_value: Any, **kwargs: Any) -> Array:
    """A new array filled with `fill_value` (no chunk is written); options as `create`."""
    return create(shape=shape, fill_value=fill_value, **kwargs)


def _like_args(a: Any) -> dict[str, Any]:
    """create's options that copy `a`: shape, dtype, chunks; for an Array also fill value, codecs and format."""
    args: dict[str, Any] = {"shape": np.shape(a)}
    dtype = getattr(a, "dtype", None)
    args["dtype"] = np.asarray(a).dtype if dtype is None else dtype
    chunks = getattr(a, "chunks", None)
    if chunks is not None:
        args["chunks"] = chunks
    if isinstance(a, Array):
        args.update(fill_value=a.fill_value, zarr_format=a.zarr_format, shards=a.shards, filters=list(a.filters))
        args["compressors"] = list(a.compressors)
        if a.zarr_format == 2:
            args["order"] = a.order
        elif a.serializer is not None:
            args["codecs"] = [*a.filters, a.serializer, *a.compressors]
            del args["filters"], args["compressors"]
    return args


def _like(a: Any, kwargs: dict[str, Any], fill: Any = None, zarr_format: int | None = None) -> dict[str, Any]:
    options = {**_like_args(a), **kwargs}
    if zarr_format is not None:
        if zarr_format != options.get("zarr_format", zarr_format):
            options.pop("codecs", None)
            options.pop("compressors", None)
            options.pop("filters", None)
            options.pop("shards", None) if zarr_format == 2 else None
        options["zarr_format"] = zarr_format
    if "codecs" in options and ("compressors" in kwargs or "compressor" in kwargs or "filters" in kwargs):
        del options["codecs"]
    if fill is not None:
        options["fill_value"] = fill
    if options.get("shards") and "sharding_indexed" in str(options.get("codecs")):
        options.pop("shards")
    return options


def zeros_like(a: Any, zarr_format: int | None = None, **kwargs: Any) -> Array:
    """`zeros` with the shape, dtype and chunks of `a` (and the codecs and format of an Array, unless `zarr_format`)."""
    return create(**_like(a, kwargs, fill=0, zarr_format=zarr_format))


def ones_like(a: Any, zarr_format: int | None = None, **kwargs: Any) -> Array:
    """`ones` shaped like `a`."""
    return create(**_like(a, kwargs, fill=1, zarr_format=zarr_format))


def empty_like(a: Any, zarr_format: int | None = None, **kwargs: Any) -> Array:
    """`empty` shaped like `a` (an Array's fill value is kept)."""
    return create(**_like(a, kwargs, zarr_format=zarr_format))


def full_like(a: Any, zarr_format: int | None = None, **kwargs: Any) -> Array:
    """`full` shaped like `a`: `fill_value=` or, for an Array, its fill value."""
    options = _like(a, kwargs, zarr_format=zarr_format)
    if "fill_value" not in options:
        raise ArgumentTypeError("full_like needs fill_value= when `a` is not a zarrlayer Array")
    return create(**options)


def open_like(a: Any, path: str, zarr_format: int | None = None, **kwargs: Any) -> Array:
    """The array at `path` (a store-like), created shaped like `a` when missing (zarr-python's `open_like`)."""
    options = _like(a, kwargs, zarr_format=zarr_format)
    options.pop("codecs", None)
    shape = options.pop("shape")
    return open_array(path, shape=shape, **options)


def from_array(
    store: Any,
    *,
    data: Any,
    write_data: bool = True,
    name: str | None = None,
    chunks: Any = "keep",
    shards: Any = "keep",
    filters: Any = "keep",
    compressors: Any = "keep",
    serializer: Any = "keep",
    fill_value: Any = None,
    order: str | None = None,
    zarr_format: int | None = None,
    attributes: dict[str, Any] | None = None,
    chunk_key_encoding: Any = None,
    dimension_names: Any = None,
    storage_options: dict[str, Any] | None = None,
    overwrite: bool = False,
    config: Any = None,
    cache: Any = None,
) -> Array:
    """A new array in `store` with the shape, dtype and data of `data` (an Array or any array-like).

    'keep' copies the source Array's chunks, shards, codecs (same format only) and fill value
    (also `fill_value=None`); for other array-likes 'keep' means the defaults. Data is copied one
    block (shard or chunk row) at a time, so a large source never sits in memory whole.
    """
    source = data if isinstance(data, Array) else None
    if source is None and _is_chunked(data):
        return _from_chunked(store, data, write_data=write_data, name=name, chunks=chunks, shards=shards,
                             filters=filters, compressors=compressors, serializer=serializer,
                             fill_value=fill_value, order=order, zarr_format=zarr_format, attributes=attributes,
                             chunk_key_encoding=chunk_key_encoding, dimension_names=dimension_names,
                             storage_options=storage_options, overwrite=overwrite, config=config, cache=cache)
    if source is None:
        data = np.asarray(data)
    same_format = source is not None and (zarr_format is None or zarr_format == source.zarr_format)
    fmt = zarr_format if zarr_format is not None else (source.zarr_format if source is not None else None)

    def keep(value: Any, kept: Any, default: Any = "auto") -> Any:
        if not (isinstance(value, str) and value == "keep"):
            return value
        return kept if same_format else default

    options: dict[str, Any] = dict(
        chunks=keep(chunks, source.chunks if source is not None else None, "auto") if source is not None
        else ("auto" if chunks == "keep" else chunks),
        shards=keep(shards, source.shards if source is not None else None, None),
        filters=keep(filters, list(source.filters) if source is not None else None),
        compressors=keep(compressors, list(source.compressors) if source is not None else None),
        serializer=keep(serializer, source.serializer if source is not None else None),
    )
    if source is not None and options["shards"] and options["serializer"] is not None:
        if "sharding" in str(options["serializer"]):
            options["serializer"] = "auto"
    if options["serializer"] is None:
        options["serializer"] = "auto"
    if fill_value is None:
        fill_value = source.fill_value if source is not None else DEFAULT_FILL_VALUE
    if dimension_names is None and source is not None and fmt == 3:
        dimension_names = getattr(source.metadata, "dimension_names", None)
    array = create_array(
        store, name=name, shape=data.shape, dtype=data.dtype, fill_value=fill_value, order=order,
        zarr_format=fmt, attributes=attributes, chunk_key_encoding=chunk_key_encoding,
        dimension_names=dimension_names,
        storage_options=storage_options, overwrite=overwrite, cache=cache, config=config, **options,
    )
    if write_data and array.size:
        _copy_blocks(data, array)
    return array


def _is_chunked(data: Any) -> bool:
    """An array-like with a regular chunk shape of its own (a zarr-python Array, say), read block by block."""
    chunks = getattr(data, "chunks", None)
    return (
        not isinstance(data, np.ndarray)
        and hasattr(data, "shape") and hasattr(data, "dtype")
        and isinstance(chunks, tuple) and all(isinstance(c, int) for c in chunks)
    )


def _from_chunked(store: Any, data: Any, **options: Any) -> Array:
    """from_array of a chunked array-like: 'keep' takes its chunks, shards and fill value; codecs are the defaults."""
    kept = {"chunks": data.chunks, "shards": getattr(data, "shards", None), "filters": "auto",
            "compressors": "auto", "serializer": "auto"}
    for key, value in kept.items():
        if isinstance(options[key], str) and options[key] == "keep":
            options[key] = value
    if options["fill_value"] is None:
        options["fill_value"] = getattr(data, "fill_value", None)
        if options["fill_value"] is None:
            options["fill_value"] = DEFAULT_FILL_VALUE
    write_data = options.pop("write_data")
    array = create_array(store, shape=data.shape, dtype=data.dtype, **options)
    if write_data and array.size:
        _copy_blocks(data, array)
    return array


def _copy_blocks(data: Any, target: Array) -> None:
    """Copy `data` into `target` along the first axis, one row of storage blocks at a time."""
    if target.ndim == 0:
        target[...] = np.asarray(data[...])
        return
    step = (target.shards or target.chunks)[0]
    for start in range(0, target.shape[0], step):
        region = slice(start, min(start + step, target.shape[0]))
        target[region] = np.asarray(data[region])

