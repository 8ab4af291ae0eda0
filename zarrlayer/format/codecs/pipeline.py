"""The chain of codecs that turns one chunk's array into bytes and back."""

from __future__ import annotations

import numpy as np

__all__ = ["ChunkCodecPipeline"]


class ChunkCodecPipeline:
    """Encodes and decodes one stored unit (a chunk, or a whole shard when sharded)."""

    def decode(self, data: bytes | memoryview, shape: tuple[int, ...]) -> np.ndarray:
        """The chunk of exactly `shape` (metadata dtype, C order); may be a read-only view."""
        raise NotImplementedError

    def decode_into(self, data: bytes | memoryview, out: np.ndarray) -> bool:
        """Decode straight into `out` (C-contiguous, right shape and dtype); False when this pipeline cannot."""
        return False

    def encode(self, chunk: np.ndarray) -> bytes:
        """The stored bytes of `chunk` (which has the full chunk shape)."""
        raise NotImplementedError
