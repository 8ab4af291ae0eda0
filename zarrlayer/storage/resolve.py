"""Implicit store creation: a path, URL, dict or store becomes a Store (or a StorePath).

    make_store("data.zarr")              -> LocalStore        make_store({})          -> MemoryStore
    make_store("data.zip", mode="w")     -> ZipStore           make_store("memory://x") -> named MemoryStore
    make_store("s3://bucket/x.zarr")     -> FsspecStore (ObjectStore when config remote_backend="obstore")
    make_store(zarr.storage.LocalStore(...)) -> ZarrPythonStore (zarrlayer.compat), a zarr-python store adapted
    make_store(fsspec.get_mapper(url))   -> FsspecStore over the mapper's filesystem and root
    make_store(as_zarr_store(store))     -> store (the bridge unwrapped)

Modes mean what zarr-python makes them mean at the store level: 'r' read-only, 'r+' read and
write an existing location, 'a' read and write (created if needed), 'w' create or overwrite,
'w-' (alias 'x') create, failing if something is there. 'r' and 'r+' on a missing local path
raise NodeNotFoundError. The node-level parts ('w-' on an existing node, clearing for 'w')
need I/O and are done by `apply_mode`, which core awaits before creating a node.
"""

from __future__ import annotations

import importlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Literal, TypeAlias
from urllib.parse import unquote, urlparse

from zarrlayer import config
from zarrlayer.errors import (
    ContainsArrayError,
    ContainsGroupError,
    MissingDependencyError,
    ModeError,
    NodeExistsError,
    NodeNotFoundError,
    ZarrlayerError,
)
from zarrlayer.storage._base import Buffer, ByteRequest, Store, validate_key
from zarrlayer.storage.local import LocalStore
from zarrlayer.storage.memory import MemoryStore
from zarrlayer.storage.zip import ZipStore

__all__ = [
    "ACCEPTED_STORES",
    "AccessMode",
    "StoreLike",
    "StorePath",
    "UnsupportedStoreError",
    "adapt_store",
    "apply_mode",
    "as_store",
    "check_mode",
    "make_store",
    "make_store_path",
    "normalize_mode",
    "type_name",
]

AccessMode: TypeAlias = Literal["r", "r+", "a", "w", "w-", "x"]
StoreLike: TypeAlias = "Store | StorePath | str | os.PathLike[str] | dict[str, bytes] | Any | None"
"""Also a zarr-python store (`zarr.abc.store.Store`) or an fsspec mapper (`fsspec.FSMap`)."""

ACCEPTED_STORES = (
    "a zarrlayer Store or StorePath, a zarr-python store (zarr.abc.store.Store), "
    "an fsspec mapper (fsspec.FSMap), a dict, a local path (str or os.PathLike) or a URL"
)


class UnsupportedStoreError(ZarrlayerError, TypeError):
    """An object given as a store that is none of the things a store can be made from."""


def type_name(obj: object) -> str:
    """The type of `obj` for error messages: `int`, `mypackage.Thing`."""
    kind = type(obj)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _from_mapper(mapper: Any, read_only: bool) -> Store:
    from zarrlayer.storage.fsspec import FsspecStore

    return FsspecStore(mapper.fs, mapper.root, read_only=read_only)


def adapt_store(obj: object, *, read_only: bool = False) -> Store | None:
    """The zarrlayer Store for a store object, or None when `obj` is not one.

    A zarrlayer Store is itself; a bridge (`as_zarr_store`) is the store it wraps; a zarr-python
    store is wrapped in `zarrlayer.compat.ZarrPythonStore`; an fsspec mapper becomes a
    FsspecStore over its filesystem and root (`read_only` applies to that new store only).
    Neither zarr nor the bridge is imported unless the caller already loaded them.
    """
    import sys

    if isinstance(obj, Store):
        return obj
    if "zarrlayer.compat._bridge" in sys.modules or "zarr.abc.store" in sys.modules:
        from zarrlayer.compat import from_zarr_store, is_bridge_store, is_zarr_python_store

        if is_bridge_store(obj) or is_zarr_python_store(obj):
            return from_zarr_store(obj)
    mapping_module = sys.modules.get("fsspec.mapping")
    if mapping_module is not None and isinstance(obj, mapping_module.FSMap):
        return _from_mapper(obj, read_only)
    return None


def as_store(obj: object, *, what: str = "a store") -> Store:
    """`adapt_store(obj)`, or UnsupportedStoreError (a TypeError) naming the type found; for wrappers and caches."""
    store = adapt_store(obj)
    if store is None:
        raise UnsupportedStoreError(
            f"expected {what}: a zarrlayer Store, a zarr-python store (zarr.abc.store.Store) "
            f"or an fsspec mapper (fsspec.FSMap), found {type_name(obj)}"
        )
    return store

