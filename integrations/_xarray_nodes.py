"""The few places the integrations touch zarrlayer's Array and Group API, gathered in one module."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "array_codecs",
    "create_child_array",
    "is_array",
    "is_group",
    "members",
    "metadata_json",
    "publish_growth",
    "put_attrs",
    "resize_array",
    "settle_growth",
    "stage_growth",
    "value_dtype",
    "zarr_format_of",
]

_CREATE_KEYS = ("chunks", "shards", "compressors", "filters", "serializer", "chunk_key_encoding")


def zarr_format_of(node: Any) -> int:
    """2 or 3: the Zarr format of an Array or Group."""
    return int(node.metadata.zarr_format)


def is_array(node: Any) -> bool:
    """Whether `node` is a zarrlayer Array (duck-typed: it has a shape and a dtype)."""
    return hasattr(node, "shape") and hasattr(node, "dtype")


def is_group(node: Any) -> bool:
    """Whether `node` is a zarrlayer Group."""
    return hasattr(node, "members") and not is_array(node)


def members(group: Any) -> dict[str, Any]:
    """The direct children of `group`, by name (one listing, or none with consolidated metadata)."""
    return dict(group.members())


def metadata_json(array: Any) -> dict[str, Any]:
    """The JSON object of the array's main metadata document."""
    metadata = array.metadata
    for method in ("to_json", "to_dict"):
        if hasattr(metadata, method):
            return dict(getattr(metadata, method)())
    return {}


def _is_vlen_utf8(array: Any) -> bool:
    doc = metadata_json(array)
    if doc.get("zarr_format") == 3 or "data_type" in doc:
        return doc.get("data_type") == "string"
    filters = doc.get("filters") or ()
    return any(isinstance(f, Mapping) and f.get("id") == "vlen-utf8" for f in filters)


def value_dtype(array: Any) -> np.dtype:
    """The dtype xarray sees: numpy's StringDType for variable-length UTF-8 (as engine='zarr'), else the array's."""
    dtype = np.dtype(array.dtype)
    if dtype.kind == "O" and _is_vlen_utf8(array):
        return np.dtype(np.dtypes.StringDType())
    return dtype


def array_codecs(array: Any) -> dict[str, Any]:
    """The array's `compressors`, `filters` and `serializer` (v3), as its API reports them."""
    grouped = getattr(array, "_codec_groups", None)
    if callable(grouped):
        filters, serializer, compressors = grouped()
    else:
        filters, serializer, compressors = array.filters, array.serializer, array.compressors
    return {
        "compressors": tuple(compressors or ()),
        "filters": tuple(filters or ()),
        "serializer": serializer,
    }


def _invalid_attrs(err: Exception, where: str) -> Exception:
    from ._regions import InvalidWriteError

    return InvalidWriteError(f"Invalid attribute in Dataset.attrs. (the attrs of {where}): {err}")


def put_attrs(node: Any, attrs: dict[str, Any]) -> None:
    """Replace the attributes of `node` by `attrs` in one metadata write (InvalidWriteError if not JSON)."""
    from zarrlayer.errors import MetadataError

    try:
        _put_attrs(node, attrs)
    except (MetadataError, TypeError) as err:
        raise _invalid_attrs(err, f"group {node.path or '/'!r}") from None


def _put_attrs(node: Any, attrs: dict[str, Any]) -> None:
    current = node.attrs
    if hasattr(current, "put"):
        current.put(attrs)
    elif hasattr(node, "update_attributes"):
        stale = set(dict(current)) - set(attrs)
        for key in stale:
            del current[key]
        node.update_attributes(attrs)
    else:
        current.clear()
        current.update(attrs)


def resize_array(array: Any, shape: Sequence[int]) -> Any:
    """`array` grown (or shrunk) to `shape`; the resized Array."""
    result = array.resize(tuple(shape))
    return array if result is None else result


def stage_growth(array: Any, shape: Sequence[int]) -> Any:
    """A handle on `array` as if grown to `shape`, with no metadata written (published later by `publish_growth`)."""
    staged = getattr(array, "staged", None)
    if staged is None:
        return resize_array(array, shape)
    return staged(tuple(shape))


def publish_growth(arrays: Sequence[Any]) -> None:
    """Store the shapes of staged handles: consolidated documents first (one write each), then each array's own."""
    from zarrlayer.core.array import publish_shapes

    publish_shapes([a for a in arrays if hasattr(a, "staged")])


