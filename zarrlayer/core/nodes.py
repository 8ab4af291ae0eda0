"""Metadata I/O for nodes: detect and load an array or group, write its documents, list children.

Every candidate document of a node (`zarr.json`, `.zarray`, `.zgroup`, `.zattrs`, and
`.zmetadata` when consolidated metadata may be used) is fetched in one batch, so opening
a node costs one round of concurrent requests on a remote store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

from zarrlayer.core.io import delete_keys, fetch, join_path, set_values
from zarrlayer.core._doc_fetch import fetch_documents
from zarrlayer.core.sync import sync
from zarrlayer.errors import (
    ContainsArrayError,
    MetadataError,
    NodeNotFoundError,
    ZarrlayerError,
)
from zarrlayer.format import (
    V2_ARRAY_KEY,
    V2_ATTRS_KEY,
    V2_CONSOLIDATED_KEY,
    V2_GROUP_KEY,
    V3_METADATA_KEY,
    ArrayMetadata,
    GroupMetadata,
    parse_consolidated,
    parse_node_metadata,
)
from zarrlayer.storage._base import Store

__all__ = [
    "NodeMetadata",
    "encode_metadata",
    "ensure_parents",
    "list_children",
    "list_dir",
    "load_node",
    "load_nodes",
    "node_exists",
    "publish_metadata",
    "with_store",
    "write_metadata",
]

NodeMetadata = Union[ArrayMetadata, GroupMetadata]

_V3_DOCS = (V3_METADATA_KEY,)
_V2_DOCS = (V2_ARRAY_KEY, V2_GROUP_KEY, V2_ATTRS_KEY)
_METADATA_NAMES = {V3_METADATA_KEY, V2_ARRAY_KEY, V2_GROUP_KEY, V2_ATTRS_KEY, V2_CONSOLIDATED_KEY}


def _doc_names(zarr_format: int | None, consolidated: bool) -> tuple[str, ...]:
    names: tuple[str, ...] = ()
    if zarr_format in (None, 3):
        names += _V3_DOCS
    if zarr_format in (None, 2):
        names += _V2_DOCS + ((V2_CONSOLIDATED_KEY,) if consolidated else ())
    return names


def with_store(exc: ZarrlayerError, store: Store) -> ZarrlayerError:
    """The same error type, its message extended with the store's URL."""
    try:
        clone = type(exc)(f"{exc} (store {store.url})")
    except Exception:
        return exc
    return clone


def _parse(
    store: Store, path: str, docs: dict[str, Any], use_consolidated: bool | None
) -> NodeMetadata | None:
    """The node in `docs` (v3 first, then v2), or None when no document says there is one."""
    try:
        if docs.get(V3_METADATA_KEY) is not None:
            node = parse_node_metadata({V3_METADATA_KEY: docs[V3_METADATA_KEY]}, path=path)
        elif docs.get(V2_ARRAY_KEY) is not None or docs.get(V2_GROUP_KEY) is not None:
            node = parse_node_metadata({k: docs.get(k) for k in _V2_DOCS}, path=path)
            consolidated = docs.get(V2_CONSOLIDATED_KEY)
            if isinstance(node, GroupMetadata) and consolidated is not None and use_consolidated is not False:
                members = parse_consolidated(bytes(consolidated), zarr_format=2, path=path)
                node = node.evolve(consolidated=members)
        else:
            return None
    except NodeNotFoundError:
        return None
    except ZarrlayerError as exc:
        raise with_store(exc, store) from exc
    if isinstance(node, GroupMetadata) and use_consolidated is False and node.consolidated is not None:
        node = node.evolve(consolidated=None)
    if isinstance(node, GroupMetadata) and use_consolidated is True and node.consolidated is None:
        raise MetadataError(
            f"expected consolidated metadata for the group at path '{path}' in store {store.url}, found none; "
            "call zarrlayer.consolidate_metadata first or pass use_consolidated=None"
        )
    if isinstance(node, GroupMetadata) and node.consolidated is not None:
        from zarrlayer.core.consolidation import track_live

        track_live(store, path, node.consolidated)
    return node


