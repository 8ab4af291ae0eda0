"""Zarr v2 array metadata (`.zarray` plus `.zattrs`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zarrlayer.format.metadata import ArrayMetadata

__all__ = ["ArrayV2Metadata", "parse_array_v2"]


@dataclass(frozen=True)
class ArrayV2Metadata(ArrayMetadata):
    """A parsed v2 `.zarray` (with its `.zattrs`)."""


def parse_array_v2(document: dict[str, Any], attributes: dict[str, Any], *, path: str) -> ArrayV2Metadata:
    """Validate and parse a v2 `.zarray` document."""
    raise NotImplementedError