def settle_growth(group: Any) -> int:
    """Finish an append cut short after its shapes were published in the consolidated metadata of `group`
    and before the arrays' own documents were written: each array whose own document differs from its
    consolidated record only by a smaller shape gets the consolidated one. Returns how many did."""
    from zarrlayer.core.nodes import load_nodes
    from zarrlayer.format import ArrayMetadata

    if getattr(group.metadata, "consolidated", None) is None:
        return 0
    arrays = [a for a in members(group).values() if is_array(a) and hasattr(a, "staged")]
    own = load_nodes(group.store, [a.path for a in arrays], zarr_format=zarr_format_of(group))
    behind = []
    for array, stored in zip(arrays, own, strict=True):
        listed = array.metadata
        if not isinstance(stored, ArrayMetadata) or tuple(stored.shape) == tuple(listed.shape):
            continue
        ranks = len(stored.shape) == len(listed.shape)
        grown = ranks and all(o <= n for o, n in zip(stored.shape, listed.shape, strict=True))
        if grown and stored.evolve(shape=tuple(listed.shape)).to_json() == listed.to_json():
            behind.append(array.staged(tuple(listed.shape)))
    publish_growth(behind)
    return len(behind)


def _codec_arg(value: Any) -> Any:
    """Codec objects from another library (zarr-python's) as their JSON form, which zarrlayer parses."""
    if isinstance(value, (list, tuple)):
        return [_codec_arg(v) for v in value]
    if hasattr(value, "to_dict") and not hasattr(value, "get_config"):
        return value.to_dict()
    return value


def create_child_array(
    group: Any,
    name: str,
    *,
    shape: tuple[int, ...],
    dtype: Any,
    fill_value: Any,
    encoding: Mapping[str, Any],
    dims: tuple[Hashable, ...],
    attrs: dict[str, Any],
    overwrite: bool,
) -> Any:
    """A new array `name` in `group` for an encoded xarray variable (`_ARRAY_DIMENSIONS` or dimension_names)."""
    from xarray.coding.strings import check_vlen_dtype

    kwargs: dict[str, Any] = {}
    for key in _CREATE_KEYS:
        if encoding.get(key) is not None:
            codecs = key in ("compressors", "filters", "serializer")
            kwargs[key] = _codec_arg(encoding[key]) if codecs else encoding[key]
    for key in ("chunks", "shards"):
        if isinstance(kwargs.get(key), tuple | list):
            kwargs[key] = tuple(max(int(c), 1) for c in kwargs[key])  # a zero-length dimension's chunk holds 1
    if check_vlen_dtype(dtype) is str or np.dtype(dtype).kind == "T" or _fixed_unicode_with_vlen(dtype, kwargs):
        dtype = str
    attrs = dict(attrs)
    if zarr_format_of(group) == 3:
        kwargs["dimension_names"] = tuple(dims)
    else:
        attrs["_ARRAY_DIMENSIONS"] = list(dims)
    from zarrlayer.errors import MetadataError

    try:
        return _create(group, name, shape, dtype, fill_value, attrs, overwrite, kwargs)
    except MetadataError as err:
        if "JSON" not in str(err):
            raise
        raise _invalid_attrs(err, f"variable {name!r}") from None


def _create(
    group: Any, name: str, shape: Any, dtype: Any, fill_value: Any, attrs: Any, overwrite: bool, kwargs: Any
) -> Any:
    return group.create_array(
        name,
        shape=tuple(shape),
        dtype=dtype,
        fill_value=fill_value,  # an explicit None is v2's `null`, as zarr-python writes it
        attributes=attrs,
        overwrite=overwrite,
        **kwargs,
    )


def _codec_id(codec: Any) -> str | None:
    if isinstance(codec, Mapping):
        return codec.get("id") or codec.get("name")
    return getattr(codec, "codec_id", None)


def _fixed_unicode_with_vlen(dtype: Any, kwargs: Mapping[str, Any]) -> bool:
    """A fixed-width str dtype whose encoding asks for the vlen-utf8 filter: store variable-length strings.

    This is what a string variable read from Zarr v2 carries; zarr-python would write the
    invalid pair (`<U4` with vlen-utf8) and then refuse to read it back.
    """
    if np.dtype(dtype).kind != "U":
        return False
    return any(_codec_id(f) == "vlen-utf8" for f in kwargs.get("filters") or ())