def load_nodes(
    store: Store,
    paths: Sequence[str],
    *,
    zarr_format: int | None = None,
    use_consolidated: bool | None = False,
) -> list[NodeMetadata | None]:
    """The metadata at each of `paths` (None where there is no node), all fetched in one batch."""
    names = _doc_names(zarr_format, use_consolidated is not False)
    values = fetch_documents(store, paths, names)
    out: list[NodeMetadata | None] = []
    for i, path in enumerate(paths):
        docs = dict(zip(names, values[i * len(names) : (i + 1) * len(names)]))
        try:
            out.append(_parse(store, path, docs, use_consolidated))
        except MetadataError:
            drop = getattr(store, "drop_cached", None)  # a cache: its copy may be what is broken
            if drop is None:
                raise
            keys = [join_path(path, n) for n in names]
            drop(keys)
            docs = dict(zip(names, fetch(store, [(k, None) for k in keys])))
            out.append(_parse(store, path, docs, use_consolidated))
    return out


def load_node(
    store: Store, path: str, *, zarr_format: int | None = None, use_consolidated: bool | None = None
) -> NodeMetadata:
    """The array or group at `path`; NodeNotFoundError when there is none."""
    node = load_nodes(store, [path], zarr_format=zarr_format, use_consolidated=use_consolidated)[0]
    if node is None:
        expected = {3: "zarr.json", 2: ".zarray or .zgroup", None: "zarr.json, .zarray or .zgroup"}[zarr_format]
        raise NodeNotFoundError(
            f"no array or group at path '{path}' in store {store.url}: expected {expected}, found none"
        )
    return node


def node_exists(store: Store, path: str, zarr_format: int | None = None) -> NodeMetadata | None:
    """The node at `path` if there is one (of any format when `zarr_format` is None)."""
    return load_nodes(store, [path], zarr_format=zarr_format)[0]


def encode_metadata(store: Store, path: str, metadata: NodeMetadata) -> dict[str, bytes]:
    """The node's documents; MetadataError naming the node when they are not JSON (bad attributes)."""
    try:
        return metadata.to_documents()
    except MetadataError as exc:
        raise type(exc)(f"cannot write the metadata of node '{path}' in store {store.url}: {exc}") from None


def write_metadata(store: Store, path: str, metadata: NodeMetadata) -> None:
    """Write the node's documents (and drop a stale v2 `.zattrs` when attributes are now empty).

    Consolidated metadata recording the node is updated in the same operation (core.consolidation).
    """
    from zarrlayer.core.consolidation import write_in_step

    documents = encode_metadata(store, path, metadata)
    write_in_step(store, path, metadata.zarr_format, documents)
    if metadata.zarr_format == 2 and V2_ATTRS_KEY not in documents:
        delete_keys(store, [join_path(path, V2_ATTRS_KEY)])


def publish_metadata(store: Store, nodes: Sequence[tuple[str, NodeMetadata]]) -> None:
    """Write several arrays' metadata (one format) with one update of each consolidated document
    recording them, written before the arrays' own documents (core.consolidation.publish_in_step)."""
    from zarrlayer.core.consolidation import publish_in_step

    by_format: dict[int, dict[str, dict[str, bytes]]] = {}
    for path, metadata in nodes:
        by_format.setdefault(metadata.zarr_format, {})[path] = encode_metadata(store, path, metadata)
    for zarr_format, documents in by_format.items():
        publish_in_step(store, zarr_format, documents)


def ensure_parents(store: Store, path: str, zarr_format: int) -> None:
    """Write group metadata for every ancestor of `path` that is not a node yet (as zarr-python does)."""
    parts = [p for p in path.split("/") if p]
    ancestors = ["/".join(parts[:i]) for i in range(len(parts))]
    if not ancestors:
        return
    nodes = load_nodes(store, ancestors, zarr_format=zarr_format)
    for ancestor, node in zip(ancestors, nodes):
        if isinstance(node, ArrayMetadata):
            raise ContainsArrayError(
                f"cannot create a node at '{path}': its ancestor '{ancestor}' is an array "
                f"(store {store.url})"
            )
    for ancestor, node in zip(ancestors, nodes):
        if node is None:
            write_metadata(store, ancestor, GroupMetadata(zarr_format=zarr_format))


def list_dir(store: Store, path: str) -> list[str]:
    """The names directly under the node directory `path`."""
    prefix = f"{path}/" if path else ""

    async def _collect() -> list[str]:
        return [name async for name in store.list_dir(prefix)]

    return sorted(set(sync(_collect())))


def list_children(store: Store, path: str, zarr_format: int) -> list[tuple[str, NodeMetadata]]:
    """The (name, metadata) of each child node of the group at `path`, sorted by name."""
    names = [n.rstrip("/") for n in list_dir(store, path)]
    candidates = [n for n in names if n and n not in _METADATA_NAMES and not n.startswith(".")]
    nodes = load_nodes(store, [join_path(path, n) for n in candidates], zarr_format=zarr_format)
    return [(name, node) for name, node in zip(candidates, nodes) if node is not None]
