"""Array metadata from create_array's user-facing options, with zarr-python 3.1's defaults."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from zarrlayer.format.metadata import ArrayMetadata

__all__ = ["build_array_metadata"]


def build_array_metadata(
    *,
    zarr_format: Literal[2, 3],
    shape: Sequence[int],
    dtype: Any,
    chunks: Sequence[int],
    shards: Sequence[int] | None = None,
    fill_value: Any = None,
    compressors: Any = "auto",
    filters: Any = "auto",
    serializer: Any = "auto",
    order: Literal["C", "F"] | None = None,
    dimension_names: Sequence[str | None] | None = None,
    attributes: dict[str, Any] | None = None,
    chunk_key_encoding: Any = None,
) -> ArrayMetadata:
    """The metadata of a new array; codecs may be numcodecs objects, v3 JSON dicts or lists of those."""
    raise NotImplementedError
