"""Zarr v3 array metadata (`zarr.json` with node_type "array")."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zarrlayer import config as _settings
from zarrlayer.errors import CodecError, MetadataError, UnsupportedFeatureError
from zarrlayer.format.chunk_keys import ChunkKeyEncoding, parse_chunk_key_encoding
from zarrlayer.format.codecs.chain import pipeline_from_json
from zarrlayer.format.codecs.pipeline import ChunkCodecPipeline
from zarrlayer.format.codecs.sharding import ShardingCodec
from zarrlayer.format.common import V3_METADATA_KEY, dump_json, where
from zarrlayer.format.dtypes import DataType, parse_data_type_v3
from zarrlayer.format.fill_value import encode_fill_value, parse_fill_value
from zarrlayer.format.metadata import ArrayMetadata

__all__ = ["ArrayV3Metadata", "parse_array_v3", "check_extensions", "check_evolve", "parse_shape", "parse_attributes"]

_ARRAY_KEYS = {
    "zarr_format", "node_type", "shape", "data_type", "chunk_grid", "chunk_key_encoding",
    "fill_value", "codecs", "attributes", "dimension_names", "storage_transformers",
}


@dataclass(frozen=True, eq=False)
class ArrayV3Metadata(ArrayMetadata):
    """A parsed v3 array `zarr.json`; `codecs` is ready to decode chunks."""

    shape: tuple[int, ...]
    data_type: DataType
    chunk_grid_shape: tuple[int, ...]
    chunk_key_encoding: ChunkKeyEncoding
    fill_value: Any
    codecs: ChunkCodecPipeline
    attributes: dict[str, Any] = field(default_factory=dict)
    dimension_names: tuple[str | None, ...] | None = None
    extra_fields: dict[str, Any] = field(default_factory=dict)

    zarr_format = 3
    order = "C"

    @property
    def dtype(self) -> np.dtype:  # type: ignore[override]
        """The in-memory numpy dtype (object for variable-length strings and bytes)."""
        return self.data_type.numpy

    @property
    def sharding(self) -> ShardingCodec | None:  # type: ignore[override]
        """The sharding codec when the codecs are sharding_indexed alone, so that shards can be range-read.

        With an array -> array codec before it (transpose: the shard is stored in other axes)
        or a bytes -> bytes codec after it (zstd, crc32c: over the whole shard, index included),
        byte ranges of the stored object are not inner chunks. Such an array is read and
        written a whole shard at a time through the full codec pipeline, which decodes the
        outer codecs (bounded) before it parses the index; as in zarr-python, its `chunks`
        is then the shard shape and `shards` None.
        """
        serializer = self.codecs.array_bytes
        if isinstance(serializer, ShardingCodec) and not self.codecs.array_array and not self.codecs.bytes_bytes:
            return serializer
        return None

    def chunk_key(self, coords: tuple[int, ...]) -> str:
        """The key of the stored unit at grid `coords`, relative to the array's path."""
        return self.chunk_key_encoding.encode(coords)

    def to_json(self) -> dict[str, Any]:
        """The `zarr.json` object, keys in zarr-python's order."""
        doc: dict[str, Any] = {
            "shape": list(self.shape),
            "data_type": self.data_type.to_json_v3(),
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(self.chunk_grid_shape)}},
            "chunk_key_encoding": self.chunk_key_encoding.to_json(),
            "fill_value": encode_fill_value(self.fill_value, self.data_type, zarr_format=3),
            "codecs": self.codecs.to_json(),
            "attributes": self.attributes,
        }
        if self.dimension_names is not None:
            doc["dimension_names"] = list(self.dimension_names)
        doc.update(zarr_format=3, node_type="array", storage_transformers=[])
        doc.update(self.extra_fields)
        return doc

    def to_documents(self) -> dict[str, bytes]:
        """`{"zarr.json": ...}` formatted as zarr-python writes it."""
        return {V3_METADATA_KEY: dump_json(self.to_json())}

    def evolve(self, **changes: Any) -> ArrayV3Metadata:
        """A copy with `shape=`, `attributes=` or `dimension_names=` changed."""
        return dataclasses.replace(self, **check_evolve(self, changes, ("shape", "attributes", "dimension_names")))

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        return isinstance(other, ArrayV3Metadata) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ArrayV3Metadata(shape={self.shape}, dtype={self.data_type.to_json_v3()!r}, chunks={self.chunks}, "
            f"shards={self.shards}, codecs={[c.name for c in self.codecs.codecs]})"
        )


