"""Consolidated metadata kept in step with every metadata write and every deletion.

A group's consolidated metadata (v2 `.zmetadata`, v3 `consolidated_metadata` in its
`zarr.json`) records the documents of every node below it, and a reader that opens the
group through it never looks at those nodes' own documents. So whenever a node's documents
are written (resize, append, attribute update, a new child or parent) or a node is deleted,
every consolidated document above it (and a group's own) is updated in the same operation,
under the write lock of that document. The documents are read and the updates computed
before anything is written, so a malformed consolidated document refuses the write
(MetadataError naming it) and nothing changes. Only this process's writers are serialized.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from zarrlayer.core.io import fetch, join_path, set_values
from zarrlayer.core.locks import hold, store_identity
from zarrlayer.errors import MetadataError
from zarrlayer.format.common import (
    V2_ARRAY_KEY,
    V2_ATTRS_KEY,
    V2_CONSOLIDATED_KEY,
    V2_GROUP_KEY,
    V3_METADATA_KEY,
)
from zarrlayer.format import members
from zarrlayer.format.consolidated import consolidated_entry
from zarrlayer.format.group import EMPTY_CONSOLIDATED, consolidated_order
from zarrlayer.storage._base import Store

__all__ = ["write_in_step", "forget_in_step", "publish_in_step", "track_live"]

_Edit = Callable[[dict[str, Any], str], None]


def _holders(path: str, *, itself: bool) -> list[str]:
    """The groups whose consolidated metadata may record the node at `path`: its ancestors (and itself)."""
    parts = [p for p in path.split("/") if p]
    holders = ["/".join(parts[:i]) for i in range(len(parts))]
    return holders + [path] if itself else holders


def _document_key(holder: str, zarr_format: int) -> str:
    return join_path(holder, V3_METADATA_KEY if zarr_format == 3 else V2_CONSOLIDATED_KEY)


def _relative(path: str, holder: str) -> str:
    return path[len(holder) :].lstrip("/") if holder else path


def _load(store: Store, key: str, raw: Any) -> dict[str, Any]:
    try:
        doc = json.loads(bytes(raw))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MetadataError(f"{store.url}/{key}: expected a JSON document, found unreadable bytes ({exc})") from None
    if not isinstance(doc, dict):
        raise MetadataError(f"{store.url}/{key}: expected a JSON object, found {type(doc).__name__}")
    return doc


def _records(store: Store, key: str, doc: dict[str, Any], zarr_format: int) -> dict[str, Any] | None:
    """The consolidated `metadata` object of `doc` (None when the document holds no consolidated metadata)."""
    if zarr_format == 3:
        cm = doc.get("consolidated_metadata")
        if cm is None:
            return None
        metadata = cm.get("metadata") if isinstance(cm, dict) else None
        field = "consolidated_metadata.metadata"
    else:
        metadata = doc.get("metadata")
        field = "metadata"
    if not isinstance(metadata, dict):
        raise MetadataError(
            f"{store.url}/{key}: expected an object in '{field}', found {type(metadata).__name__}; "
            "cannot keep it in step with this write (rewrite it with zarrlayer.consolidate_metadata)"
        )
    return metadata


def _update(store: Store, path: str, zarr_format: int, holders: list[str], edit: _Edit) -> dict[str, bytes]:
    """The consolidated documents of `holders` after `edit(records, relative path)`, by key (changed ones only)."""
    return _update_many(store, zarr_format, holders, [(path, edit)])


def _update_many(
    store: Store, zarr_format: int, holders: list[str], edits: list[tuple[str, _Edit]]
) -> dict[str, bytes]:
    """The consolidated documents of `holders` after each `(path, edit)` below them, by key (changed ones only)."""
    keys = [_document_key(h, zarr_format) for h in holders]
    out: dict[str, bytes] = {}
    for holder, key, raw in zip(holders, keys, fetch(store, [(k, None) for k in keys])):
        if raw is None:
            continue
        doc = _load(store, key, raw)
        records = _records(store, key, doc, zarr_format)
        if records is None:
            continue
        for path, edit in edits:
            if not holder or path == holder or path.startswith(holder + "/"):
                edit(records, _relative(path, holder))
        if zarr_format == 3:
            ordered = dict(sorted(records.items(), key=lambda item: consolidated_order(item[0])))
            doc["consolidated_metadata"]["metadata"] = ordered
            out[key] = json.dumps(doc, indent=2, allow_nan=True).encode("utf-8")
        else:
            out[key] = json.dumps(doc, allow_nan=True).encode("utf-8")
    return out


def _set_v3(records: dict[str, Any], rel: str, entry: dict[str, Any]) -> None:
    """Record `entry` at `rel`, flat, and inside any nested group record that lists its own members."""
    old = records.get(rel)
    if entry.get("node_type") == "group":
        kept = old.get("consolidated_metadata") if isinstance(old, dict) else None
        entry = {**entry, "consolidated_metadata": kept if isinstance(kept, dict) else dict(EMPTY_CONSOLIDATED)}
    records[rel] = entry
    parts = rel.split("/")
    for i in range(1, len(parts)):
        nested = _nested(records.get("/".join(parts[:i])))
        if nested:
            _set_v3(nested, "/".join(parts[i:]), entry)


def _drop_v3(records: dict[str, Any], rel: str) -> None:
    for key in [k for k in records if k == rel or k.startswith(rel + "/")]:
        del records[key]
    parts = rel.split("/")
    for i in range(1, len(parts)):
        nested = _nested(records.get("/".join(parts[:i])))
        if nested:
            _drop_v3(nested, "/".join(parts[i:]))


def _nested(record: Any) -> dict[str, Any] | None:
    cm = record.get("consolidated_metadata") if isinstance(record, dict) else None
    metadata = cm.get("metadata") if isinstance(cm, dict) else None
    return metadata if isinstance(metadata, dict) and metadata else None


def _set_v2(records: dict[str, Any], rel: str, documents: dict[str, Any]) -> None:
    prefix = f"{rel}/" if rel else ""
    if V2_ARRAY_KEY in documents:
        records[prefix + V2_ARRAY_KEY] = documents[V2_ARRAY_KEY]
        records.pop(prefix + V2_GROUP_KEY, None)
    elif V2_GROUP_KEY in documents:
        records.setdefault(prefix + V2_GROUP_KEY, documents[V2_GROUP_KEY])
        records.pop(prefix + V2_ARRAY_KEY, None)
    records[prefix + V2_ATTRS_KEY] = documents.get(V2_ATTRS_KEY, {})


def _drop_v2(records: dict[str, Any], rel: str) -> None:
    for key in list(records):
        node = key.rpartition("/")[0]
        if node == rel or node.startswith(rel + "/"):
            del records[key]


def write_in_step(store: Store, path: str, zarr_format: int, documents: dict[str, bytes]) -> None:
    """Write the node documents at `path` and update every consolidated document that records them."""
    path = path.strip("/")
    parsed = {name: json.loads(value) for name, value in documents.items() if name != V2_CONSOLIDATED_KEY}
    documents = dict(documents)
    is_group = V2_GROUP_KEY in documents or parsed.get(V3_METADATA_KEY, {}).get("node_type") == "group"
    holders = _holders(path, itself=is_group)
    keys = [_document_key(h, zarr_format) for h in holders]
    with hold(store, keys):
        if zarr_format == 3:
            entry = parsed[V3_METADATA_KEY]
            entry_without = {k: v for k, v in entry.items() if k != "consolidated_metadata"}
            updates = _update(store, path, zarr_format, holders[: len(holders) - is_group],
                              lambda records, rel: _set_v3(records, rel, entry_without))
            if is_group:
                own = _own_v3(store, path, entry)
                if own is not None:
                    documents[V3_METADATA_KEY] = own
        else:
            updates = _update(store, path, zarr_format, holders, lambda records, rel: _set_v2(records, rel, parsed))
            if is_group and join_path(path, V2_CONSOLIDATED_KEY) in updates:
                documents.pop(V2_CONSOLIDATED_KEY, None)  # the stored one, kept in step, wins
        set_values(store, [(join_path(path, name), value) for name, value in documents.items()])
        set_values(store, list(updates.items()))
        if path:
            members.refresh(store_identity(store), path,
                            lambda: consolidated_entry(parsed, zarr_format=zarr_format, path=path))


def publish_in_step(store: Store, zarr_format: int, arrays: dict[str, dict[str, bytes]]) -> None:
    """Write the documents of several arrays (by path) so that consolidated readers see them change together.

    Each consolidated document recording any of them is rewritten once (one atomic write per
    document on stores that write a key atomically), before the arrays' own documents. A crash
    between the two leaves the consolidated document ahead of the arrays' own documents;
    a consolidated reader sees every new document, a reader without consolidated metadata
    sees each array's own (old or new) document.
    """
    paths = {path.strip("/"): documents for path, documents in arrays.items()}
    if not paths:
        return
    parsed = {p: {n: json.loads(v) for n, v in docs.items()} for p, docs in paths.items()}
    holders = sorted({h for p in paths for h in _holders(p, itself=False)}, key=lambda h: (h.count("/"), h))
    keys = [_document_key(h, zarr_format) for h in holders]
    edits: list[tuple[str, _Edit]] = []
    for path, documents in parsed.items():
        if zarr_format == 3:
            entry = {k: v for k, v in documents[V3_METADATA_KEY].items() if k != "consolidated_metadata"}
            edits.append((path, lambda records, rel, entry=entry: _set_v3(records, rel, entry)))  # type: ignore[misc]
        else:
            edits.append((path, lambda records, rel, documents=documents: _set_v2(records, rel, documents)))  # type: ignore[misc]
    with hold(store, keys):
        updates = _update_many(store, zarr_format, holders, edits)
        set_values(store, list(updates.items()))
        set_values(store, [(join_path(p, name), value) for p, docs in paths.items() for name, value in docs.items()])
        for path, documents in parsed.items():
            if path:
                members.refresh(store_identity(store), path,
                                lambda documents=documents, path=path: consolidated_entry(  # type: ignore[misc]
                                    documents, zarr_format=zarr_format, path=path))


def track_live(store: Store, path: str, nodes: members.ConsolidatedNodes) -> None:
    """Keep the consolidated members of the group at `path` (as read from `store`) in step with this
    process's writes, so that a group handle opened earlier sees them as a new reader would."""
    members.track(nodes, store_identity(store), path)


