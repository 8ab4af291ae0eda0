"""The v3 `sharding_indexed` codec: many inner chunks and an index in one stored object.

The index is a (*chunks_per_shard, 2) uint64 array of (offset, nbytes), both 2**64-1 for
a missing inner chunk, encoded with `index_codecs` and stored at the start or the end.
Inner chunks are written in Morton order, as zarr-python writes them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from zarrlayer.errors import ChunkDecodeError, CodecError
from zarrlayer.format.codecs.base import ArrayBytesCodec, Buffer
from zarrlayer.format.codecs.bounded import loose_limit
from zarrlayer.format.codecs.pipeline import ChunkCodecPipeline
from zarrlayer.storage._base import ByteRequest, RangeByteRequest, SuffixByteRequest

__all__ = ["ShardingCodec", "MISSING", "morton_order"]

MISSING = np.uint64(2**64 - 1)


@lru_cache(maxsize=64)
def morton_order(chunks_per_shard: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Coordinates of a shard's inner chunks in Morton (Z) order, as zarr-python stores them."""
    bits = [(c - 1).bit_length() for c in chunks_per_shard]

    def code(coords: tuple[int, ...]) -> int:
        z, out_bit = 0, 0
        for level in range(max(bits, default=0)):
            for dim, nbits in enumerate(bits):
                if level < nbits:
                    z |= ((coords[dim] >> level) & 1) << out_bit
                    out_bit += 1
        return z

    return tuple(sorted(itertools.product(*(range(c) for c in chunks_per_shard)), key=code))


