"""Array metadata from create_array's user-facing options, with zarr-python 3.1's defaults.

The options are turned into the JSON document zarr-python would write and then parsed,
so a created array is validated exactly like one that is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from numcodecs.abc import Codec

from zarrlayer.errors import CodecError, MetadataError
from zarrlayer.format.chunk_keys import ChunkKeyEncoding, parse_chunk_key_encoding
from zarrlayer.format.codecs.registry import codec_from_numcodecs, get_numcodec
from zarrlayer.format.dtypes import DataType, data_type_from_user
from zarrlayer.format.fill_value import coerce_fill_value, default_fill_value, encode_fill_value
from zarrlayer.format.metadata import ArrayMetadata
from zarrlayer.format.metadata_v2 import codec_config_v2, parse_array_v2
from zarrlayer.format.metadata_v3 import parse_array_v3, parse_shape

__all__ = ["DEFAULT_FILL_VALUE", "build_array_metadata"]


class _DefaultFill:
    """The `fill_value` of a caller who gave none (explicit None means a null fill in v2, as in zarr-python)."""

    def __repr__(self) -> str:
        return "DEFAULT_FILL_VALUE"


DEFAULT_FILL_VALUE: Any = _DefaultFill()

_WHERE = "create_array"


def build_array_metadata(
    *,
    zarr_format: Literal[2, 3],
    shape: Sequence[int],
    dtype: Any,
    chunks: Sequence[int],
    shards: Sequence[int] | None = None,
    fill_value: Any = DEFAULT_FILL_VALUE,
    compressors: Any = "auto",
    filters: Any = "auto",
    serializer: Any = "auto",
    order: Literal["C", "F"] | None = None,
    dimension_names: Sequence[str | None] | None = None,
    attributes: dict[str, Any] | None = None,
    chunk_key_encoding: Any = None,
) -> ArrayMetadata:
    """The metadata of a new array; codecs may be numcodecs objects, v3 JSON dicts or lists of those.

    Without `fill_value` the data type's default is used (0, False, NaT, ""...); an explicit
    None is a null fill in v2 (as zarr-python writes it) and the default in v3.
    """
    if zarr_format not in (2, 3):
        raise MetadataError(f"{_WHERE}: zarr_format must be 2 or 3, found {zarr_format!r}")
    shape_t = parse_shape(list(shape), where=_WHERE)
    chunks_t = parse_shape(list(chunks), where=_WHERE, name="chunks", positive=True)
    if len(chunks_t) != len(shape_t):
        raise MetadataError(f"{_WHERE}: chunks {list(chunks_t)} has {len(chunks_t)} dimensions, shape has {len(shape_t)}")
    data_type = data_type_from_user(dtype, zarr_format=zarr_format, where=_WHERE)
    attributes = dict(attributes or {})
    if zarr_format == 2:
        if shards is not None:
            raise MetadataError(f"{_WHERE}: sharding needs Zarr v3 (zarr_format=3)")
        if not (serializer is None or _is_auto(serializer)):
            raise CodecError(f"{_WHERE}: Zarr v2 has no serializer; use filters and compressors")
        if dimension_names is not None:
            raise MetadataError(f"{_WHERE}: Zarr v2 arrays have no dimension_names (store them in attributes)")
        doc = _document_v2(shape_t, chunks_t, data_type, fill_value, compressors, filters, order, chunk_key_encoding)
        return parse_array_v2(doc, attributes, path="")
    doc = _document_v3(shape_t, chunks_t, shards, data_type, fill_value, compressors, filters, serializer, chunk_key_encoding)
    doc["attributes"] = attributes
    if dimension_names is not None:
        doc["dimension_names"] = list(dimension_names)
    doc.update(zarr_format=3, node_type="array", storage_transformers=[])
    return parse_array_v3(doc, path="")


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == "auto"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _codec_json_v3(codec: Any, data_type: DataType) -> dict[str, Any]:
    value = _codec_json_v3_raw(codec, data_type)
    if value.get("name") == "blosc":
        return _tune_blosc(value, getattr(codec, "_tunable_attrs", ()), data_type.numpy.itemsize)
    return value


def _tune_blosc(value: dict[str, Any], tunable: Any, itemsize: int) -> dict[str, Any]:
    """Fill blosc's typesize and shuffle from the data type where unset, as zarr-python does."""
    config = {k: v for k, v in value.get("configuration", {}).items() if k not in tunable}
    config.setdefault("typesize", itemsize)
    config.setdefault("cname", "zstd")
    config.setdefault("clevel", 5)
    config.setdefault("shuffle", "bitshuffle" if itemsize == 1 else "shuffle")
    config.setdefault("blocksize", 0)
    order = ("typesize", "cname", "clevel", "shuffle", "blocksize")
    return {"name": "blosc", "configuration": {k: config[k] for k in order} | config}


def _codec_json_v3_raw(codec: Any, data_type: DataType) -> dict[str, Any]:
    if isinstance(codec, dict):
        return codec
    if isinstance(codec, str):
        return {"name": codec}
    if isinstance(codec, Codec):
        get_numcodec(codec, where=_WHERE)
        return codec_from_numcodecs(codec, typesize=data_type.numpy.itemsize).to_json()
    if hasattr(codec, "to_json") and hasattr(codec, "name"):
        return codec.to_json()
    if hasattr(codec, "to_dict"):
        return codec.to_dict()
    raise CodecError(f"{_WHERE}: not a codec: {codec!r}; expected a numcodecs codec, a v3 JSON dict or a zarrlayer codec")


