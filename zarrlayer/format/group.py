"""Group metadata for both formats, with (optionally) the consolidated metadata of its descendants."""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zarrlayer.errors import MetadataError
from zarrlayer.format.common import V2_ATTRS_KEY, V2_CONSOLIDATED_KEY, V2_GROUP_KEY, V3_METADATA_KEY, dump_json
from zarrlayer.format.members import ConsolidatedNodes

__all__ = ["GroupMetadata", "consolidated_order", "EMPTY_CONSOLIDATED"]

EMPTY_CONSOLIDATED = {"kind": "inline", "must_understand": False, "metadata": {}}


def consolidated_order(path: str) -> tuple[int, str]:
    """zarr-python's order of consolidated entries: shallower first, then case-insensitive by name."""
    return path.count("/"), unicodedata.normalize("NFKC", path).casefold()


@dataclass(frozen=True)
class GroupMetadata:
    """A group: its format, attributes and the consolidated metadata of its descendants (or None).

    `consolidated` maps paths relative to this group (`"a"`, `"a/b"`) to node metadata; any mapping
    given is kept as a ConsolidatedNodes, which parses recorded arrays when first asked for.
    """

    zarr_format: int = 3
    attributes: dict[str, Any] = field(default_factory=dict)
    consolidated: ConsolidatedNodes | None = None
    extra_fields: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.consolidated is not None and type(self.consolidated) is not ConsolidatedNodes:
            object.__setattr__(self, "consolidated", ConsolidatedNodes(self.consolidated))

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the main document (`zarr.json`, or `.zgroup` for v2)."""
        if self.zarr_format == 2:
            return {"zarr_format": 2}
        doc: dict[str, Any] = {"attributes": self.attributes, "zarr_format": 3}
        if self.consolidated is not None:
            doc["consolidated_metadata"] = _consolidated_v3(self.consolidated)
        doc["node_type"] = "group"
        doc.update(self.extra_fields)
        return doc

    def to_documents(self) -> dict[str, bytes]:
        """The documents to write at the node (v2: `.zgroup`, `.zattrs` and `.zmetadata` when consolidated)."""
        if self.zarr_format == 3:
            return {V3_METADATA_KEY: dump_json(self.to_json())}
        docs = {V2_GROUP_KEY: dump_json({"zarr_format": 2}), V2_ATTRS_KEY: dump_json(self.attributes)}
        if self.consolidated is not None:
            docs[V2_CONSOLIDATED_KEY] = consolidated_v2_bytes(self, self.consolidated)
        return docs

    def evolve(self, **changes: Any) -> GroupMetadata:
        """A copy with `attributes=` (or `consolidated=`) changed."""
        unknown = set(changes) - {"attributes", "consolidated"}
        if unknown:
            raise TypeError(f"evolve() can change attributes or consolidated, not {sorted(unknown)}")
        if "attributes" in changes and not isinstance(changes["attributes"], dict):
            raise MetadataError(f"attributes must be a dict, found {type(changes['attributes']).__name__}")
        return dataclasses.replace(self, **changes)


def _consolidated_v3(nodes: Mapping[str, Any]) -> dict[str, Any]:
    metadata = {}
    for path in sorted(nodes, key=consolidated_order):
        node = nodes[path]
        if isinstance(node, GroupMetadata):
            doc = dataclasses.replace(node, consolidated=ConsolidatedNodes()).to_json()
        else:
            doc = node.to_json()
        metadata[path] = doc
    return {"kind": "inline", "must_understand": False, "metadata": metadata}


def consolidated_v2_bytes(root: GroupMetadata, nodes: Mapping[str, Any]) -> bytes:
    """The `.zmetadata` document (compact JSON, as zarr-python writes it) for `root` and `nodes`."""
    docs: dict[str, Any] = {V2_GROUP_KEY: {"zarr_format": 2}, V2_ATTRS_KEY: root.attributes}
    for path in sorted(nodes, key=consolidated_order):
        node = nodes[path]
        docs[f"{path}/{V2_ATTRS_KEY}"] = node.attributes
        if isinstance(node, GroupMetadata):
            docs[f"{path}/{V2_GROUP_KEY}"] = {
                "zarr_format": 2,
                "consolidated_metadata": {"metadata": {}, "must_understand": False, "kind": "inline"},
            }
        else:
            docs[f"{path}/.zarray"] = node.to_json()
    return json.dumps({"metadata": docs, "zarr_consolidated_format": 1}, allow_nan=True).encode("utf-8")