_MODES: dict[str, AccessMode] = {"r": "r", "r+": "r+", "a": "a", "w": "w", "w-": "w-", "x": "w-"}
_ZIP_MODES = {None: "a", "r": "r", "r+": "a", "a": "a", "w": "w", "w-": "a"}


def normalize_mode(mode: str | None) -> AccessMode | None:
    """`mode` checked and canonical ('x' becomes 'w-'); ModeError for anything unknown."""
    if mode is None:
        return None
    canonical = _MODES.get(mode) if isinstance(mode, str) else None
    if canonical is None:
        raise ModeError(f"expected an access mode among 'r', 'r+', 'a', 'w', 'w-' (or 'x'), found {mode!r}")
    return canonical


def _normalize_path(path: str | None) -> str:
    if path is None:
        return ""
    if not isinstance(path, str):
        raise TypeError(f"expected a str path inside a store, found {type(path).__name__}: {path!r}")
    path = path.strip("/")
    return validate_key(path) if path else ""


class StorePath:
    """A store and a '/'-separated path inside it; `sp / "a" / "b"` goes deeper."""

    __slots__ = ("store", "path")

    def __init__(self, store: Store, path: str = "") -> None:
        if not isinstance(store, Store):
            raise TypeError(f"expected a zarrlayer Store for a StorePath, found {type(store).__name__}")
        self.store = store
        self.path = _normalize_path(path)

    def __truediv__(self, other: str) -> StorePath:
        other = _normalize_path(other)
        if not other:
            return self
        return StorePath(self.store, f"{self.path}/{other}" if self.path else other)

    def key(self, name: str = "") -> str:
        """The store key of `name` under this path ('' is the path itself)."""
        name = _normalize_path(name)
        joined = f"{self.path}/{name}" if self.path and name else self.path or name
        return validate_key(joined)

    @property
    def prefix(self) -> str:
        """The directory prefix of this path ('' at the root, else ending in '/')."""
        return f"{self.path}/" if self.path else ""

    async def get(self, name: str = "", byte_range: ByteRequest | None = None) -> Buffer | None:
        """The value at `name` under this path, or None."""
        return await self.store.get(self.key(name), byte_range)

    async def set(self, name: str, value: Buffer) -> None:
        """Store `value` at `name` under this path."""
        await self.store.set(self.key(name), value)

    async def delete(self, name: str = "") -> None:
        """Remove `name` under this path (a no-op when missing)."""
        await self.store.delete(self.key(name))

    async def exists(self, name: str = "") -> bool:
        """Whether `name` under this path holds a value."""
        return await self.store.exists(self.key(name))

    async def delete_dir(self) -> None:
        """Remove every key under this path."""
        await self.store.delete_dir(self.prefix)

    async def is_empty(self) -> bool:
        """Whether no key lies under this path."""
        return await self.store.is_empty(self.prefix)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StorePath) and other.store == self.store and other.path == self.path

    def __hash__(self) -> int:
        return hash((self.store, self.path))

    def __reduce__(self) -> tuple[Any, ...]:
        return (StorePath, (self.store, self.path))

    def __repr__(self) -> str:
        return f"StorePath({self.store!r}, path={self.path!r})"

    def __str__(self) -> str:
        return f"{self.store.url}/{self.path}" if self.path else self.store.url


def _refuse_options(storage_options: dict[str, Any] | None, what: str) -> None:
    if storage_options:
        raise TypeError(
            f"storage_options were given for {what}, which does not use them; "
            "they apply only to remote URLs (s3://, gs://, http(s)://, ...)"
        )


def _is_remote(url: str) -> bool:
    return "::" in url or ("://" in url and not url.startswith(("file://", "memory://")))


def _with_mode(store: Store, mode: str | None) -> Store:
    """`store` as `mode` needs it: a read-only view for 'r'; ModeError for writes to a read-only store."""
    if mode == "r":
        return store if store.read_only else store.with_read_only(True)
    if mode is not None and store.read_only:
        raise ModeError(f"store {store.url} is read-only, but mode {mode!r} writes; use mode 'r' or a writable store")
    return store


