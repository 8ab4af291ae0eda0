"""Group: a node that holds arrays and groups; answers member queries from consolidated metadata when present."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zarrlayer.core.array import Array
import numpy as np

from zarrlayer.core.create import DEFAULT_FILL_VALUE, array_config, clear_node, create_array_node, create_group_node, create_nodes, like_options
from zarrlayer.core.info import GroupInfo
from zarrlayer.core.io import join_path
from zarrlayer.core.node import Node
from zarrlayer.core.nodes import NodeMetadata, list_children, load_node, load_nodes, with_store
from zarrlayer.errors import (
    ArgumentError,
    ArgumentTypeError,
    ContainsArrayError,
    ContainsGroupError,
    ExistingArrayError,
    ExistingGroupError,
    MemberNotFoundError,
    NodeNotFoundError,
    ZarrlayerError,
)
from zarrlayer.format import ArrayMetadata, GroupMetadata
from zarrlayer.storage._base import Store
from zarrlayer.storage.resolve import StorePath, make_store_path

__all__ = ["Group", "make_node"]


def make_node(store: Store, path: str, metadata: NodeMetadata) -> Array | Group:
    """The Array or Group object for `metadata` at `path`."""
    if isinstance(metadata, ArrayMetadata):
        return Array(store, path, metadata)
    return Group(store, path, metadata)


class Group(Node[GroupMetadata]):
    """A Zarr group at `path` in `store`."""

    _kind = "group"

    def __repr__(self) -> str:
        return f"<Group {self._where()}>"

    # -- members -------------------------------------------------------------------------

    def _children(self) -> list[tuple[str, NodeMetadata]]:
        consolidated = self._metadata.consolidated
        if consolidated is not None:
            recorded = [(k, self._recorded(k)) for k in sorted(k for k in consolidated if "/" not in k)]
            return [(k, md) for k, md in recorded if md is not None]
        return list_children(self._store, self._path, self.zarr_format)

    def _child_kinds(self) -> list[tuple[str, bool]]:
        """(name, is an array) of each direct member; consolidated arrays stay unparsed."""
        consolidated = self._metadata.consolidated
        if consolidated is not None:
            return sorted((k, consolidated.is_array(k)) for k in consolidated if "/" not in k)
        return [(k, isinstance(md, ArrayMetadata)) for k, md in self._children()]

    def _recorded(self, name: str) -> NodeMetadata | None:
        """The consolidated metadata of `name` (parsed now if it was not yet), or None."""
        try:
            return self._metadata.consolidated.get(name)  # type: ignore[union-attr]
        except ZarrlayerError as exc:
            raise with_store(exc, self._store) from exc

    def _wrap(self, name: str, metadata: NodeMetadata) -> Array | Group:
        path = join_path(self._path, name)
        consolidated = self._metadata.consolidated
        if isinstance(metadata, GroupMetadata) and consolidated is not None:
            metadata = metadata.evolve(consolidated=consolidated.below(name))
        return make_node(self._store, path, metadata)

    def _lookup(self, name: str) -> NodeMetadata | None:
        name = name.strip("/")
        if not name:
            return None
        consolidated = self._metadata.consolidated
        if consolidated is not None:
            return self._recorded(name)
        return load_nodes(self._store, [join_path(self._path, name)], zarr_format=self.zarr_format)[0]

    def _has(self, name: str) -> bool:
        consolidated = self._metadata.consolidated
        if consolidated is not None:
            return name.strip("/") in consolidated
        return self._lookup(name) is not None

    def __getitem__(self, name: str) -> Array | Group:
        metadata = self._lookup(name)
        if metadata is None:
            raise MemberNotFoundError(
                f"no array or group named {name!r} in group '{self._path}' (store {self._store.url})"
            )
        return self._wrap(name.strip("/"), metadata)

    def get(self, path: str, default: Any = None) -> Any:
        """The member at `path` (a name or 'a/b'), or `default` when there is none."""
        metadata = self._lookup(path)
        return default if metadata is None else self._wrap(path.strip("/"), metadata)

    def __delitem__(self, name: str) -> None:
        """Delete the member `name` and everything below it."""
        self._check_writable()
        if not self._has(name):
            raise MemberNotFoundError(
                f"no array or group named {name!r} in group '{self._path}' (store {self._store.url})"
            )
        clear_node(self._store, join_path(self._path, name))
        consolidated = self._metadata.consolidated
        if consolidated is not None:
            self._metadata = self._metadata.evolve(consolidated=consolidated.without(name.strip("/")))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._has(name)

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, _ in self._child_kinds()])

    def __len__(self) -> int:
        return len(self._child_kinds())

    def keys(self) -> Iterator[str]:
        """Names of the direct members, sorted."""
        return iter(self)

    def __setitem__(self, name: str, value: Any) -> None:
        """`group["x"] = data`: a new array `name` holding `data` (replacing any node there), default settings.

        `data` is an array (anything with `shape` and `dtype`); a scalar or list is an ArgumentTypeError
        (a TypeError), as in zarr-python.
        """
        if not (hasattr(value, "shape") and hasattr(value, "dtype")):
            raise ArgumentTypeError(
                f"group[{name!r}] = value expects an array (numpy or another with shape and dtype), "
                f"found {type(value).__name__}; wrap it with numpy.asarray"
            )
        self.create_array(name, data=np.asarray(value), overwrite=True)

    def __eq__(self, other: object) -> bool:
        """Handles of one group (same store, path and metadata) compare equal, as in zarr-python."""
        if not isinstance(other, Group):
            return NotImplemented
        return self._store == other._store and self._path == other._path and self._metadata == other._metadata

    def __hash__(self) -> int:
        return _node_hash(self._store, self._path)

    def nmembers(self, max_depth: int | None = 0) -> int:
        """Number of members, counted to `max_depth` as `members` (None: the whole hierarchy)."""
        if max_depth == 0:
            return len(self)
        return len(self.members(max_depth))

    def array_values(self) -> Iterator[Array]:
        """Each direct array member."""
        return (node for _, node in self.arrays())

    def group_values(self) -> Iterator[Group]:
        """Each direct group member."""
        return (node for _, node in self.groups())

    def members(
        self, max_depth: int | None = 0, *, use_consolidated_for_children: bool = True
    ) -> tuple[tuple[str, Array | Group], ...]:
        """(name, node) for each member, sorted by name; names are paths below this group.

        `max_depth=0` (the default) gives the direct members, `n` descends `n` more levels,
        None the whole hierarchy, as zarr-python's `Group.members`. Consolidated metadata, where the
        group has it, answers for the whole hierarchy (`use_consolidated_for_children` is accepted for
        zarr-python's signature; the recorded members are the children's too).
        """
        if max_depth is not None and max_depth < 0:
            raise ArgumentError(f"max_depth must be None or >= 0, found {max_depth}")
        found: list[tuple[str, Array | Group]] = []
        for name, md in self._children():
            node = self._wrap(name, md)
            found.append((name, node))
            if isinstance(node, Group) and (max_depth is None or max_depth > 0):
                deeper = node.members(None if max_depth is None else max_depth - 1)
                found.extend((f"{name}/{sub}", child) for sub, child in deeper)
        return tuple(sorted(found, key=lambda item: item[0]))

    def arrays(self) -> Iterator[tuple[str, Array]]:
        """(name, array) for each direct array member."""
        for name, md in self._children():
            if isinstance(md, ArrayMetadata):
                yield name, self._wrap(name, md)  # type: ignore[misc]

    def groups(self) -> Iterator[tuple[str, Group]]:
        """(name, group) for each direct group member."""
        for name, md in self._children():
            if isinstance(md, GroupMetadata):
                yield name, self._wrap(name, md)  # type: ignore[misc]

    def array_keys(self) -> Iterator[str]:
        """Names of the direct array members."""
        return (name for name, is_array in self._child_kinds() if is_array)

    def group_keys(self) -> Iterator[str]:
        """Names of the direct group members."""
        return (name for name, is_array in self._child_kinds() if not is_array)

    # -- creating members ------------------------------------------------------------------

    def _remember(self, name: str, metadata: NodeMetadata) -> None:
        consolidated = self._metadata.consolidated
        if consolidated is not None:
            self._metadata = self._metadata.evolve(consolidated=consolidated.with_node(name, metadata))

    def create_group(self, name: str, *, overwrite: bool = False, attributes: dict[str, Any] | None = None) -> Group:
        """A new group `name` (which may be a path 'a/b') inside this group."""
        self._check_writable()
        group = create_group_node(
            self._store, join_path(self._path, name), zarr_format=self.zarr_format,
            attributes=attributes, overwrite=overwrite,
        )
        self._remember(name.strip("/"), group.metadata)
        return group

    def require_group(self, name: str, **kwargs: Any) -> Group:
        """The group `name`, created if missing; ContainsArrayError when an array is there."""
        existing = self._lookup(name)
        if existing is None:
            return self.create_group(name, **kwargs)
        if isinstance(existing, ArrayMetadata):
            raise ExistingArrayError(
                f"expected a group at '{join_path(self._path, name)}' in store {self._store.url}, found an array"
            )
        return self._wrap(name.strip("/"), existing)  # type: ignore[return-value]

    def create_array(
        self,
        name: str,
        *,
        shape: Any = None,
        dtype: Any = None,
        data: Any = None,
        chunks: Any = "auto",
        shards: Any = None,
        filters: Any = "auto",
        compressors: Any = "auto",
        compressor: Any = "auto",
        serializer: Any = "auto",
        fill_value: Any = DEFAULT_FILL_VALUE,
        order: str | None = None,
        attributes: dict[str, Any] | None = None,
        chunk_key_encoding: Any = None,
        dimension_names: Any = None,
        storage_options: dict[str, Any] | None = None,
        overwrite: bool = False,
        config: Any = None,
        write_data: bool = True,
        zarr_format: int | None = None,
    ) -> Array:
        """A new array `name` inside this group, in the group's format; options as zarrlayer.create_array."""
        self._check_writable()
        if zarr_format is not None and zarr_format != self.zarr_format:
            raise ArgumentError(f"expected zarr_format {self.zarr_format} (the group's) for '{name}', found {zarr_format}")
        array = create_array_node(
            self._store, join_path(self._path, name), shape=shape, dtype=dtype, data=data, chunks=chunks,
            shards=shards, filters=filters, compressors=compressors, compressor=compressor, serializer=serializer,
            fill_value=fill_value, order=order, attributes=attributes, chunk_key_encoding=chunk_key_encoding,
            dimension_names=dimension_names, storage_options=storage_options, overwrite=overwrite, config=config,
            write_data=write_data, zarr_format=self.zarr_format,
        )
        self._remember(name.strip("/"), array.metadata)
        return array

    def require_array(
        self, name: str, *, shape: Any, dtype: Any = None, config: Any = None, **kwargs: Any
    ) -> Array:
        """The array `name` if it has this shape (and dtype), else created; TypeError on a mismatch."""
        array_config(config, None)
        existing = self._lookup(name)
        if existing is None:
            return self.create_array(name, shape=shape, dtype=dtype, config=config, **kwargs)
        if isinstance(existing, GroupMetadata):
            raise ExistingGroupError(
                f"expected an array at '{join_path(self._path, name)}' in store {self._store.url}, found a group"
            )

        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if tuple(existing.shape) != shape or (dtype is not None and np.dtype(dtype) != existing.dtype):
            raise ArgumentTypeError(
                f"array '{join_path(self._path, name)}' exists with shape {existing.shape} and dtype "
                f"{existing.dtype}; expected shape {shape}" + (f" and dtype {np.dtype(dtype)}" if dtype else "")
            )
        return self._wrap(name.strip("/"), existing)  # type: ignore[return-value]

    def get_array(self, path: str) -> Array:
        """The array at `path` (a name or 'a/b'); NodeNotFoundError when absent, ContainsGroupError for a group."""
        node = self._member(path)
        if not isinstance(node, Array):
            raise ContainsGroupError(
                f"expected an array at '{join_path(self._path, path)}' in store {self._store.url}, found a group"
            )
        return node

    def get_group(self, path: str) -> Group:
        """The group at `path`; NodeNotFoundError when absent, ContainsArrayError for an array."""
        node = self._member(path)
        if not isinstance(node, Group):
            raise ContainsArrayError(
                f"expected a group at '{join_path(self._path, path)}' in store {self._store.url}, found an array"
            )
        return node

    def _member(self, path: str) -> Array | Group:
        metadata = self._lookup(path)
        if metadata is None:
            raise NodeNotFoundError(
                f"no array or group at '{join_path(self._path, path)}' in store {self._store.url}"
            )
        return self._wrap(path.strip("/"), metadata)

    def require_groups(self, *names: str) -> tuple[Group, ...]:
        """`require_group` for each of `names`."""
        return tuple(self.require_group(name) for name in names)

    def require_dataset(self, name: str, *, shape: Any, **kwargs: Any) -> Array:
        """zarr-python 2's name for `require_array`."""
        return self.require_array(name, shape=shape, **kwargs)

    def create_dataset(self, name: str, **kwargs: Any) -> Array:
        """zarr-python 2's name for `create_array` (`data=` writes it too)."""
        return self.create_array(name, **kwargs)

    create = create_array
    array = create_array

    def empty(self, *, name: str, shape: Any, **kwargs: Any) -> Array:
        """A new array `name` whose unwritten chunks read as the fill value (nothing is written)."""
        return self.create_array(name, shape=shape, **{"dtype": "f8", **kwargs})

    def zeros(self, *, name: str, shape: Any, **kwargs: Any) -> Array:
        """A new array `name` of zeros (fill value 0; no chunk is written)."""
        return self.create_array(name, shape=shape, **{"dtype": "f8", **kwargs, "fill_value": 0})

    def ones(self, *, name: str, shape: Any, **kwargs: Any) -> Array:
        """A new array `name` of ones (fill value 1; no chunk is written)."""
        return self.create_array(name, shape=shape, **{"dtype": "f8", **kwargs, "fill_value": 1})

    def full(self, *, name: str, shape: Any, fill_value: Any, **kwargs: Any) -> Array:
        """A new array `name` filled with `fill_value` (no chunk is written)."""
        dtype = kwargs.pop("dtype", None) or "f8"
        return self.create_array(name, shape=shape, fill_value=fill_value, dtype=dtype, **kwargs)

    def empty_like(self, *, name: str, data: Any, **kwargs: Any) -> Array:
        """`empty` with the shape, dtype (and chunks, for an Array) of `data`."""
        return self.create_array(name, **like_options(data, kwargs))

    def zeros_like(self, *, name: str, data: Any, **kwargs: Any) -> Array:
        """`zeros` shaped like `data`."""
        return self.create_array(name, **{**like_options(data, kwargs), "fill_value": 0})

    def ones_like(self, *, name: str, data: Any, **kwargs: Any) -> Array:
        """`ones` shaped like `data`."""
        return self.create_array(name, **{**like_options(data, kwargs), "fill_value": 1})

    def full_like(self, *, name: str, data: Any, **kwargs: Any) -> Array:
        """`full` shaped like `data` (the fill value of `data` unless `fill_value=` is given)."""
        return self.create_array(name, **like_options(data, kwargs, keep_fill=True))

    def create_hierarchy(
        self, nodes: dict[str, NodeMetadata], *, overwrite: bool = False
    ) -> Iterator[tuple[str, Array | Group]]:
        """Create every node of `nodes` (paths relative to this group -> metadata) with missing parents."""
        self._check_writable()
        created = create_nodes(self._store, self._path, nodes, overwrite=overwrite)
        for name, node in created:
            if name:
                self._remember(name, node.metadata)
        return iter(created)

    @property
    def store_path(self) -> StorePath:
        """The store and this group's path in it."""
        return StorePath(self._store, self._path)

    @classmethod
    def from_store(
        cls, store: Any, *, attributes: dict[str, Any] | None = None, zarr_format: int = 3, overwrite: bool = False
    ) -> Group:
        """A new group at the root of `store` (a store-like); ContainsGroupError/ContainsArrayError unless `overwrite`."""
        store_path = make_store_path(store, mode="a")
        return create_group_node(
            store_path.store, store_path.path, zarr_format=zarr_format, attributes=attributes, overwrite=overwrite
        )

    @classmethod
    def open(cls, store: Any, zarr_format: int | None = 3) -> Group:
        """The existing group at the root of `store` (a store-like); NodeNotFoundError when there is none."""
        store_path = make_store_path(store, mode="r+" if getattr(store, "read_only", False) is False else "r")
        metadata = load_node(store_path.store, store_path.path, zarr_format=zarr_format)
        if isinstance(metadata, ArrayMetadata):
            raise ContainsArrayError(
                f"expected a group at path '{store_path.path}' in store {store_path.store.url}, found an array"
            )
        return cls(store_path.store, store_path.path, metadata)

    # -- summaries ----------------------------------------------------------------------------

    def _group_info(self, counted: bool, every_level: bool = False) -> GroupInfo:
        counts: dict[str, int] = {}
        if counted:
            if every_level:
                kinds = [isinstance(node, Array) for _, node in self.members(max_depth=None)]
            else:
                kinds = [is_array for _, is_array in self._child_kinds()]
            arrays = sum(kinds)
            counts = dict(count_members=len(kinds), count_arrays=arrays, count_groups=len(kinds) - arrays)
        return GroupInfo(
            name=self._path, zarr_format=self.zarr_format, read_only=self.read_only,
            store_type=type(self._store).__name__, **counts,
        )

    @property
    def info(self) -> GroupInfo:
        """A printable summary with the direct members counted (from consolidated metadata, else one listing)."""
        return self._group_info(counted=True)

    def info_complete(self) -> GroupInfo:
        """The summary with every descendant counted (members, arrays, groups), as zarr-python's."""
        return self._group_info(counted=True, every_level=True)

    def tree(
        self, expand: bool | None = None, level: int | None = None, *, max_nodes: int = 500, plain: bool = False
    ) -> TreeRepr:
        """A printable tree of the hierarchy below this group, `level` levels deep (None: all).

        At most `max_nodes` nodes are drawn (a last line says how many more there are); the drawing is
        plain text either way (`plain` is accepted for zarr-python's signature, which only colours it);
        `expand` is accepted and ignored, as in zarr-python.
        """
        lines = [self.name if self._path else "/"]
        budget = [max_nodes]
        self._tree_lines(lines, "", level, budget)
        if budget[0] < 0:
            lines.append(f"... (more than max_nodes={max_nodes} nodes; raise max_nodes to see them all)")
        return TreeRepr("\n".join(lines) + "\n")  # a final newline, as zarr-python's

    def _tree_lines(self, lines: list[str], indent: str, level: int | None, budget: list[int]) -> None:
        if level is not None and level <= 0:
            return
        members = self.members()
        for i, (name, node) in enumerate(members):
            budget[0] -= 1
            if budget[0] < 0:
                continue
            last = i == len(members) - 1
            branch = "└── " if last else "├── "
            if isinstance(node, Array):
                lines.append(f"{indent}{branch}{name} {node.shape} {node.dtype}")
            else:
                lines.append(f"{indent}{branch}{name}")
                node._tree_lines(lines, indent + ("    " if last else "│   "), None if level is None else level - 1, budget)


class TreeRepr(str):
    """A tree drawing that prints as itself in a REPL."""

    def __repr__(self) -> str:
        return str(self)


def _node_hash(store: Any, path: str) -> int:
    """A hash of a node handle that equal handles share (the store's, where it hashes)."""
    try:
        return hash((path, store))
    except TypeError:
        return hash((path, type(store).__name__))
