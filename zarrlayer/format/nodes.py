"""Detect and parse the node (array or group) described by the documents at one path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zarrlayer.errors import ContainsArrayAndGroupError, MetadataError, NodeNotFoundError, NodeTypeValidationError
from zarrlayer.format.common import V2_ARRAY_KEY, V2_ATTRS_KEY, V2_GROUP_KEY, V3_METADATA_KEY, load_json, where
from zarrlayer.format.group import GroupMetadata
from zarrlayer.format.metadata import ArrayMetadata
from zarrlayer.format.metadata_v2 import parse_array_v2
from zarrlayer.format.metadata_v3 import check_extensions, parse_array_v3, parse_attributes

__all__ = ["parse_node_metadata", "parse_v3_json", "parse_group_v3"]

_GROUP_KEYS = {"zarr_format", "node_type", "attributes", "consolidated_metadata"}


def parse_node_metadata(documents: Mapping[str, bytes | None], *, path: str) -> ArrayMetadata | GroupMetadata:
    """Parse the array or group that `documents` (`zarr.json`, or `.zarray`/`.zgroup`/`.zattrs`) describe."""
    v3 = documents.get(V3_METADATA_KEY)
    if v3 is not None:
        return parse_v3_json(load_json(v3, path=path, document=V3_METADATA_KEY), path=path)
    zarray, zgroup = documents.get(V2_ARRAY_KEY), documents.get(V2_GROUP_KEY)
    if zarray is None and zgroup is None:
        raise NodeNotFoundError(f"no Zarr array or group at {path.strip('/') or '(root)'}: found none of zarr.json, .zarray, .zgroup")
    if zarray is not None and zgroup is not None:
        raise ContainsArrayAndGroupError(f"{where(path, V2_ARRAY_KEY)}: both .zarray and .zgroup exist; a node is an array or a group")
    raw_attrs = documents.get(V2_ATTRS_KEY)
    attrs = load_json(raw_attrs, path=path, document=V2_ATTRS_KEY) if raw_attrs is not None else {}
    if zarray is not None:
        return parse_array_v2(load_json(zarray, path=path, document=V2_ARRAY_KEY), attrs, path=path)
    assert zgroup is not None  # checked above: one of .zarray and .zgroup is there
    group = load_json(zgroup, path=path, document=V2_GROUP_KEY)
    if group.get("zarr_format") != 2:
        raise MetadataError(f"{where(path, V2_GROUP_KEY)}: expected zarr_format 2, found {group.get('zarr_format')!r}")
    return GroupMetadata(zarr_format=2, attributes=attrs)


def parse_v3_json(document: dict[str, Any], *, path: str) -> ArrayMetadata | GroupMetadata:
    """Parse an already-loaded `zarr.json` object (array or group)."""
    at = where(path, V3_METADATA_KEY)
    if document.get("zarr_format") != 3:
        raise MetadataError(f"{at}: expected zarr_format 3, found {document.get('zarr_format')!r}")
    node_type = document.get("node_type")
    if node_type == "array":
        return parse_array_v3(document, path=path)
    if node_type == "group":
        return parse_group_v3(document, path=path)
    raise NodeTypeValidationError(f"{at}: node_type must be 'array' or 'group', found {node_type!r}")


def parse_group_v3(document: dict[str, Any], *, path: str) -> GroupMetadata:
    """Parse a v3 group `zarr.json`, including inline consolidated metadata."""
    at = where(path, V3_METADATA_KEY)
    extra = check_extensions(document, _GROUP_KEYS, where=at)
    attributes = parse_attributes(document.get("attributes", {}), where=at)
    consolidated = None
    cm = document.get("consolidated_metadata")
    if cm is not None:
        from zarrlayer.format.consolidated import parse_consolidated_v3

        consolidated = parse_consolidated_v3(cm, path=path)
    return GroupMetadata(zarr_format=3, attributes=attributes, consolidated=consolidated, extra_fields=extra)
