"""Consolidated metadata: v2 `.zmetadata` and v3 inline `consolidated_metadata`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from zarrlayer.format.group import GroupMetadata
from zarrlayer.format.metadata import ArrayMetadata

__all__ = ["parse_consolidated", "build_consolidated"]


def parse_consolidated(
    document: bytes, *, zarr_format: Literal[2, 3], path: str
) -> dict[str, ArrayMetadata | GroupMetadata]:
    """The nodes (by path relative to the root) recorded in a consolidated document."""
    raise NotImplementedError


def build_consolidated(
    nodes: Mapping[str, ArrayMetadata | GroupMetadata], *, zarr_format: Literal[2, 3], root: GroupMetadata | None = None
) -> dict[str, bytes]:
    """The documents to write at the root so that they record `nodes`."""
    raise NotImplementedError