def make_store(
    store_like: StoreLike,
    *,
    mode: AccessMode | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Store:
    """The Store that `store_like` names (see the module docstring), opened as `mode` says."""
    mode = normalize_mode(mode)
    if isinstance(store_like, StorePath):
        _refuse_options(storage_options, "a StorePath")
        return _with_mode(store_like.store, mode)
    adapted = None if isinstance(store_like, str | os.PathLike | dict) else adapt_store(store_like, read_only=mode == "r")
    if adapted is not None:
        _refuse_options(storage_options, f"a {type(store_like).__name__} store object")
        return _with_mode(adapted, mode)
    if store_like is None or isinstance(store_like, dict):
        _refuse_options(storage_options, "an in-memory dict")
        return MemoryStore(store_like, read_only=mode == "r")
    if isinstance(store_like, str) and _is_remote(store_like):
        return _remote_store(store_like, mode, storage_options)
    if isinstance(store_like, str) and store_like.startswith("memory://"):
        _refuse_options(storage_options, "a memory:// store")
        name = store_like[len("memory://"):]
        if mode in ("r", "r+") and not MemoryStore.is_named(name):
            raise NodeNotFoundError(f"no memory store named {name!r} to open with mode {mode!r}")
        return MemoryStore.named(name, read_only=mode == "r")
    if isinstance(store_like, (str, os.PathLike)):
        _refuse_options(storage_options, "a local path")
        return _local_store(_local_path(store_like), mode)
    raise UnsupportedStoreError(f"expected {ACCEPTED_STORES} to open, found {type_name(store_like)}")


def make_store_path(
    store_like: StoreLike,
    *,
    path: str | None = "",
    mode: AccessMode | None = None,
    storage_options: dict[str, Any] | None = None,
) -> StorePath:
    """A StorePath: the store `make_store` gives, with `path` below it (and below a StorePath's own path)."""
    if isinstance(store_like, StorePath):
        _refuse_options(storage_options, "a StorePath")
        return StorePath(_with_mode(store_like.store, normalize_mode(mode)), store_like.path) / (path or "")
    if isinstance(store_like, str) and store_like.startswith("memory://") and "/" in store_like[9:]:
        name, _, inner = store_like[9:].partition("/")
        base = make_store(f"memory://{name}", mode=mode, storage_options=storage_options)
        return StorePath(base, inner) / (path or "")
    return StorePath(make_store(store_like, mode=mode, storage_options=storage_options), path or "")


def _local_path(store_like: str | os.PathLike[str]) -> Path:
    text = os.fspath(store_like)
    if isinstance(text, str) and text.startswith("file://"):
        parsed = urlparse(text)
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"expected a file:// URL on this host, found host {parsed.netloc!r} in {text!r}")
        return Path(unquote(parsed.path))
    return Path(text).expanduser()


def _local_store(path: Path, mode: str | None) -> Store:
    exists = path.exists()
    if mode in ("r", "r+") and not exists:
        raise NodeNotFoundError(f"nothing at {path} to open with mode {mode!r}; expected a directory or zip archive")
    is_zip = (path.is_file() and zipfile.is_zipfile(path)) or (not path.is_dir() and path.suffix.lower() == ".zip")
    if is_zip:
        return ZipStore(path, mode=_ZIP_MODES[mode])  # type: ignore[arg-type]
    if exists and not path.is_dir():
        raise NodeNotFoundError(f"expected a directory or zip archive at {path}, found a file that is neither")
    return LocalStore(path, read_only=mode == "r")


def _remote_store(url: str, mode: str | None, storage_options: dict[str, Any] | None) -> Store:
    read_only = mode == "r"
    if config.get().remote_backend == "obstore" and "::" not in url:
        cls = _remote_class("zarrlayer.storage.obstore", "ObjectStore", "obstore")
        return cls.from_url(url, read_only=read_only, **(storage_options or {}))
    cls = _remote_class("zarrlayer.storage.fsspec", "FsspecStore", "s3")
    return cls.from_url(url, storage_options=storage_options, read_only=read_only)


def _remote_class(module_name: str, class_name: str, extra: str) -> Any:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise MissingDependencyError(
            f"remote URLs need the {class_name} store ({module_name}), which this installation lacks; "
            f'install zarrlayer with remote support: pip install "zarrlayer[{extra}]"'
        ) from e
    return getattr(module, class_name)


async def _node_kind(store_path: StorePath) -> str | None:
    """'array', 'group' or None, from the Zarr v3 or v2 metadata documents at `store_path`."""
    document = await store_path.get("zarr.json")
    if document is not None:
        try:
            kind = json.loads(bytes(document)).get("node_type")
        except (ValueError, AttributeError):
            kind = None
        return kind if kind in ("array", "group") else "node"
    if await store_path.exists(".zarray"):
        return "array"
    if await store_path.exists(".zgroup"):
        return "group"
    return None


async def check_mode(store_path: StorePath, mode: AccessMode | None) -> None:
    """Raise if `mode` forbids creating a node at `store_path` ('w-' where something exists); no changes."""
    if normalize_mode(mode) != "w-":
        return
    kind = await _node_kind(store_path)
    where = f"path {store_path.path!r} of store {store_path.store.url}"
    if kind == "array":
        raise ContainsArrayError(f"an array exists at {where}; mode 'w-' creates only where nothing is")
    if kind == "group":
        raise ContainsGroupError(f"a group exists at {where}; mode 'w-' creates only where nothing is")
    if kind is not None or not await store_path.is_empty():
        raise NodeExistsError(f"data exists at {where}; mode 'w-' creates only where nothing is")


async def apply_mode(store_path: StorePath, mode: AccessMode | None) -> None:
    """`check_mode`, then for 'w' delete everything under `store_path`; core awaits this before creating."""
    await check_mode(store_path, mode)
    if normalize_mode(mode) == "w":
        await store_path.delete_dir()