def check_evolve(metadata: ArrayMetadata, changes: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """`changes` for evolve(), checked: only `allowed` fields, a shape of the same rank, attributes an object."""
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"evolve() can change {', '.join(allowed)}, not {sorted(unknown)}")
    if "shape" in changes:
        changes["shape"] = parse_shape(list(changes["shape"]), where="evolve(shape=...)")
        if len(changes["shape"]) != len(metadata.shape):
            raise MetadataError(f"evolve(shape=...): expected {len(metadata.shape)} dimensions, found {len(changes['shape'])}")
    if "attributes" in changes:
        changes["attributes"] = parse_attributes(changes["attributes"], where="evolve(attributes=...)")
    return changes


def parse_shape(value: Any, *, where: str, name: str = "shape", positive: bool = False) -> tuple[int, ...]:
    """A list of non-negative (or positive) integers as a tuple; MetadataError otherwise."""
    lo = 1 if positive else 0
    if type(value) is list and all(type(v) is int for v in value) and (not value or min(value) >= lo):
        shape = tuple(value)  # the common case: a JSON list of plain ints
    elif not isinstance(value, (list, tuple)) or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= lo for v in value
    ):
        kind = "positive" if positive else "non-negative"
        raise MetadataError(f"{where}: {name} must be a list of {kind} integers, found {_short(value)}")
    else:
        shape = tuple(int(v) for v in value)
    if len(shape) > _MAX_NDIM or math.prod(shape) > _MAX_EXTENT or (shape and max(shape) > _MAX_EXTENT):
        raise MetadataError(
            f"{where}: {name} must have at most {_MAX_NDIM} dimensions and at most 2**63 - 1 elements "
            f"(numpy's limits), found {_short(value)}"
        )
    return shape


_MAX_NDIM = 64
_MAX_EXTENT = 2**63 - 1


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def parse_attributes(value: Any, *, where: str) -> dict[str, Any]:
    """Attributes must be a JSON object."""
    if not isinstance(value, dict):
        raise MetadataError(f"{where}: attributes must be a JSON object, found {type(value).__name__}")
    return value


def check_extensions(document: dict[str, Any], known: set[str], *, where: str) -> dict[str, Any]:
    """The unknown top-level fields that may be ignored (`must_understand: false`); refuse the others."""
    extra: dict[str, Any] = {}
    if document.keys() <= known:
        return extra
    for key in sorted(set(document) - known):
        value = document[key]
        if isinstance(value, dict) and value.get("must_understand") is False:
            extra[key] = value
        else:
            raise UnsupportedFeatureError(
                f"{where}: unknown field {key!r} must be understood (only objects with \"must_understand\": false may be ignored)"
            )
    return extra


def _chunk_grid(value: Any, ndim: int, where: str) -> tuple[int, ...]:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise MetadataError(f"{where}: chunk_grid must be an object with a name, found {value!r}")
    if value["name"] != "regular":
        raise UnsupportedFeatureError(f"{where}: chunk grid {value['name']!r} is not supported; expected 'regular'")
    config = value.get("configuration")
    if not isinstance(config, dict):
        raise MetadataError(f"{where}: regular chunk_grid needs a configuration object, found {config!r}")
    chunks = parse_shape(config.get("chunk_shape"), where=where, name="chunk_grid chunk_shape", positive=True)
    if len(chunks) != ndim:
        raise MetadataError(f"{where}: chunk_shape {list(chunks)} has {len(chunks)} dimensions, shape has {ndim}")
    return chunks


