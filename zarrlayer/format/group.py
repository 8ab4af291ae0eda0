"""Group metadata for both formats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["GroupMetadata"]


@dataclass(frozen=True)
class GroupMetadata:
    """A group: its format, attributes and (v3) inline consolidated metadata of its descendants."""

    zarr_format: int = 3
    attributes: dict[str, Any] = field(default_factory=dict)
    consolidated: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the main document (`zarr.json` or `.zgroup`)."""
        raise NotImplementedError

    def to_documents(self) -> dict[str, bytes]:
        """The documents to write at the node."""
        raise NotImplementedError

    def evolve(self, **changes: Any) -> GroupMetadata:
        """A copy with `attributes=` (or `consolidated=`) changed."""
        raise NotImplementedError
