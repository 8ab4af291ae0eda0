"""`zarrlayer copy`: raw keys from any store to any store, metadata last, nothing left behind on failure.

Before anything is written or deleted, the two locations are compared (links and `..`
resolved): a destination that is the source, lies inside it or contains it is refused,
as is a local source holding a link that leads out of it. Chunks are copied first,
concurrently (bounded); metadata documents follow, deepest first, so that a reader never
finds a node whose data is still arriving. On any failure every key written so far is
deleted again.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from zarrlayer.errors import (
    ContainsArrayError,
    ContainsGroupError,
    NodeExistsError,
    NodeNotFoundError,
    StoreError,
    ZarrlayerError,
)
from zarrlayer.storage._base import Store, normalize_prefix

__all__ = ["METADATA_NAMES", "CopyResult", "UnsafeCopyError", "check_locations", "copy_store"]


class UnsafeCopyError(ZarrlayerError, ValueError):
    """A copy refused before it wrote or deleted anything, because it could harm its source or be lost."""

METADATA_NAMES = frozenset({"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"})
_NODE_NAMES = ("zarr.json", ".zarray", ".zgroup")


@dataclass(frozen=True)
class CopyResult:
    """What a copy did: keys and bytes written."""

    keys: int
    nbytes: int


def _is_metadata(key: str) -> bool:
    return key.rsplit("/", 1)[-1] in METADATA_NAMES


def _metadata_order(keys: list[str]) -> list[str]:
    """Deepest documents first and node documents after attributes, so the root node appears last."""
    return sorted(keys, key=lambda k: (-k.count("/"), k.rsplit("/", 1)[-1] in _NODE_NAMES, k))


def _is_array_document(name: str, raw: Any) -> bool:
    if name == ".zarray":
        return True
    if name != "zarr.json":
        return False
    try:
        return json.loads(bytes(raw)).get("node_type") == "array"
    except (ValueError, AttributeError):
        return False


def _base_store(store: Store) -> Store:
    """The store under any wrappers (caches), which says where the bytes really live."""
    seen = 0
    while hasattr(store, "store") and isinstance(getattr(store, "store"), Store) and seen < 32:
        store, seen = store.store, seen + 1
    return store


def _location(store: Store, prefix: str) -> tuple[str, str, str]:
    """(kind, base, prefix inside base): 'fs' gives a resolved filesystem path, 'zip' an archive path."""
    from zarrlayer.storage.local import LocalStore
    from zarrlayer.storage.memory import MemoryStore
    from zarrlayer.storage.zip import ZipStore

    base = _base_store(store)
    if isinstance(base, LocalStore):
        return "fs", os.path.realpath(os.path.join(base.root, *prefix.strip("/").split("/"))), ""
    if isinstance(base, ZipStore):
        return "zip", os.path.realpath(base.path), prefix.strip("/")
    if isinstance(base, MemoryStore):
        return "memory", f"{id(base.store_dict):x}", prefix.strip("/")
    url = base.url.rstrip("/")
    if url.startswith("file://"):
        return "fs", os.path.realpath(os.path.join(url[len("file://"):], *prefix.strip("/").split("/"))), ""
    return "url", url, prefix.strip("/")


def _within(inner: str, outer: str, sep: str) -> bool:
    """Whether the path `inner` is `outer` or lies below it (`outer` '' holds everything)."""
    return not outer or inner == outer or inner.startswith(outer.rstrip(sep) + sep)


def _overlap(src: tuple[str, str, str], dst: tuple[str, str, str]) -> str | None:
    """Why the two locations overlap ('is', 'lies inside', 'contains'), or None when they are apart."""
    (skind, sbase, sin), (dkind, dbase, din) = src, dst
    if skind == "fs" or dkind == "fs":
        # a directory and an archive file (or another directory) on disk: compare the files
        spath, dpath = sbase, dbase
        if skind == "fs" and dkind == "fs" and os.path.exists(spath) and os.path.exists(dpath):
            if os.path.samefile(spath, dpath):
                return "is"
        if spath == dpath:
            return "is"
        if _within(dpath, spath, os.sep):
            return "lies inside"
        if _within(spath, dpath, os.sep):
            return "contains"
        return None
    if (skind, sbase) != (dkind, dbase):
        return None
    if sin == din:
        return "is"
    if _within(din, sin, "/"):
        return "lies inside"
    if _within(sin, din, "/"):
        return "contains"
    return None


def _describe(store: Store, prefix: str) -> str:
    return f"{store.url}/{prefix}".rstrip("/") if prefix else store.url


def check_locations(src: Store, dst: Store, *, src_prefix: str = "", dst_prefix: str = "",
                    transient_ok: bool = True) -> None:
    """Refuse (UnsafeCopyError) a copy whose destination overlaps its source, or outlives nothing.

    Links and `..` are resolved first. `transient_ok=False` also refuses a destination that
    vanishes when the process exits (an in-memory store), as the command line does.
    """
    where_src, where_dst = _describe(src, src_prefix), _describe(dst, dst_prefix)
    if not transient_ok and _is_transient(dst):
        raise UnsafeCopyError(
            f"refusing to copy {where_src} to {where_dst}: the destination is an in-memory store that "
            "vanishes when this command exits; copy to a directory, a .zip file or a remote URL instead"
        )
    relation = _overlap(_location(src, src_prefix), _location(dst, dst_prefix))
    if relation is not None:
        reason = {"is": "is the source itself", "lies inside": "lies inside the source",
                  "contains": "contains the source"}[relation]
        raise UnsafeCopyError(
            f"refusing to copy {where_src} to {where_dst}: the destination {reason} (after resolving "
            "links and '..'), so writing or --overwrite would change or delete the source; "
            "choose a destination outside the source"
        )
    _check_links(src, src_prefix)


def _is_transient(store: Store) -> bool:
    from zarrlayer.storage.memory import MemoryStore

    base = _base_store(store)
    if isinstance(base, MemoryStore) or base.url.startswith("memory://"):
        return True
    fs = getattr(base, "fs", None)
    protocol = getattr(fs, "protocol", ())
    return "memory" in ((protocol,) if isinstance(protocol, str) else tuple(protocol))


def _check_links(src: Store, prefix: str) -> None:
    """Refuse a local source holding a link that leads out of it (or to a directory above the link)."""
    from zarrlayer.storage.local import LocalStore

    base = _base_store(src)
    if not isinstance(base, LocalStore):
        return
    root = os.path.realpath(base.root)
    top = os.path.realpath(os.path.join(root, *prefix.strip("/").split("/")))
    if not _within(top, root, os.sep):
        raise UnsafeCopyError(
            f"refusing to copy {_describe(src, prefix)}: its path leads through a link to {top}, outside the "
            f"store's root {root}; a copy does not follow links out of its source"
        )
    for directory, dirnames, filenames in os.walk(top, followlinks=False):
        for name in (*dirnames, *filenames):
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                continue
            target = os.path.realpath(path)
            outside = not _within(target, top, os.sep)
            loops = os.path.isdir(target) and _within(directory, target, os.sep)
            if outside or loops:
                why = "leads out of the source" if outside else "leads to a directory above it (a loop)"
                raise UnsafeCopyError(
                    f"refusing to copy {_describe(src, prefix)}: the link {path} -> {target} {why}; "
                    "a copy does not follow links out of its source (replace the link by the data, or remove it)"
                )


async def check_destination(dst: Store, prefix: str) -> None:
    """Raise NodeExistsError (or its array/group subclass) when `prefix` in `dst` holds anything."""
    first = None
    async for key in dst.list_prefix(prefix):
        first = key
        break
    if first is None:
        return
    where = f"{dst.url}/{prefix}".rstrip("/")
    for name in _NODE_NAMES:
        raw = await dst.get(prefix + name)
        if raw is not None:
            is_array = _is_array_document(name, raw)
            error, kind = (ContainsArrayError, "an array") if is_array else (ContainsGroupError, "a group")
            raise error(f"destination {where} already holds {kind}; pass --overwrite to replace it")
    raise NodeExistsError(
        f"destination {where} is not empty (it holds {first!r}); pass --overwrite to replace it"
    )


async def _remove_destination(dst: Store, prefix: str) -> None:
    """Delete what `prefix` holds, node documents first so no reader sees a half-removed node."""
    keys = [k async for k in dst.list_prefix(prefix)]
    for key in _metadata_order([k for k in keys if _is_metadata(k)])[::-1]:
        await dst.delete(key)
    await _run_workers((dst.delete(k) for k in keys if not _is_metadata(k)), 16)


async def _run_workers(jobs: Iterator[Coroutine[Any, Any, Any]], concurrency: int) -> None:
    """Await `jobs` with at most `concurrency` in flight; after a failure start no more, let those in
    flight finish (a write running in a thread cannot be recalled), then raise the first error."""
    jobs = iter(jobs)
    errors: list[BaseException] = []

    async def worker() -> None:
        for job in jobs:
            if errors:
                job.close()
                return
            try:
                await job
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the others settle
                errors.append(exc)
                return

    await asyncio.gather(*(worker() for _ in range(max(concurrency, 1))))
    for job in jobs:
        job.close()
    if errors:
        raise errors[0]


async def _rollback(dst: Store, written: list[str], error: BaseException) -> None:
    """Delete every key written by a failed copy, metadata first; a failure here is noted on `error`."""
    metadata = [k for k in reversed(written) if _is_metadata(k)]
    try:
        for key in metadata:
            await dst.delete(key)
        await _run_workers((dst.delete(k) for k in written if not _is_metadata(k)), 16)
    except Exception as exc:  # noqa: BLE001 - the copy's own error is the one to report
        error.add_note(f"cleaning up the partial copy in {dst.url} also failed: {exc}")


class _Copier:
    """Copies single keys from `src` to `dst`, remembering what it wrote (for a rollback) and how much."""

    def __init__(self, src: Store, dst: Store, prefixes: tuple[str, str],
                 on_copied: Callable[[int], None] | None) -> None:
        self.src, self.dst, self.prefixes, self.on_copied = src, dst, prefixes, on_copied
        self.written: list[str] = []
        self.in_flight: set[asyncio.Future[None]] = set()
        """Writes still running; shielded, so that a cancelled copy can wait for them before rolling back."""
        self.nbytes = 0

    async def settle(self) -> None:
        """Wait until no write of this copier is running."""
        while self.in_flight:
            await asyncio.gather(*self.in_flight, return_exceptions=True)

    async def copy(self, key: str) -> None:
        value = await self.src.get(key)
        if value is None:
            raise StoreError(f"key {key!r} was listed in {self.src.url} but vanished before it could be copied")
        target = self.prefixes[1] + key[len(self.prefixes[0]):]
        self.written.append(target)
        write = asyncio.ensure_future(self.dst.set(target, value))
        self.in_flight.add(write)
        write.add_done_callback(self.in_flight.discard)
        await asyncio.shield(write)
        self.nbytes += len(value)
        if self.on_copied is not None:
            self.on_copied(len(value))


async def copy_store(
    src: Store,
    dst: Store,
    *,
    src_prefix: str = "",
    dst_prefix: str = "",
    overwrite: bool = False,
    concurrency: int = 16,
    on_copied: Callable[[int], None] | None = None,
    transient_ok: bool = True,
) -> CopyResult:
    """Copy every key under `src_prefix` in `src` to `dst_prefix` in `dst`; returns what was written.

    Refuses a non-empty destination unless `overwrite`, which removes it first (and only it).
    Refuses first, changing nothing, a destination that is the source, lies inside it or
    contains it, and a local source with links leading out of it (UnsafeCopyError, see
    `check_locations`; `transient_ok=False` also refuses an in-memory destination).
    """
    src_prefix, dst_prefix = normalize_prefix(src_prefix), normalize_prefix(dst_prefix)
    await asyncio.to_thread(
        check_locations, src, dst, src_prefix=src_prefix, dst_prefix=dst_prefix, transient_ok=transient_ok
    )
    keys = [k async for k in src.list_prefix(src_prefix)]
    if not keys:
        raise NodeNotFoundError(f"nothing to copy: no keys under {f'{src.url}/{src_prefix}'.rstrip('/')}")
    if overwrite:
        await _remove_destination(dst, dst_prefix)
    else:
        await check_destination(dst, dst_prefix)
    copier = _Copier(src, dst, (src_prefix, dst_prefix), on_copied)
    metadata = _metadata_order([k for k in keys if _is_metadata(k)])
    try:
        await _run_workers((copier.copy(k) for k in keys if not _is_metadata(k)), concurrency)
        await _run_workers((copier.copy(k) for k in metadata), 1)
    except BaseException as exc:
        await copier.settle()
        await _rollback(dst, copier.written, exc)
        raise
    return CopyResult(keys=len(copier.written), nbytes=copier.nbytes)
