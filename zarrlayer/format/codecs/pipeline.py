"""The chain of codecs that turns one chunk's array into bytes and back.

Everything that does not depend on the chunk bytes (encoded shapes and dtypes, which
fast path applies) is worked out once, when the metadata is parsed; decoding a chunk
is then a handful of calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from zarrlayer.errors import ChunkDecodeError, ZarrlayerError
from zarrlayer.format.codecs.base import ArrayArrayCodec, ArrayBytesCodec, Buffer, BytesBytesCodec, check_size
from zarrlayer.format.codecs.bounded import loose_limit
from zarrlayer.format.codecs.serializers import BytesCodec

__all__ = ["ChunkCodecPipeline", "as_bytes"]

Spec = tuple[tuple[int, ...], np.dtype]


def as_bytes(data: Buffer) -> bytes:
    """`data` as `bytes` (no copy when it already is)."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, np.ndarray):
        return data.tobytes(order="A")
    return bytes(data)


class ChunkCodecPipeline:
    """Encodes and decodes one stored unit (a chunk, or a whole shard when sharded).

    `array_array` codecs run first on encode, then the `array_bytes` serializer, then the
    `bytes_bytes` codecs; decode runs them in reverse.
    """

    def __init__(
        self,
        array_array: Sequence[ArrayArrayCodec],
        array_bytes: ArrayBytesCodec,
        bytes_bytes: Sequence[BytesBytesCodec],
        *,
        shape: tuple[int, ...],
        dtype: np.dtype,
        fill_value: Any = None,
    ) -> None:
        self.array_array = tuple(array_array)
        self.array_bytes = array_bytes
        self.bytes_bytes = tuple(bytes_bytes)
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.fill_value = fill_value
        self._specs, self._encoded = self._resolve(self.shape)
        self._bb_reversed = self.bytes_bytes[::-1]
        self._aa_reversed = self.array_array[::-1]
        self._plain = (
            not self.array_array
            and isinstance(array_bytes, BytesCodec)
            and array_bytes.matches_native(self.dtype)
            and self.dtype.kind != "O"
        )
        self._into = self._plain and (not self.bytes_bytes or self.bytes_bytes[0].supports_out)
        self._direct = self._plain  # whether decode_into may fill a caller's buffer
        self._bound = self._serialized_bound(self.shape, self._encoded)

    def _serialized_bound(self, shape: tuple[int, ...], encoded: Spec) -> tuple[int | None, bool]:
        """The most bytes the serializer's input may have for a chunk of `shape`, and whether exactly that many.

        Bounds every bytes -> bytes decode (issue 14.4: decompression bombs); None for variable-length data.
        """
        if self.array_bytes.fixed_size and -1 not in encoded[0]:
            return math.prod(encoded[0]) * encoded[1].itemsize, True
        if self.dtype.kind == "O":
            return None, False
        raw = math.prod(shape) * max(self.dtype.itemsize, encoded[1].itemsize)
        inner = getattr(self.array_bytes, "chunk_shape", None)
        count = math.prod(shape) // max(math.prod(inner), 1) if inner is not None else 1
        shard_bound = getattr(self.array_bytes, "max_encoded_nbytes", None)  # sharding: inner chunks may widen
        widest = shard_bound(encoded[0]) if shard_bound is not None and -1 not in encoded[0] else None
        return max(loose_limit(raw) + 1024 * count, widest or 0), False

    def _decode_bytes(self, data: Buffer, codecs: Sequence[BytesBytesCodec], bound: tuple[int | None, bool]) -> Buffer:
        """Run `codecs` (decode order), each bounded: the last by `bound`, those before it loosely."""
        limit, exact = bound
        outer = None if limit is None else (loose_limit(limit) if exact else limit)
        last = len(codecs) - 1
        for i, codec in enumerate(codecs):
            data = codec.decode_bounded(data, limit if i == last else outer, exact=exact and i == last)
        return data

    def _resolve(self, shape: tuple[int, ...]) -> tuple[tuple[Spec, ...], Spec]:
        specs = []
        spec: Spec = (shape, self.dtype)
        for codec in self.array_array:
            specs.append(spec)
            spec = codec.resolve(*spec)
        return tuple(specs), spec

    @property
    def codecs(self) -> tuple[Any, ...]:
        """All codecs in encode order."""
        return (*self.array_array, self.array_bytes, *self.bytes_bytes)

    def to_json(self) -> list[dict[str, Any]]:
        """The v3 `codecs` list."""
        return [codec.to_json() for codec in self.codecs]

    def _names(self) -> list[str]:
        return [c.name for c in self.codecs]

    def __repr__(self) -> str:
        return f"ChunkCodecPipeline({self._names()}, shape={self.shape}, dtype={self.dtype})"

    def decode(self, data: Buffer, shape: tuple[int, ...]) -> np.ndarray:
        """The chunk of exactly `shape` (metadata dtype, C order); may be a read-only view."""
        try:
            if self._into and self.bytes_bytes:
                out = np.empty(shape, dtype=self.dtype)
                self._decode_into(data, out)
                return out
            specs, encoded = (self._specs, self._encoded) if shape == self.shape else self._resolve(shape)
            bound = self._bound if shape == self.shape else self._serialized_bound(shape, encoded)
            data = self._decode_bytes(data, self._bb_reversed, bound)
            chunk = self.array_bytes.decode(data, *encoded)
            for codec, spec in zip(self._aa_reversed, specs[::-1]):
                chunk = codec.decode(chunk, *spec)
            return chunk
        except ZarrlayerError:
            raise
        except Exception as exc:  # numcodecs and zlib raise many types on corrupt input
            raise self._decode_error(exc) from None

    def decode_into(self, data: Buffer, out: np.ndarray) -> bool:
        """Decode straight into `out` (C-contiguous, right shape and dtype); False when this pipeline cannot."""
        if not self._direct or out.dtype != self.dtype or not out.flags.c_contiguous:
            return False
        try:
            self._decode_into(data, out)
        except ZarrlayerError:
            raise
        except Exception as exc:
            raise self._decode_error(exc) from None
        return True

    def direct_decoder(self) -> Any:
        """`f(data, out)` that decodes a chunk straight into a C-contiguous `out` of the pipeline's dtype, or None.

        The per-chunk checks of `decode_into` done once: a pipeline of one bytes -> bytes codec
        with an `out` path (blosc, zstd) over plain bytes. `f` raises ChunkDecodeError or the
        codec's own error on bad input.
        """
        if self._direct and len(self.bytes_bytes) == 1 and self.bytes_bytes[0].supports_out:
            return self.bytes_bytes[0].decode_into
        return None

    def decode_error(self, exc: Exception) -> ChunkDecodeError:
        """The ChunkDecodeError for a codec's own exception (names the codecs)."""
        return self._decode_error(exc)

    def _decode_error(self, exc: Exception) -> ChunkDecodeError:
        return ChunkDecodeError(f"cannot decode chunk with {self._names()}: {type(exc).__name__}: {exc}")

    def _decode_into(self, data: Buffer, out: np.ndarray) -> None:
        if not self.bytes_bytes:
            check_size(data, out.nbytes, "bytes codec")
            out.reshape(-1).view(np.uint8)[:] = np.frombuffer(data, dtype=np.uint8)
            return
        if len(self.bytes_bytes) > 1:
            data = self._decode_bytes(data, self._bb_reversed[:-1], (loose_limit(out.nbytes), False))
        self.bytes_bytes[0].decode_into(data, out)

    def encode(self, chunk: np.ndarray) -> bytes:
        """The stored bytes of `chunk` (which has the full chunk shape)."""
        if chunk.dtype != self.dtype:
            chunk = chunk.astype(self.dtype)
        for array_codec in self.array_array:
            chunk = array_codec.encode(chunk)
        data = self.array_bytes.encode(chunk)
        for bytes_codec in self.bytes_bytes:
            data = bytes_codec.encode(data)
        return as_bytes(data)

    def encoded_size(self, shape: tuple[int, ...]) -> int | None:
        """The encoded size of a chunk of `shape` when it does not depend on the data (bytes + checksums)."""
        if not isinstance(self.array_bytes, BytesCodec) or self.array_array:
            return None
        size = math.prod(shape) * self.dtype.itemsize
        for codec in self.bytes_bytes:
            if codec.name != "crc32c":
                return None
            size += 4
        return size
