"""Array -> array codecs: `transpose` and numcodecs filters (delta, fixedscaleoffset, ...)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numcodecs.abc import Codec

from zarrlayer.errors import CodecError
from zarrlayer.format.codecs.base import ArrayArrayCodec, ArrayBytesCodec, Buffer

__all__ = ["TransposeCodec", "NumcodecsArrayCodec", "NumcodecsSerializer", "ARRAY_TO_ARRAY_IDS", "ARRAY_TO_BYTES_IDS"]

ARRAY_TO_ARRAY_IDS = frozenset({"astype", "bitround", "delta", "fixedscaleoffset", "packbits", "quantize"})
ARRAY_TO_BYTES_IDS = frozenset({"pcodec", "zfpy"})


class TransposeCodec(ArrayArrayCodec):
    """The v3 `transpose` codec: permutes the chunk's axes before serialization."""

    name = "transpose"

    def __init__(self, order: tuple[int, ...]) -> None:
        if not isinstance(order, (list, tuple)) or sorted(order) != list(range(len(order))):
            raise CodecError(f"transpose codec: order must be a permutation of 0..n-1, found {order!r}")
        self.order = tuple(int(i) for i in order)
        self._inverse = tuple(int(i) for i in np.argsort(self.order))

    def resolve(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[tuple[int, ...], np.dtype]:
        if len(shape) != len(self.order):
            raise CodecError(f"transpose codec: order {list(self.order)} has {len(self.order)} axes, the chunk has {len(shape)}")
        return tuple(shape[i] for i in self.order), dtype

    def encode(self, chunk: np.ndarray) -> np.ndarray:
        return chunk.transpose(self.order)

    def decode(self, chunk: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return chunk.transpose(self._inverse)

    def to_json(self) -> dict[str, Any]:
        return {"name": "transpose", "configuration": {"order": list(self.order)}}


def _numcodecs_json(codec: Codec, original: dict[str, Any] | None) -> dict[str, Any]:
    if original is not None:
        return original
    config = {k: v for k, v in codec.get_config().items() if k != "id"}
    return {"name": f"numcodecs.{codec.codec_id}", "configuration": config}


class NumcodecsArrayCodec(ArrayArrayCodec):
    """A numcodecs filter used as a v3 array -> array codec (`numcodecs.delta`, ...)."""

    def __init__(self, codec: Codec, json: dict[str, Any] | None = None) -> None:
        self.name = f"numcodecs.{codec.codec_id}"
        self.codec = codec
        self.json = json

    def resolve(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[tuple[int, ...], np.dtype]:
        config = self.codec.get_config()
        if self.codec.codec_id == "packbits":
            return (-1,), np.dtype("u1")
        astype = config.get("encode_dtype") if self.codec.codec_id == "astype" else config.get("astype")
        return shape, np.dtype(astype) if astype else dtype

    def encode(self, chunk: np.ndarray) -> np.ndarray:
        out = np.asarray(self.codec.encode(np.ascontiguousarray(chunk)))
        return out if self.codec.codec_id == "packbits" else out.reshape(chunk.shape)

    def decode(self, chunk: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        out = np.asarray(self.codec.decode(np.ascontiguousarray(chunk)))
        if out.dtype != dtype:
            out = out.view(dtype) if out.dtype.itemsize == dtype.itemsize else out.astype(dtype)
        return out.reshape(shape)

    def to_json(self) -> dict[str, Any]:
        return _numcodecs_json(self.codec, self.json)


class NumcodecsSerializer(ArrayBytesCodec):
    """A numcodecs array -> bytes codec (`numcodecs.zfpy`, `numcodecs.pcodec`)."""

    def __init__(self, codec: Codec, json: dict[str, Any] | None = None) -> None:
        self.name = f"numcodecs.{codec.codec_id}"
        self.codec = codec
        self.json = json

    def encode(self, chunk: np.ndarray) -> Buffer:
        return self.codec.encode(np.ascontiguousarray(chunk))

    def decode(self, data: Buffer, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        out = np.asarray(self.codec.decode(data))
        if out.dtype != dtype:
            out = out.view(dtype)
        return out.reshape(shape)

    def to_json(self) -> dict[str, Any]:
        return _numcodecs_json(self.codec, self.json)