class ShardingCodec(ArrayBytesCodec):
    """Shard layout and index handling; `inner` encodes and decodes one inner chunk."""

    name = "sharding_indexed"

    def __init__(
        self,
        *,
        chunk_shape: tuple[int, ...],
        inner: ChunkCodecPipeline,
        index: ChunkCodecPipeline,
        index_location: Literal["start", "end"] = "end",
    ) -> None:
        if index_location not in ("start", "end"):
            raise CodecError(f"sharding_indexed: index_location must be 'start' or 'end', found {index_location!r}")
        self.chunk_shape = tuple(chunk_shape)
        self.inner = inner
        self.index = index
        self.index_location = index_location
        self.fill_value = inner.fill_value
        self._index_nbytes: dict[tuple[int, ...], int] = {}

    def chunks_per_shard(self, shard_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Number of inner chunks along each dimension of a shard."""
        if len(shard_shape) != len(self.chunk_shape) or any(s % c for s, c in zip(shard_shape, self.chunk_shape)):
            raise ChunkDecodeError(
                f"sharding_indexed: shard shape {tuple(shard_shape)} is not a multiple of the inner chunk shape {self.chunk_shape}"
            )
        return tuple(s // c for s, c in zip(shard_shape, self.chunk_shape))

    def index_nbytes(self, shard_shape: tuple[int, ...]) -> int:
        """Size in bytes of the encoded index."""
        size = self._index_nbytes.get(shard_shape)
        if size is None:
            cps = self.chunks_per_shard(shard_shape)
            size = self.index.encoded_size((*cps, 2))
            if size is None:
                size = len(self.index.encode(np.full((*cps, 2), MISSING, dtype="<u8")))
            self._index_nbytes[shard_shape] = size
        return size

    def max_encoded_nbytes(self, shard_shape: tuple[int, ...]) -> int | None:
        """The most bytes a valid encoded shard of `shard_shape` takes; None for variable-length data.

        Bounds the decoding of bytes -> bytes codecs over a whole shard (decompression bombs):
        each inner chunk is bounded by its own encoded array (after the inner array -> array
        codecs, which may widen it, or a nested shard's bound), loosely (`loose_limit`), plus
        1 KiB per inner chunk for compressor framing, plus the index.
        """
        per_chunk = self._inner_max_nbytes()
        if per_chunk is None:
            return None
        count = math.prod(self.chunks_per_shard(shard_shape))
        return loose_limit(per_chunk * count) + 1024 * count + self.index_nbytes(shard_shape)

    def _inner_max_nbytes(self) -> int | None:
        """The most bytes one inner chunk's array -> bytes serializer produces."""
        pipeline = self.inner
        if pipeline.dtype.kind == "O":
            return None
        shape, dtype = self.chunk_shape, pipeline.dtype
        widest = dtype.itemsize
        for codec in pipeline.array_array:
            shape, dtype = codec.resolve(shape, dtype)
            widest = max(widest, dtype.itemsize)
        if isinstance(pipeline.array_bytes, ShardingCodec) and -1 not in shape:
            return pipeline.array_bytes.max_encoded_nbytes(shape)
        return math.prod(self.chunk_shape) * widest

    def index_request(self, shard_shape: tuple[int, ...]) -> ByteRequest:
        """The byte range that holds the index in a shard."""
        n = self.index_nbytes(shard_shape)
        return RangeByteRequest(0, n) if self.index_location == "start" else SuffixByteRequest(n)

    def decode_index(self, data: Buffer, shard_shape: tuple[int, ...]) -> np.ndarray:
        """uint64 (*chunks_per_shard, 2) of (offset, nbytes); both 2**64-1 for a missing inner chunk."""
        cps = self.chunks_per_shard(shard_shape)
        n = self.index_nbytes(shard_shape)
        size = data.nbytes if isinstance(data, (np.ndarray, memoryview)) else len(data)
        if size != n:
            raise ChunkDecodeError(f"sharding_indexed: expected a {n}-byte shard index, found {size} bytes")
        return self.index.decode(data, (*cps, 2))

    def _split(self, data: Buffer, shard_shape: tuple[int, ...]) -> tuple[memoryview, np.ndarray]:
        view = memoryview(data).cast("B") if not isinstance(data, memoryview) or data.format != "B" else data
        n = self.index_nbytes(shard_shape)
        if len(view) < n:
            raise ChunkDecodeError(f"sharding_indexed: shard of {len(view)} bytes is shorter than its {n}-byte index")
        raw = view[:n] if self.index_location == "start" else view[len(view) - n :]
        index = self.decode_index(raw, shard_shape)
        present = index[..., 0] != MISSING
        ends = index[..., 0][present] + index[..., 1][present]
        if ends.size and int(ends.max()) > len(view):
            raise ChunkDecodeError(f"sharding_indexed: index points past the end of the {len(view)}-byte shard")
        return view, index

    def iter_chunks(self, data: Buffer, shard_shape: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], memoryview]]:
        """(inner chunk coords, encoded bytes) of each present inner chunk of a shard."""
        view, index = self._split(data, shard_shape)
        for coords in np.argwhere(index[..., 0] != MISSING):
            offset, nbytes = (int(v) for v in index[tuple(coords)])
            yield tuple(int(c) for c in coords), view[offset : offset + nbytes]

    def decode(self, data: Buffer, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The whole shard as an array; missing inner chunks hold the fill value."""
        chunks = list(self.iter_chunks(data, shape))
        if len(chunks) == math.prod(self.chunks_per_shard(shape)):
            out = np.empty(shape, dtype=dtype)
        else:
            out = np.full(shape, self.fill_value if self.fill_value is not None else 0, dtype=dtype)
        inner = self.chunk_shape
        for coords, raw in chunks:
            region = tuple(slice(c * s, (c + 1) * s) for c, s in zip(coords, inner))
            out[region] = self.inner.decode(raw, inner)
        return out

    def encode(self, chunk: np.ndarray) -> Buffer:
        """The shard bytes of a full shard array; inner chunks equal to the fill value are left out."""
        inner = self.chunk_shape
        encoded: dict[tuple[int, ...], bytes] = {}
        for coords in itertools.product(*(range(n) for n in self.chunks_per_shard(chunk.shape))):
            part = chunk[tuple(slice(c * s, (c + 1) * s) for c, s in zip(coords, inner))]
            if not _all_equal(part, self.fill_value):
                encoded[coords] = self.inner.encode(part)
        shard = self.encode_shard(encoded, chunk.shape)
        if shard is None:
            cps = self.chunks_per_shard(chunk.shape)
            return self.index.encode(np.full((*cps, 2), MISSING, dtype="<u8"))
        return shard

    def encode_shard(self, encoded: Mapping[tuple[int, ...], bytes], shard_shape: tuple[int, ...]) -> bytes | None:
        """Assemble encoded inner chunks (missing ones absent) with the index; None when all are missing."""
        if not any(len(v) for v in encoded.values()):
            return None
        cps = self.chunks_per_shard(shard_shape)
        index = np.full((*cps, 2), MISSING, dtype="<u8")
        start = self.index_nbytes(shard_shape) if self.index_location == "start" else 0
        parts: list[Any] = []
        offset = start
        for coords in morton_order(cps):
            value = encoded.get(coords)
            if not value:
                continue
            index[coords] = (offset, len(value))
            parts.append(value)
            offset += len(value)
        index_bytes = self.index.encode(index)
        parts.insert(0, index_bytes) if self.index_location == "start" else parts.append(index_bytes)
        return b"".join(parts)

    def to_json(self) -> dict[str, Any]:
        config = {
            "chunk_shape": list(self.chunk_shape),
            "codecs": self.inner.to_json(),
            "index_codecs": self.index.to_json(),
            "index_location": self.index_location,
        }
        return {"name": "sharding_indexed", "configuration": config}


def _all_equal(part: np.ndarray, fill: Any) -> bool:
    if fill is None:
        return False
    if part.dtype.kind == "O":
        return all(v == fill for v in part.flat)
    if part.dtype.kind in "fc" and np.isnan(fill):
        return bool(np.all((part == fill) | np.isnan(part)))
    return bool(np.all(part == fill))
