"""The `info` tables of arrays and groups, printed as zarr-python prints them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ArrayInfo", "GroupInfo", "human_bytes"]

_ARRAY_KEY_WIDTH = len("Chunks Initialized")
_GROUP_KEY_WIDTH = len("Zarr format")


def human_bytes(nbytes: int) -> str:
    """`nbytes` with a binary unit suffix, e.g. '7.6M'."""
    value = float(nbytes)
    for unit in ("", "K", "M", "G", "T", "P"):
        if value < 1024 or unit == "P":
            return f"{value:.1f}{unit}" if unit else f"{int(value)}"
        value /= 1024
    return str(nbytes)


def _table(rows: list[tuple[str, Any]], width: int) -> str:
    return "\n".join(f"{key.ljust(width)} : {value}" for key, value in rows)


def _bytes_cell(nbytes: int) -> str:
    return f"{nbytes} ({human_bytes(nbytes)})" if nbytes >= 1024 else str(nbytes)


@dataclass(frozen=True)
class GroupInfo:
    """What `Group.info` reports; member counts only when they were computed."""

    name: str
    zarr_format: int
    read_only: bool
    store_type: str
    count_members: int | None = None
    count_arrays: int | None = None
    count_groups: int | None = None

    def rows(self) -> list[tuple[str, Any]]:
        """The (field, value) rows of the table."""
        rows: list[tuple[str, Any]] = [
            ("Name", self.name),
            ("Type", "Group"),
            ("Zarr format", self.zarr_format),
            ("Read-only", self.read_only),
            ("Store type", self.store_type),
        ]
        if self.count_members is not None:
            rows += [
                ("No. members", self.count_members),
                ("No. arrays", self.count_arrays),
                ("No. groups", self.count_groups),
            ]
        return rows

    def __repr__(self) -> str:
        return _table(self.rows(), _GROUP_KEY_WIDTH)

    __str__ = __repr__


@dataclass(frozen=True)
class ArrayInfo:
    """What `Array.info` reports; storage figures only when `info_complete()` computed them."""

    zarr_format: int
    data_type: str
    fill_value: Any
    shape: tuple[int, ...]
    chunk_shape: tuple[int, ...]
    shard_shape: tuple[int, ...] | None
    order: str
    read_only: bool
    store_type: str
    filters: tuple[Any, ...]
    serializer: Any
    compressors: tuple[Any, ...]
    count_bytes: int
    count_bytes_stored: int | None = None
    count_chunks_initialized: int | None = None
    count_shards_initialized: int | None = None
    count_chunks: int | None = field(default=None)

    def rows(self) -> list[tuple[str, Any]]:
        """The (field, value) rows of the table."""
        rows: list[tuple[str, Any]] = [
            ("Type", "Array"),
            ("Zarr format", self.zarr_format),
            ("Data type", self.data_type),
            ("Fill value", self.fill_value),
            ("Shape", self.shape),
            ("Chunk shape", self.chunk_shape),
        ]
        if self.shard_shape is not None:
            rows.append(("Shard shape", self.shard_shape))
        rows += [
            ("Order", self.order),
            ("Read-only", self.read_only),
            ("Store type", self.store_type),
            ("Filters", self.filters),
        ]
        if self.serializer is not None:
            rows.append(("Serializer", self.serializer))
        rows += [("Compressors", self.compressors), ("No. bytes", _bytes_cell(self.count_bytes))]
        if self.count_bytes_stored is not None:
            rows.append(("No. bytes stored", _bytes_cell(self.count_bytes_stored)))
            ratio = self.count_bytes / self.count_bytes_stored if self.count_bytes_stored else 0.0
            rows.append(("Storage ratio", f"{ratio:.1f}"))
        if self.count_shards_initialized is not None:
            rows.append(("Shards Initialized", self.count_shards_initialized))
        if self.count_chunks_initialized is not None:
            rows.append(("Chunks Initialized", self.count_chunks_initialized))
        return rows

    def __repr__(self) -> str:
        return _table(self.rows(), _ARRAY_KEY_WIDTH)

    __str__ = __repr__
