"""Detect and parse the node (array or group) described by the documents at one path."""

from __future__ import annotations

from collections.abc import Mapping

from zarrlayer.format.group import GroupMetadata
from zarrlayer.format.metadata import ArrayMetadata

__all__ = ["parse_node_metadata"]


def parse_node_metadata(documents: Mapping[str, bytes | None], *, path: str) -> ArrayMetadata | GroupMetadata:
    """Parse the array or group that `documents` (`zarr.json`, or `.zarray`/`.zgroup`/`.zattrs`) describe."""
    raise NotImplementedError
