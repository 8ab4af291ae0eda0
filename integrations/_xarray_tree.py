"""Writing an xarray DataTree with `to_zarrlayer`: one group per node, checked before anything is written."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from ._regions import InvalidWriteError
from ._xarray_open import join_path
from ._xarray_write import (
    _choose_mode,
    _existing_format,
    _keeps_consolidated,
    _rehearse,
    _resolve_format,
    _store_empty,
    _validate_encoding,
    new_writer,
    write_dataset,
)

__all__ = ["tree_to_zarrlayer"]


def tree_to_zarrlayer(
    tree: Any,
    store: Any,
    *,
    mode: str | None,
    group: str | None,
    encoding: Mapping[Hashable, Any] | None,
    zarr_format: int | None,
    zarr_version: int | None,
    write_inherited_coords: bool,
    append_dim: Hashable | None,
    region: Any,
    consolidated: bool | None,
    compute: bool,
    storage_options: dict[str, Any] | None,
    safe_chunks: bool,
    align_chunks: bool,
    chunkmanager_store_kwargs: dict[str, Any] | None,
    write_empty_chunks: bool | None,
) -> Any:
    """Every node of `tree` as a group below `group` (the root node at `group` itself); as `DataTree.to_zarr`.

    `encoding` is keyed by node path ('/', '/a/b'); unknown paths are an InvalidWriteError.
    Every node's dataset is rehearsed before the first one is written.
    """
    from zarrlayer.api import consolidate_metadata, open_group

    mode = _choose_mode(mode or "w-", append_dim, region)
    encoding = dict(encoding or {})
    unknown = sorted(map(str, set(encoding) - set(tree.groups)))
    if unknown:
        raise InvalidWriteError(
            f"unexpected encoding group name(s) {unknown}: not groups of the tree {sorted(tree.groups)}"
        )
    base = join_path(group)
    fmt = _resolve_format(mode, zarr_format, zarr_version, _existing_format(store, base, storage_options))
    nodes = []
    for rel_path, node in tree.subtree_with_keys:
        at_root = node is tree
        dataset = node.to_dataset(inherit=write_inherited_coords or at_root)
        node_encoding = _validate_encoding(dataset, encoding.get(node.path))
        if mode in ("w", "w-"):
            _rehearse(dataset, node_encoding, fmt, safe_chunks=safe_chunks, align_chunks=align_chunks)
        nodes.append((join_path(base, "" if at_root else rel_path), dataset, node_encoding, at_root))
    writer = new_writer(safe_chunks=safe_chunks, align_chunks=align_chunks)
    targets = []
    for path, dataset, node_encoding, at_root in nodes:
        node_mode = mode if at_root or mode not in ("w", "w-") else "a"
        targets.append(
            write_dataset(
                dataset, store, mode=node_mode, group=path, encoding=node_encoding, zarr_format=fmt,
                append_dim=append_dim, region=region, consolidated=False, compute=compute,
                storage_options=storage_options, safe_chunks=safe_chunks, align_chunks=align_chunks,
                chunkmanager_store_kwargs=chunkmanager_store_kwargs, writer=writer,
                write_empty_chunks=write_empty_chunks,
            )  # fmt: skip
        )
    writes = writer.sync(compute=compute, chunkmanager_store_kwargs=chunkmanager_store_kwargs)
    written = [item for target in targets for item in target.written]
    grown = [array for target in targets for array in target.grown]
    if compute:
        _store_empty(written, grown)
    root = open_group(store, mode="r+", path=base or None, storage_options=storage_options)
    if consolidated is not False and mode != "r+" and _keeps_consolidated(store):
        consolidate_metadata(root.store, path=None, zarr_format=fmt)
        root = open_group(store, mode="r+", path=base or None, storage_options=storage_options)
    if compute:
        return root
    import dask

    return dask.delayed(_store_empty, pure=False)(written, grown, writes)