def _own_v3(store: Store, path: str, entry: dict[str, Any]) -> bytes | None:
    """A v3 group's new `zarr.json` keeping its stored consolidated metadata (already in step), or None."""
    key = join_path(path, V3_METADATA_KEY)
    (raw,) = fetch(store, [(key, None)])
    if raw is None:
        return None
    stored = _load(store, key, raw)
    if _records(store, key, stored, 3) is None:
        return None
    merged = {k: v for k, v in entry.items() if k not in ("consolidated_metadata", "node_type")}
    merged["consolidated_metadata"] = stored["consolidated_metadata"]
    merged["node_type"] = "group"
    return json.dumps(merged, indent=2, allow_nan=True).encode("utf-8")


def forget_in_step(store: Store, path: str, zarr_format: int | None = None) -> None:
    """Remove the node at `path` (already deleted) and its descendants from every consolidated document above it."""
    path = path.strip("/")
    if not path:
        return
    holders = _holders(path, itself=False)
    members.forget(store_identity(store), path)
    formats = (zarr_format,) if zarr_format else (3, 2)
    for fmt in formats:
        keys = [_document_key(h, fmt) for h in holders]
        drop = _drop_v3 if fmt == 3 else _drop_v2
        with hold(store, keys):
            updates = _update(store, path, fmt, holders, drop)
            set_values(store, list(updates.items()))

