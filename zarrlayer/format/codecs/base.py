"""The three codec roles of Zarr v3: array -> array, array -> bytes, bytes -> bytes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from zarrlayer.errors import ChunkDecodeError

__all__ = ["ArrayArrayCodec", "ArrayBytesCodec", "BytesBytesCodec", "Buffer", "check_size"]

Buffer = bytes | bytearray | memoryview | np.ndarray


class ArrayArrayCodec(ABC):
    """Transforms a chunk array into another array (transpose, numcodecs filters)."""

    name: str

    def resolve(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[tuple[int, ...], np.dtype]:
        """Shape and dtype of the encoded array for an input of `shape` and `dtype`."""
        return shape, dtype

    @abstractmethod
    def encode(self, chunk: np.ndarray) -> np.ndarray:
        """The encoded array (may be a view of `chunk`)."""

    @abstractmethod
    def decode(self, chunk: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The decoded chunk of `shape` and `dtype` (the input side of `resolve`)."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The v3 codec object (`{"name": ..., "configuration": ...}`)."""


class ArrayBytesCodec(ABC):
    """Serializes a chunk array to bytes (bytes, vlen-utf8, vlen-bytes, sharding_indexed)."""

    name: str
    fixed_size: bool = False
    """Whether an encoded chunk of a given shape always has the same size (plain `bytes`)."""

    @abstractmethod
    def encode(self, chunk: np.ndarray) -> Buffer:
        """The serialized bytes of `chunk`."""

    @abstractmethod
    def decode(self, data: Buffer, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The chunk of `shape` and `dtype` held in `data`; ChunkDecodeError when it does not fit."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The v3 codec object."""


class BytesBytesCodec(ABC):
    """Transforms bytes into bytes (compressors, checksums)."""

    name: str
    supports_out: bool = False
    """Whether `decode_into(data, out)` decodes straight into a buffer of known size."""

    @abstractmethod
    def encode(self, data: Buffer) -> Buffer:
        """The encoded bytes."""

    @abstractmethod
    def decode(self, data: Buffer) -> Buffer:
        """The decoded bytes."""

    def decode_bounded(self, data: Buffer, limit: int | None, *, exact: bool = False) -> Buffer:
        """`decode`, raising ChunkDecodeError instead of producing more than `limit` bytes (None: no bound known).

        `exact` says the output must be exactly `limit` bytes. Codecs that can expand data
        override this to stop at the bound; the default checks the size after decoding.
        """
        decoded = self.decode(data)
        if limit is not None:
            size = decoded.nbytes if isinstance(decoded, (np.ndarray, memoryview)) else len(decoded)
            if size > limit:
                raise ChunkDecodeError(f"{self.name}: the chunk decodes to {size} bytes, more than the {limit} expected")
        return decoded

    def decode_into(self, data: Buffer, out: np.ndarray) -> None:
        """Decode into `out`, which must end up exactly filled (ChunkDecodeError otherwise)."""
        decoded = self.decode_bounded(data, out.nbytes, exact=True)
        check_size(decoded, out.nbytes, self.name)
        out.reshape(-1).view(np.uint8)[:] = np.frombuffer(decoded, dtype=np.uint8)

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The v3 codec object."""


def check_size(data: Buffer, expected: int, what: str) -> None:
    """ChunkDecodeError unless `data` has exactly `expected` bytes."""
    size = data.nbytes if isinstance(data, (np.ndarray, memoryview)) else len(data)
    if size != expected:
        raise ChunkDecodeError(f"{what}: expected {expected} decoded bytes, found {size}")
