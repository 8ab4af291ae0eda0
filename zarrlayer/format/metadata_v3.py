"""Zarr v3 array metadata (`zarr.json` with node_type "array")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zarrlayer.format.metadata import ArrayMetadata

__all__ = ["ArrayV3Metadata", "parse_array_v3"]


@dataclass(frozen=True)
class ArrayV3Metadata(ArrayMetadata):
    """A parsed v3 array `zarr.json`."""


def parse_array_v3(document: dict[str, Any], *, path: str) -> ArrayV3Metadata:
    """Validate and parse a v3 array document."""
    raise NotImplementedError
