"""`zarrlayer copy`: raw keys from any store to any store, metadata last, nothing left behind on failure.

Chunks are copied first, concurrently (bounded); metadata documents follow, deepest
first, so that a reader never finds a node whose data is still arriving. On any
failure every key written so far is deleted again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from zarrlayer.errors import (
    ContainsArrayError,
    ContainsGroupError,
    NodeExistsError,
    NodeNotFoundError,
    StoreError,
)
from zarrlayer.storage._base import Store, normalize_prefix

__all__ = ["METADATA_NAMES", "CopyResult", "copy_store"]

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
) -> CopyResult:
    """Copy every key under `src_prefix` in `src` to `dst_prefix` in `dst`; returns what was written.

    Refuses a non-empty destination unless `overwrite`, which removes it first.
    """
    src_prefix, dst_prefix = normalize_prefix(src_prefix), normalize_prefix(dst_prefix)
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
