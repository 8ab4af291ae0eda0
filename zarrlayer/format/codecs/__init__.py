"""Codecs: the three v3 roles, the built-in codecs, numcodecs adapters, pipelines and sharding."""

from __future__ import annotations

from zarrlayer.format.codecs.base import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec
from zarrlayer.format.codecs.chain import pipeline_from_json
from zarrlayer.format.codecs.compressors import BloscCodec, Crc32cCodec, GzipCodec, NumcodecsBytesCodec, ZstdCodec
from zarrlayer.format.codecs.filters import NumcodecsArrayCodec, NumcodecsSerializer, TransposeCodec
from zarrlayer.format.codecs.pipeline import ChunkCodecPipeline
from zarrlayer.format.codecs.registry import UNSAFE_CODEC_IDS, codec_from_json, codec_from_numcodecs, get_numcodec
from zarrlayer.format.codecs.serializers import BytesCodec, VLenCodec
from zarrlayer.format.codecs.sharding import ShardingCodec
from zarrlayer.format.codecs.v2 import V2CodecPipeline

__all__ = [
    "ArrayArrayCodec",
    "ArrayBytesCodec",
    "BytesBytesCodec",
    "BytesCodec",
    "VLenCodec",
    "TransposeCodec",
    "BloscCodec",
    "GzipCodec",
    "ZstdCodec",
    "Crc32cCodec",
    "NumcodecsArrayCodec",
    "NumcodecsBytesCodec",
    "NumcodecsSerializer",
    "ChunkCodecPipeline",
    "V2CodecPipeline",
    "ShardingCodec",
    "UNSAFE_CODEC_IDS",
    "codec_from_json",
    "codec_from_numcodecs",
    "get_numcodec",
    "pipeline_from_json",
]
