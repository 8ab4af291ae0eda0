"""The members both array formats share, so core can treat v2 and v3 arrays alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from zarrlayer.format.codecs.pipeline import ChunkCodecPipeline
    from zarrlayer.format.codecs.sharding import ShardingCodec

__all__ = ["ArrayMetadata"]


class ArrayMetadata:
    """Base class of ArrayV2Metadata and ArrayV3Metadata (frozen dataclasses)."""

    zarr_format: int
    shape: tuple[int, ...]
    dtype: np.dtype
    fill_value: Any
    order: Literal["C", "F"]
    attributes: dict[str, Any]
    dimension_names: tuple[str | None, ...] | None
    chunk_grid_shape: tuple[int, ...]
    codecs: ChunkCodecPipeline
    sharding: ShardingCodec | None

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def chunks(self) -> tuple[int, ...]:
        """The read chunk shape: the inner chunk shape when sharded, as zarr-python's `Array.chunks`."""
        return self.sharding.chunk_shape if self.sharding is not None else self.chunk_grid_shape

    @property
    def shards(self) -> tuple[int, ...] | None:
        """The shard shape, or None when not sharded."""
        return self.chunk_grid_shape if self.sharding is not None else None

    @property
    def grid_shape(self) -> tuple[int, ...]:
        """Number of stored units (chunks, or shards) along each dimension."""
        return tuple(-(-s // c) for s, c in zip(self.shape, self.chunk_grid_shape))

    def chunk_key(self, coords: tuple[int, ...]) -> str:
        """The key of the stored unit at grid `coords`, relative to the array's path."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the main document (`zarr.json` or `.zarray`)."""
        raise NotImplementedError

    def to_documents(self) -> dict[str, bytes]:
        """The documents to write at the node, JSON formatted as zarr-python writes it."""
        raise NotImplementedError

    def evolve(self, **changes: Any) -> ArrayMetadata:
        """A copy with `shape=` or `attributes=` changed."""
        raise NotImplementedError
