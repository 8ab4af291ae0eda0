"""Array -> bytes serializers: `bytes` (raw, with endianness) and variable-length strings/bytes."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numcodecs import VLenBytes, VLenUTF8

from zarrlayer.errors import ChunkDecodeError, CodecError
from zarrlayer.format.codecs.base import ArrayBytesCodec, Buffer

__all__ = ["BytesCodec", "VLenCodec", "check_vlen_header", "VLEN_IDS"]

VLEN_IDS = frozenset({"vlen-utf8", "vlen-bytes", "vlen-array"})


def check_vlen_header(data: Buffer, count: int, name: str) -> None:
    """ChunkDecodeError unless a vlen chunk's header holds `count` items.

    numcodecs allocates the item count it reads, so a corrupt count would allocate without bound.
    """
    view = data if isinstance(data, bytes) else memoryview(data).cast("B")
    if len(view) < 4:
        raise ChunkDecodeError(f"{name}: truncated chunk ({len(view)} bytes, the header needs 4)")
    found = int.from_bytes(view[:4], "little")
    if found != count:
        raise ChunkDecodeError(f"{name}: expected {count} items, the chunk header says {found}")


class BytesCodec(ArrayBytesCodec):
    """The v3 `bytes` codec: the chunk's items in C order, in the given byte order."""

    name = "bytes"
    fixed_size = True

    def __init__(self, endian: Literal["little", "big"] | None = "little") -> None:
        if endian not in ("little", "big", None):
            raise CodecError(f"bytes codec: endian must be 'little' or 'big', found {endian!r}")
        self.endian = endian

    def _stored(self, dtype: np.dtype) -> np.dtype:
        if dtype.itemsize <= 1 or dtype.byteorder == "|" or self.endian is None:
            return dtype
        return dtype.newbyteorder("<" if self.endian == "little" else ">")

    def encode(self, chunk: np.ndarray) -> Buffer:
        stored = self._stored(chunk.dtype)
        if stored != chunk.dtype:
            chunk = chunk.astype(stored)
        return np.ascontiguousarray(chunk).reshape(-1).view(np.uint8)

    def decode(self, data: Buffer, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        stored = self._stored(dtype)
        expected = math.prod(shape) * dtype.itemsize
        size = data.nbytes if isinstance(data, (np.ndarray, memoryview)) else len(data)
        if size != expected and -1 not in shape:
            raise ChunkDecodeError(f"bytes codec: expected {expected} bytes for a {shape} chunk of {dtype}, found {size}")
        arr = np.frombuffer(data, dtype=stored).reshape(shape)
        return arr if stored == dtype else arr.astype(dtype)

    def matches_native(self, dtype: np.dtype) -> bool:
        """Whether decoding `dtype` is a plain reinterpretation of the bytes (no byte swap)."""
        return self._stored(dtype) == dtype

    def to_json(self) -> dict[str, Any]:
        if self.endian is None:
            return {"name": "bytes"}
        return {"name": "bytes", "configuration": {"endian": self.endian}}


class VLenCodec(ArrayBytesCodec):
    """The v3 `vlen-utf8` / `vlen-bytes` serializers (numcodecs' length-prefixed layout)."""

    def __init__(self, name: Literal["vlen-utf8", "vlen-bytes"]) -> None:
        self.name = name
        self._codec = VLenUTF8() if name == "vlen-utf8" else VLenBytes()

    def encode(self, chunk: np.ndarray) -> Buffer:
        flat = np.ascontiguousarray(chunk, dtype=object).reshape(-1)
        try:
            return self._codec.encode(flat)
        except (TypeError, ValueError) as exc:
            want = "str" if self.name == "vlen-utf8" else "bytes"
            raise CodecError(f"{self.name}: every item must be {want}, found an item that is not ({exc})") from None

    def decode(self, data: Buffer, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        check_vlen_header(data, math.prod(shape), self.name)
        try:
            flat = self._codec.decode(data)
        except Exception as exc:  # numcodecs raises several types on truncated input
            raise ChunkDecodeError(f"{self.name}: corrupt or truncated chunk ({exc})") from None
        if flat.size != math.prod(shape):
            raise ChunkDecodeError(f"{self.name}: expected {math.prod(shape)} items for a {shape} chunk, found {flat.size}")
        return flat.reshape(shape)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "configuration": {}}