def _default_serializer(data_type: DataType) -> dict[str, Any]:
    if data_type.kind == "string":
        return {"name": "vlen-utf8", "configuration": {}}
    if data_type.kind == "bytes":
        return {"name": "vlen-bytes", "configuration": {}}
    dt = data_type.numpy
    if dt.itemsize <= 1 and dt.kind != "U" or dt.kind in "SV":
        return {"name": "bytes"}
    return {"name": "bytes", "configuration": {"endian": "little"}}


def _document_v3(
    shape: tuple[int, ...],
    chunks: tuple[int, ...],
    shards: Sequence[int] | None,
    data_type: DataType,
    fill_value: Any,
    compressors: Any,
    filters: Any,
    serializer: Any,
    chunk_key_encoding: Any,
) -> dict[str, Any]:
    fill = (
        default_fill_value(data_type)
        if fill_value is None or fill_value is DEFAULT_FILL_VALUE
        else coerce_fill_value(fill_value, data_type, where=_WHERE)
    )
    if _is_auto(compressors):
        compressors = [{"name": "zstd", "configuration": {"level": 0, "checksum": False}}]
    codecs = [_codec_json_v3(c, data_type) for c in _as_list(None if _is_auto(filters) else filters)]
    codecs.append(_default_serializer(data_type) if serializer is None or _is_auto(serializer) else _codec_json_v3(serializer, data_type))
    codecs += [_codec_json_v3(c, data_type) for c in _as_list(compressors)]
    grid = chunks
    if shards is not None:
        grid = parse_shape(list(shards), where=_WHERE, name="shards", positive=True)
        if len(grid) != len(chunks) or any(s % c for s, c in zip(grid, chunks)):
            raise MetadataError(f"{_WHERE}: shards {list(grid)} must have chunks {list(chunks)} dividing each dimension")
        index_codecs = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]
        sharding = {"chunk_shape": list(chunks), "codecs": codecs, "index_codecs": index_codecs, "index_location": "end"}
        codecs = [{"name": "sharding_indexed", "configuration": sharding}]
    key_encoding = parse_chunk_key_encoding(chunk_key_encoding or ChunkKeyEncoding(), where=_WHERE)
    return {
        "shape": list(shape),
        "data_type": data_type.to_json_v3(),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(grid)}},
        "chunk_key_encoding": key_encoding.to_json(),
        "fill_value": encode_fill_value(fill, data_type, zarr_format=3),
        "codecs": codecs,
    }


def _codec_json_v2(codec: Any) -> dict[str, Any]:
    if isinstance(codec, Codec):
        return codec_config_v2(get_numcodec(codec, where=_WHERE))
    if isinstance(codec, dict) and "id" in codec:
        return dict(codec)
    if isinstance(codec, dict) and isinstance(codec.get("name"), str):
        name = codec["name"].removeprefix("numcodecs.")
        config = dict(codec.get("configuration", {}))
        if name == "blosc" and isinstance(config.get("shuffle"), str):
            config["shuffle"] = ("noshuffle", "shuffle", "bitshuffle").index(config["shuffle"])
            config.pop("typesize", None)
        return codec_config_v2(get_numcodec({"id": name, **config}, where=_WHERE))
    raise CodecError(f"{_WHERE}: not a Zarr v2 codec: {codec!r}; expected a numcodecs codec or a {{'id': ...}} dict")


def _document_v2(
    shape: tuple[int, ...],
    chunks: tuple[int, ...],
    data_type: DataType,
    fill_value: Any,
    compressors: Any,
    filters: Any,
    order: Any,
    chunk_key_encoding: Any,
) -> dict[str, Any]:
    if fill_value is DEFAULT_FILL_VALUE:
        fill = default_fill_value(data_type)
    else:
        fill = None if fill_value is None else coerce_fill_value(fill_value, data_type, where=_WHERE)
    if _is_auto(compressors):
        compressors = [{"id": "zstd", "level": 0}]
    compressor_list = [_codec_json_v2(c) for c in _as_list(compressors)]
    if len(compressor_list) > 1:
        raise CodecError(f"{_WHERE}: Zarr v2 arrays take at most one compressor, found {len(compressor_list)}")
    filter_list = [_codec_json_v2(c) for c in _as_list(None if _is_auto(filters) else filters)]
    if data_type.object_codec and not any(f.get("id") == data_type.object_codec for f in filter_list):
        filter_list.insert(0, {"id": data_type.object_codec})
    if order not in (None, "C", "F"):
        raise MetadataError(f"{_WHERE}: order must be 'C' or 'F', found {order!r}")
    separator = "."
    if isinstance(chunk_key_encoding, str):
        separator = chunk_key_encoding
    elif chunk_key_encoding is not None:
        separator = parse_chunk_key_encoding(chunk_key_encoding, where=_WHERE).separator
    if separator not in (".", "/"):
        raise MetadataError(f"{_WHERE}: dimension_separator must be '.' or '/', found {separator!r}")
    return {
        "shape": list(shape),
        "chunks": list(chunks),
        "dtype": data_type.to_json_v2(),
        "fill_value": None if fill is None else encode_fill_value(fill, data_type, zarr_format=2),
        "order": order or "C",
        "filters": filter_list or None,
        "dimension_separator": separator,
        "compressor": compressor_list[0] if compressor_list else None,
        "zarr_format": 2,
    }

