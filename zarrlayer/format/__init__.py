"""The Zarr formats (v2 and v3): metadata, data types, fill values, chunk keys, codecs.

Pure functions of JSON documents and bytes; nothing here touches a store. See
docs/dev/format-contract.md for the contract with `zarrlayer.core`.
"""

from __future__ import annotations

from zarrlayer.format.build import build_array_metadata
from zarrlayer.format.codecs.pipeline import ChunkCodecPipeline
from zarrlayer.format.codecs.sharding import ShardingCodec
from zarrlayer.format.common import (
    V2_ARRAY_KEY,
    V2_ATTRS_KEY,
    V2_CONSOLIDATED_KEY,
    V2_GROUP_KEY,
    V3_METADATA_KEY,
)
from zarrlayer.format.consolidated import build_consolidated, parse_consolidated
from zarrlayer.format.group import GroupMetadata
from zarrlayer.format.metadata import ArrayMetadata
from zarrlayer.format.metadata_v2 import ArrayV2Metadata
from zarrlayer.format.metadata_v3 import ArrayV3Metadata
from zarrlayer.format.nodes import parse_node_metadata

__all__ = [
    "ArrayMetadata",
    "ArrayV2Metadata",
    "ArrayV3Metadata",
    "GroupMetadata",
    "parse_node_metadata",
    "build_array_metadata",
    "ChunkCodecPipeline",
    "ShardingCodec",
    "parse_consolidated",
    "build_consolidated",
    "V3_METADATA_KEY",
    "V2_ARRAY_KEY",
    "V2_GROUP_KEY",
    "V2_ATTRS_KEY",
    "V2_CONSOLIDATED_KEY",
]
