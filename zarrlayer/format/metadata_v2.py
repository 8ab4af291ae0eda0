"""Zarr v2 array metadata (`.zarray` plus `.zattrs`).

A v2 `fill_value: null` parses to `fill_value=None`: "no fill value". Core then fills new
and missing chunks with zeros (numeric), empty strings / bytes (object) as zarr-python does,
and writes `null` back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numcodecs.abc import Codec

from zarrlayer.errors import CodecError, MetadataError
from zarrlayer.format.codecs.registry import get_numcodec
from zarrlayer.format.codecs.v2 import V2CodecPipeline
from zarrlayer.format.common import V2_ARRAY_KEY, V2_ATTRS_KEY, dump_json, where
from zarrlayer.format.dtypes import DataType, parse_dtype_v2
from zarrlayer.format.fill_value import encode_fill_value, parse_fill_value
from zarrlayer.format.metadata import ArrayMetadata
from zarrlayer.format.metadata_v3 import check_evolve, parse_attributes, parse_shape

__all__ = ["ArrayV2Metadata", "parse_array_v2", "codec_config_v2"]

_OBJECT_CODEC_IDS = ("vlen-utf8", "vlen-bytes", "vlen-array", "json2", "msgpack2", "pickle", "categorize")


def codec_config_v2(codec: Codec) -> dict[str, Any]:
    """A numcodecs codec's config as zarr-python writes it in `.zarray` (zstd without `checksum: false`)."""
    config = codec.get_config()
    if config.get("id") == "zstd" and not config.get("checksum", False):
        config.pop("checksum", None)
    return config


@dataclass(frozen=True, eq=False)
class ArrayV2Metadata(ArrayMetadata):
    """A parsed v2 `.zarray` (with its `.zattrs`); `codecs` is ready to decode chunks."""

    shape: tuple[int, ...]
    data_type: DataType
    chunk_grid_shape: tuple[int, ...]
    fill_value: Any
    codecs: V2CodecPipeline
    order: Literal["C", "F"] = "C"
    dimension_separator: Literal[".", "/"] = "."
    attributes: dict[str, Any] = field(default_factory=dict)
    compressor_json: dict[str, Any] | None = None
    filters_json: list[dict[str, Any]] | None = None

    zarr_format = 2
    dimension_names = None
    sharding = None

    @property
    def dtype(self) -> np.dtype:  # type: ignore[override]
        """The in-memory numpy dtype, in the stored byte order (`>i4` stays big-endian)."""
        return self.data_type.numpy

    @property
    def compressor(self) -> Codec | None:
        """The numcodecs compressor, or None."""
        return self.codecs.compressor

    @property
    def filters(self) -> tuple[Codec, ...] | None:
        """The numcodecs filters, or None."""
        return self.codecs.filters or None

    def chunk_key(self, coords: tuple[int, ...]) -> str:
        """`0.1` (or `0/1`); `0` for a 0-d array."""
        return self.dimension_separator.join(map(str, coords)) or "0"

    def to_json(self) -> dict[str, Any]:
        """The `.zarray` object, keys in zarr-python's order."""
        return {
            "shape": list(self.shape),
            "chunks": list(self.chunk_grid_shape),
            "dtype": self.data_type.to_json_v2(),
            "fill_value": encode_fill_value(self.fill_value, self.data_type, zarr_format=2),
            "order": self.order,
            "filters": self.filters_json,
            "dimension_separator": self.dimension_separator,
            "compressor": self.compressor_json,
            "zarr_format": 2,
        }

    def to_documents(self) -> dict[str, bytes]:
        """`.zarray` and `.zattrs` (always, so that clearing attributes is written too)."""
        return {V2_ARRAY_KEY: dump_json(self.to_json()), V2_ATTRS_KEY: dump_json(self.attributes)}

    def evolve(self, **changes: Any) -> ArrayV2Metadata:
        """A copy with `shape=` or `attributes=` changed."""
        return dataclasses.replace(self, **check_evolve(self, changes, ("shape", "attributes")))

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        return isinstance(other, ArrayV2Metadata) and self.to_json() == other.to_json() and self.attributes == other.attributes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ArrayV2Metadata(shape={self.shape}, dtype={self.dtype.str!r}, chunks={self.chunks}, order={self.order!r}, "
            f"compressor={self.compressor_json!r}, filters={self.filters_json!r})"
        )


def _object_codec(filters: list[Any] | None, compressor: Any) -> str | None:
    for config in [*(filters or []), compressor]:
        if isinstance(config, dict) and config.get("id") in _OBJECT_CODEC_IDS:
            return config["id"]
    return None


def parse_array_v2(document: dict[str, Any], attributes: dict[str, Any], *, path: str) -> ArrayV2Metadata:
    """Validate and parse a v2 `.zarray` document (and the `.zattrs` object that goes with it)."""
    at = where(path, V2_ARRAY_KEY)
    if document.get("zarr_format") != 2:
        raise MetadataError(f"{at}: expected zarr_format 2, found {document.get('zarr_format')!r}")
    for key in ("shape", "chunks", "dtype", "compressor", "fill_value"):
        if key not in document:
            raise MetadataError(f"{at}: an array document needs {key!r}, which is missing")
    shape = parse_shape(document["shape"], where=at)
    chunks = parse_shape(document["chunks"], where=at, name="chunks", positive=True)
    if len(chunks) != len(shape):
        raise MetadataError(f"{at}: chunks {list(chunks)} has {len(chunks)} dimensions, shape has {len(shape)}")
    order = document.get("order", "C")
    if order not in ("C", "F"):
        raise MetadataError(f"{at}: order must be 'C' or 'F', found {order!r}")
    separator = document.get("dimension_separator", ".")
    if separator is None:
        separator = "."
    if separator not in (".", "/"):
        raise MetadataError(f"{at}: dimension_separator must be '.' or '/', found {separator!r}")
    filters_json = document.get("filters")
    if filters_json is not None and not isinstance(filters_json, list):
        raise MetadataError(f"{at}: filters must be a list or null, found {filters_json!r}")
    filters_json = filters_json or None
    compressor_json = document["compressor"]
    data_type = parse_dtype_v2(document["dtype"], object_codec=_object_codec(filters_json, compressor_json), where=at)
    filters = [get_numcodec(f, where=at) for f in filters_json or []]
    compressor = get_numcodec(compressor_json, where=at) if compressor_json is not None else None
    fill_value = parse_fill_value(document["fill_value"], data_type, zarr_format=2, where=at)
    try:
        codecs = V2CodecPipeline(filters, compressor, shape=chunks, dtype=data_type.numpy, order=order, fill_value=fill_value)
    except CodecError as exc:
        raise CodecError(f"{at}: {exc}") from None
    return ArrayV2Metadata(
        shape=shape,
        data_type=data_type,
        chunk_grid_shape=chunks,
        fill_value=fill_value,
        codecs=codecs,
        order=order,
        dimension_separator=separator,
        attributes=parse_attributes(attributes, where=where(path, V2_ATTRS_KEY)),
        compressor_json=compressor_json,
        filters_json=filters_json,
    )
