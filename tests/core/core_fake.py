"""A minimal in-test ArrayMetadata (raw little-endian bytes, 'c/i/j' keys) so the engine is tested alone."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from zarrlayer.errors import ChunkDecodeError


class RawPipeline:
    """Chunks stored as their raw C-order bytes; counts decode_into calls."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.direct = 0
        self.threads: set[str] = set()

    def decode(self, data: Any, shape: tuple[int, ...]) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        expected = math.prod(shape) * self.dtype.itemsize
        if len(data) != expected:
            raise ChunkDecodeError(f"expected {expected} bytes, found {len(data)}")
        return np.frombuffer(data, dtype=self.dtype).reshape(shape)

    def decode_into(self, data: Any, out: np.ndarray) -> bool:
        self.threads.add(threading.current_thread().name)
        out[...] = self.decode(data, out.shape)
        if out.base is not None:  # a view of the caller's output, not a scratch buffer
            self.direct += 1
        return True

    def encode(self, chunk: np.ndarray) -> bytes:
        return np.ascontiguousarray(chunk, dtype=self.dtype).tobytes()


@dataclass(frozen=True)
class FakeMetadata:
    shape: tuple[int, ...]
    chunk_grid_shape: tuple[int, ...]
    dtype: np.dtype = np.dtype("<i4")
    fill_value: Any = 0
    zarr_format: int = 3
    order: str = "C"
    attributes: dict = field(default_factory=dict)
    sharding: Any = None
    codecs: Any = None

    def __post_init__(self) -> None:
        if self.codecs is None:
            object.__setattr__(self, "codecs", RawPipeline(self.dtype))

    @property
    def chunks(self) -> tuple[int, ...]:
        return self.chunk_grid_shape

    @property
    def shards(self) -> None:
        return None

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return tuple(-(-s // c) for s, c in zip(self.shape, self.chunk_grid_shape))

    def chunk_key(self, coords: tuple[int, ...]) -> str:
        return "/".join(["c", *map(str, coords)])

    def to_documents(self) -> dict[str, bytes]:
        import json

        return {"zarr.json": json.dumps({"shape": list(self.shape), "attributes": self.attributes}).encode()}

    def evolve(self, **changes: Any) -> "FakeMetadata":
        return replace(self, **changes)