def _dimension_names(value: Any, ndim: int, where: str) -> tuple[str | None, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(v is None or isinstance(v, str) for v in value):
        raise MetadataError(f"{where}: dimension_names must be a list of strings or nulls, found {value!r}")
    if len(value) != ndim:
        raise MetadataError(f"{where}: dimension_names has {len(value)} entries, shape has {ndim} dimensions")
    return tuple(value)


_STRUCTURE_MEMO_SIZE = 512
_structure_memo: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def _evict_oldest() -> None:
    """Drop the oldest memo entry (insertion order), so an entry just made survives a full memo."""
    try:
        _structure_memo.pop(next(iter(_structure_memo)), None)
    except (StopIteration, RuntimeError):  # emptied or resized by another thread meanwhile
        pass
_PLAIN_FILLS = (int, float, str, bool)


def _structure_key(document: dict[str, Any]) -> tuple[Any, ...] | None:
    """A hashable key of everything but attributes and dimension names, for plain documents only.

    Plain: only known fields, a str data type, a scalar fill value, the regular grid and a
    chunk key encoding in their usual form. Anything else (extensions, complex fills...) is
    parsed in full every time.
    """
    try:
        grid, encoding, fill = document["chunk_grid"], document["chunk_key_encoding"], document["fill_value"]
        if not (
            document.keys() <= _ARRAY_KEYS
            and not document.get("storage_transformers")
            and type(document["data_type"]) is str
            and type(fill) in _PLAIN_FILLS
            and grid.keys() == {"name", "configuration"} and grid["configuration"].keys() == {"chunk_shape"}
            and encoding.keys() == {"name", "configuration"} and encoding["configuration"].keys() == {"separator"}
        ):
            return None
        shape, chunks = tuple(document["shape"]), tuple(grid["configuration"]["chunk_shape"])
        if not all(type(v) is int for v in shape + chunks):  # True == 1: bools must not hit an int entry
            return None
        key = (
            shape, document["data_type"], grid["name"], chunks,
            encoding["name"], encoding["configuration"]["separator"], type(fill),
            repr(fill) if type(fill) is float else fill,  # -0.0 == 0.0, yet they are different fill values
            repr(document["codecs"]), _settings.get().allow_unsafe_codecs,
        )
        hash(key)
        return key
    except (KeyError, TypeError, AttributeError):
        return None


def parse_array_v3(document: dict[str, Any], *, path: str) -> ArrayV3Metadata:
    """Validate and parse a v3 array document.

    The part shared by alike arrays (shape, data type, grid, keys, fill, codecs: all
    immutable once parsed) is parsed once per distinct plain document and reused, so a
    consolidated group of many alike arrays costs little more than its JSON.
    """
    at = where(path, V3_METADATA_KEY)
    key = _structure_key(document)
    structure = _structure_memo.get(key) if key is not None else None
    if structure is None:
        parsed = _parse_full(document, at)
        if key is not None:
            if len(_structure_memo) >= _STRUCTURE_MEMO_SIZE:
                _evict_oldest()
            _structure_memo[key] = (
                parsed.shape, parsed.data_type, parsed.chunk_grid_shape, parsed.chunk_key_encoding,
                parsed.fill_value, parsed.codecs,
            )
        return parsed
    shape, data_type, chunks, encoding, fill_value, codecs = structure
    return ArrayV3Metadata(
        shape=shape,
        data_type=data_type,
        chunk_grid_shape=chunks,
        chunk_key_encoding=encoding,
        fill_value=fill_value,
        codecs=codecs,
        attributes=parse_attributes(document.get("attributes", {}), where=at),
        dimension_names=_dimension_names(document.get("dimension_names"), len(shape), at),
    )


def _parse_full(document: dict[str, Any], at: str) -> ArrayV3Metadata:
    for key in ("shape", "data_type", "chunk_grid", "chunk_key_encoding", "fill_value", "codecs"):
        if key not in document:
            raise MetadataError(f"{at}: an array document needs {key!r}, which is missing")
    extra = check_extensions(document, _ARRAY_KEYS, where=at)
    if document.get("storage_transformers", []) not in ([], None):
        raise UnsupportedFeatureError(f"{at}: storage_transformers are not supported, found {document['storage_transformers']!r}")
    shape = parse_shape(document["shape"], where=at)
    data_type = parse_data_type_v3(document["data_type"], where=at)
    chunks = _chunk_grid(document["chunk_grid"], len(shape), at)
    fill_value = parse_fill_value(document["fill_value"], data_type, zarr_format=3, where=at)
    try:
        codecs = pipeline_from_json(document["codecs"], shape=chunks, dtype=data_type.numpy, fill_value=fill_value, where=at)
    except CodecError as exc:
        raise type(exc)(str(exc) if at in str(exc) else f"{at}: {exc}") from None
    return ArrayV3Metadata(
        shape=shape,
        data_type=data_type,
        chunk_grid_shape=chunks,
        chunk_key_encoding=parse_chunk_key_encoding(document["chunk_key_encoding"], where=at),
        fill_value=fill_value,
        codecs=codecs,
        attributes=parse_attributes(document.get("attributes", {}), where=at),
        dimension_names=_dimension_names(document.get("dimension_names"), len(shape), at),
        extra_fields=extra,
    )
