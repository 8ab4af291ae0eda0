"""The v3 `sharding_indexed` codec: many inner chunks and an index in one stored object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

from zarrlayer.format.codecs.pipeline import ChunkCodecPipeline
from zarrlayer.storage._base import ByteRequest

__all__ = ["ShardingCodec"]


class ShardingCodec:
    """Shard layout and index handling; `inner` encodes and decodes one inner chunk."""

    chunk_shape: tuple[int, ...]
    index_location: Literal["start", "end"]
    inner: ChunkCodecPipeline

    def chunks_per_shard(self, shard_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Number of inner chunks along each dimension of a shard."""
        raise NotImplementedError

    def index_nbytes(self, shard_shape: tuple[int, ...]) -> int:
        """Size in bytes of the encoded index."""
        raise NotImplementedError

    def index_request(self, shard_shape: tuple[int, ...]) -> ByteRequest:
        """The byte range that holds the index in a shard."""
        raise NotImplementedError

    def decode_index(self, data: bytes | memoryview, shard_shape: tuple[int, ...]) -> np.ndarray:
        """uint64 (*chunks_per_shard, 2) of (offset, nbytes); both 2**64-1 for a missing inner chunk."""
        raise NotImplementedError

    def encode_shard(self, encoded: Mapping[tuple[int, ...], bytes], shard_shape: tuple[int, ...]) -> bytes | None:
        """Assemble encoded inner chunks (missing ones absent) with the index; None when all are missing."""
        raise NotImplementedError
