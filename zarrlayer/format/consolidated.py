"""Consolidated metadata: v2 `.zmetadata` and v3 inline `consolidated_metadata` (zarr-python 3.1's layouts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from zarrlayer.errors import MetadataError, UnsupportedFeatureError
from zarrlayer.format.common import (
    V2_ARRAY_KEY,
    V2_ATTRS_KEY,
    V2_CONSOLIDATED_KEY,
    V2_GROUP_KEY,
    V3_METADATA_KEY,
    dump_json,
    load_json,
    where,
)
from zarrlayer.format.group import GroupMetadata, consolidated_v2_bytes
from zarrlayer.format.members import ConsolidatedNodes, PendingArray
from zarrlayer.format.metadata import ArrayMetadata
from zarrlayer.format.metadata_v2 import parse_array_v2
from zarrlayer.format.metadata_v3 import parse_array_v3

__all__ = ["parse_consolidated", "build_consolidated", "parse_consolidated_v3", "consolidated_entry"]

Node = ArrayMetadata | GroupMetadata


def parse_consolidated(document: bytes, *, zarr_format: Literal[2, 3], path: str) -> ConsolidatedNodes:
    """The nodes (by path relative to the group at `path`) recorded in a consolidated document.

    v2: the `.zmetadata` document; v3: the group's `zarr.json` (its `consolidated_metadata`).
    The group itself is not among the nodes. The document's structure is checked here; an
    array's own fields when that array is first looked up (its MetadataError names its path).
    """
    if zarr_format == 3:
        doc = load_json(document, path=path, document=V3_METADATA_KEY)
        cm = doc.get("consolidated_metadata")
        if cm is None:
            raise MetadataError(f"{where(path, V3_METADATA_KEY)}: no consolidated_metadata in the group document")
        return parse_consolidated_v3(cm, path=path)
    return _parse_v2(load_json(document, path=path, document=V2_CONSOLIDATED_KEY), path=path)


def parse_consolidated_v3(value: Any, *, path: str) -> ConsolidatedNodes:
    """The nodes of a v3 `consolidated_metadata` object, nested groups' entries flattened."""
    from zarrlayer.format.nodes import parse_v3_json

    at = f"{where(path, V3_METADATA_KEY)} consolidated_metadata"
    if not isinstance(value, dict):
        raise MetadataError(f"{at}: expected an object, found {value!r}")
    if value.get("kind", "inline") != "inline":
        raise UnsupportedFeatureError(f"{at}: kind {value.get('kind')!r} is not supported; expected 'inline'")
    metadata = value.get("metadata")
    if not isinstance(metadata, dict):
        raise MetadataError(f"{at}: 'metadata' must be an object, found {metadata!r}")
    nodes: dict[str, Any] = {}
    for key, doc in metadata.items():
        if not isinstance(doc, dict):
            raise MetadataError(f"{at}: entry {key!r} must be an object, found {type(doc).__name__}")
        node_path = f"{path.strip('/')}/{key}".strip("/")
        if doc.get("node_type") == "array" and doc.get("zarr_format") == 3:
            nodes[key] = PendingArray(_array_v3, doc, node_path)
            continue
        node = parse_v3_json(doc, path=node_path)
        if isinstance(node, GroupMetadata) and node.consolidated:
            nodes.update(node.consolidated.prefixed(key))
            node = GroupMetadata(3, node.attributes, ConsolidatedNodes(), node.extra_fields)
        nodes[key] = node
    return ConsolidatedNodes(nodes)


def consolidated_entry(parsed: Mapping[str, Any], *, zarr_format: int, path: str) -> Any:
    """The member entry the parsers above make for a node whose documents (parsed JSON, by name) are `parsed`."""
    from zarrlayer.format.nodes import parse_v3_json

    if zarr_format == 3:
        doc = {k: v for k, v in parsed[V3_METADATA_KEY].items() if k != "consolidated_metadata"}
        if doc.get("node_type") == "array":
            return PendingArray(_array_v3, doc, path)
        node = parse_v3_json(doc, path=path)
        if not isinstance(node, GroupMetadata):
            raise MetadataError(f"{where(path, V3_METADATA_KEY)}: expected a group document")
        return GroupMetadata(3, node.attributes, ConsolidatedNodes(), node.extra_fields)
    attrs = parsed.get(V2_ATTRS_KEY, {})
    if V2_ARRAY_KEY in parsed:
        return PendingArray(_array_v2, parsed[V2_ARRAY_KEY], attrs, path)
    return GroupMetadata(zarr_format=2, attributes=attrs)


def _array_v3(document: dict[str, Any], path: str) -> ArrayMetadata:
    return parse_array_v3(document, path=path)


def _array_v2(document: dict[str, Any], attributes: dict[str, Any], path: str) -> ArrayMetadata:
    return parse_array_v2(document, attributes, path=path)


def _parse_v2(doc: dict[str, Any], *, path: str) -> ConsolidatedNodes:
    at = where(path, V2_CONSOLIDATED_KEY)
    if doc.get("zarr_consolidated_format") != 1:
        raise MetadataError(f"{at}: expected zarr_consolidated_format 1, found {doc.get('zarr_consolidated_format')!r}")
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        raise MetadataError(f"{at}: 'metadata' must be an object, found {metadata!r}")
    by_node: dict[str, dict[str, Any]] = {}
    for key, value in metadata.items():
        node, _, name = key.rpartition("/")
        if name not in (V2_ARRAY_KEY, V2_GROUP_KEY, V2_ATTRS_KEY):
            continue
        if not isinstance(value, dict):
            raise MetadataError(f"{at}: entry {key!r} must be an object, found {type(value).__name__}")
        by_node.setdefault(node, {})[name] = value
    nodes: dict[str, Any] = {}
    for node, docs in by_node.items():
        if not node:
            continue
        node_path = f"{path.strip('/')}/{node}".strip("/")
        attrs = docs.get(V2_ATTRS_KEY, {})
        if V2_ARRAY_KEY in docs:
            nodes[node] = PendingArray(_array_v2, docs[V2_ARRAY_KEY], attrs, node_path)
        elif V2_GROUP_KEY in docs:
            nodes[node] = GroupMetadata(zarr_format=2, attributes=attrs)
    return ConsolidatedNodes(nodes)


def build_consolidated(
    nodes: Mapping[str, Node], *, zarr_format: Literal[2, 3], root: GroupMetadata | None = None
) -> dict[str, bytes]:
    """The documents to write at the root so that they record `nodes` (paths relative to the root).

    v2: `.zmetadata`; v3: the root group's `zarr.json` with `consolidated_metadata`.
    `root` gives the root group's attributes (none when omitted).
    """
    nodes = dict(nodes)
    for key, node in nodes.items():
        if node.zarr_format != zarr_format:
            raise MetadataError(f"consolidated metadata of a v{zarr_format} hierarchy cannot hold the v{node.zarr_format} node {key!r}")
    root = root if root is not None else GroupMetadata(zarr_format=zarr_format)
    if zarr_format == 3:
        group = GroupMetadata(3, root.attributes, ConsolidatedNodes(nodes), root.extra_fields)
        return {V3_METADATA_KEY: dump_json(group.to_json())}
    return {V2_CONSOLIDATED_KEY: consolidated_v2_bytes(root, nodes)}
