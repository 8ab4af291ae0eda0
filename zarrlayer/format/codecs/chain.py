"""A v3 `codecs` list (JSON) to a ChunkCodecPipeline, including nested sharding."""

from __future__ import annotations

from typing import Any

import numpy as np

from zarrlayer import config as _settings
from zarrlayer.errors import CodecError
from zarrlayer.format.codecs.base import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec
from zarrlayer.format.codecs.pipeline import ChunkCodecPipeline
from zarrlayer.format.codecs.registry import AnyCodec, codec_from_json
from zarrlayer.format.codecs.sharding import MISSING, ShardingCodec

__all__ = ["pipeline_from_json", "pipeline_from_codecs", "sharding_from_json"]


_MEMO_SIZE = 256
_memo: dict[tuple[Any, ...], ChunkCodecPipeline] = {}


def _memo_key(codecs: Any, shape: tuple[int, ...], dtype: np.dtype, fill_value: Any) -> tuple[Any, ...]:
    fill = (fill_value.dtype.str, fill_value.tobytes()) if isinstance(fill_value, np.generic) else repr(fill_value)
    return (repr(codecs), shape, dtype.str, fill, _settings.get().allow_unsafe_codecs)


def pipeline_from_json(
    codecs: Any, *, shape: tuple[int, ...], dtype: np.dtype, fill_value: Any, where: str
) -> ChunkCodecPipeline:
    """Parse and order-check a v3 codec list for chunks of `shape` and `dtype`.

    Pipelines are immutable, so one is shared by every array with the same codecs, chunk
    shape, dtype and fill value (a consolidated group of many alike arrays opens fast).
    """
    key = _memo_key(codecs, tuple(shape), np.dtype(dtype), fill_value)
    pipeline = _memo.get(key)
    if pipeline is None:
        pipeline = _parse_pipeline(codecs, shape=shape, dtype=dtype, fill_value=fill_value, where=where)
        if len(_memo) >= _MEMO_SIZE:
            try:  # drop the oldest entry (insertion order), not the whole memo
                _memo.pop(next(iter(_memo)), None)
            except (StopIteration, RuntimeError):  # emptied or resized by another thread meanwhile
                pass
        _memo[key] = pipeline
    return pipeline


def _parse_pipeline(
    codecs: Any, *, shape: tuple[int, ...], dtype: np.dtype, fill_value: Any, where: str
) -> ChunkCodecPipeline:
    if not isinstance(codecs, (list, tuple)) or not codecs:
        raise CodecError(f"{where}: codecs must be a non-empty list, found {codecs!r}")
    parsed: list[AnyCodec] = []
    current_shape = shape
    for value in codecs:
        if isinstance(value, dict) and value.get("name") == "sharding_indexed":
            parsed.append(sharding_from_json(value, shard_shape=current_shape, dtype=dtype, fill_value=fill_value, where=where))
        else:
            codec = codec_from_json(value, where=where)
            if isinstance(codec, ArrayArrayCodec) and not any(isinstance(c, ArrayBytesCodec) for c in parsed):
                current_shape = codec.resolve(current_shape, dtype)[0]
            parsed.append(codec)
    return pipeline_from_codecs(parsed, shape=shape, dtype=dtype, fill_value=fill_value, where=where)


def pipeline_from_codecs(
    codecs: list[AnyCodec], *, shape: tuple[int, ...], dtype: np.dtype, fill_value: Any, where: str
) -> ChunkCodecPipeline:
    """Group codec objects into the three roles, checking their order (array->array, one array->bytes, bytes->bytes)."""
    array_array: list[ArrayArrayCodec] = []
    serializers: list[ArrayBytesCodec] = []
    bytes_bytes: list[BytesBytesCodec] = []
    for codec in codecs:
        if isinstance(codec, ArrayArrayCodec):
            if serializers:
                raise CodecError(f"{where}: array->array codec {codec.name!r} comes after the serializer {serializers[0].name!r}")
            array_array.append(codec)
        elif isinstance(codec, ArrayBytesCodec):
            if serializers:
                raise CodecError(f"{where}: two array->bytes codecs, {serializers[0].name!r} and {codec.name!r}; expected one")
            serializers.append(codec)
        else:
            if not serializers:
                raise CodecError(f"{where}: bytes->bytes codec {codec.name!r} comes before any array->bytes codec (e.g. 'bytes')")
            bytes_bytes.append(codec)
    if not serializers:
        raise CodecError(f"{where}: no array->bytes codec (e.g. 'bytes') in {[c.name for c in codecs]}")
    serializer = serializers[0]
    _check_serializer(serializer, dtype, where)
    try:
        return ChunkCodecPipeline(array_array, serializer, bytes_bytes, shape=shape, dtype=dtype, fill_value=fill_value)
    except CodecError as exc:
        raise CodecError(f"{where}: {exc}") from None


def _check_serializer(serializer: ArrayBytesCodec, dtype: np.dtype, where: str) -> None:
    if dtype.kind == "O" and serializer.name == "bytes":
        raise CodecError(f"{where}: variable-length data needs a vlen-utf8 or vlen-bytes serializer, found 'bytes'")
    if dtype.kind != "O" and serializer.name in ("vlen-utf8", "vlen-bytes"):
        raise CodecError(f"{where}: {serializer.name!r} serializes variable-length data, but the data type is {dtype}")


def sharding_from_json(
    value: dict[str, Any], *, shard_shape: tuple[int, ...], dtype: np.dtype, fill_value: Any, where: str
) -> ShardingCodec:
    """Parse a `sharding_indexed` codec for shards of `shard_shape`."""
    config = value.get("configuration")
    if not isinstance(config, dict):
        raise CodecError(f"{where}: sharding_indexed needs a configuration object, found {config!r}")
    chunk_shape = config.get("chunk_shape")
    if (
        not isinstance(chunk_shape, list)
        or len(chunk_shape) != len(shard_shape)
        or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in chunk_shape)
    ):
        raise CodecError(f"{where}: sharding_indexed chunk_shape must be {len(shard_shape)} positive integers, found {chunk_shape!r}")
    if any(s % c for s, c in zip(shard_shape, chunk_shape)):
        raise CodecError(f"{where}: sharding_indexed chunk_shape {chunk_shape} does not divide the shard shape {list(shard_shape)}")
    inner_where = f"{where} (sharding_indexed inner codecs)"
    inner = pipeline_from_json(config.get("codecs"), shape=tuple(chunk_shape), dtype=dtype, fill_value=fill_value, where=inner_where)
    cps = tuple(s // c for s, c in zip(shard_shape, chunk_shape))
    index_codecs = config.get("index_codecs", [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}])
    index = pipeline_from_json(index_codecs, shape=(*cps, 2), dtype=np.dtype("<u8"), fill_value=MISSING, where=f"{where} (sharding_indexed index codecs)")
    if index.encoded_size((*cps, 2)) is None:
        raise CodecError(f"{where}: sharding_indexed index_codecs must have a fixed size (bytes, crc32c), found {index_codecs!r}")
    return ShardingCodec(chunk_shape=tuple(chunk_shape), inner=inner, index=index, index_location=config.get("index_location", "end"))
