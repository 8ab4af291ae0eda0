"""Writing a chunk plan to a store with a synchronous fast path (local, memory, zip).

Chunk by chunk, a worker builds the chunk, tests it for the fill value, encodes it and
writes it (or deletes the key of an all-fill chunk). With several threads, the caller and
`threads - 1` pool threads draw chunks one at a time from one shared iterator: no task
boundaries, no barrier, so every thread stays busy to the last chunk. A chunk the write
covers whole is never read; its values come straight from the caller's array (a
C-contiguous region is encoded in place, any other is copied once into a buffer the thread
reuses). A partly covered chunk is read, decoded and merged as before. The caller holds
the chunks' write locks for the whole call (engine.write_plan).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np

from zarrlayer.core._write_encode import BloscEncoder, chunk_encoder, fill_test
from zarrlayer.core.engine import decode_chunk, fill_scalar, is_all_fill, merge_chunk
from zarrlayer.core.indexing import ChunkPlan, PlanEntry
from zarrlayer.core.io import ArrayLocation, decode_pool, fetch
from zarrlayer.format import ArrayMetadata
from zarrlayer.format.chunk_keys import ChunkKeyEncoding
from zarrlayer.storage.local import LocalStore

__all__ = ["SharedItems", "WriteJob", "chunk_keys", "lock_keys", "plan_items", "write_sync"]

_POOL_CHUNK_BYTES = 64 << 10
_BATCH = 1024
_SETUP_CHUNKS = 4
_GROUP_CHUNKS = 64
_GROUP_BYTES = 1 << 20

WriteItem = tuple[PlanEntry, str]


def chunk_keys(prefix: str, metadata: ArrayMetadata, coords: Sequence[tuple[int, ...]]) -> list[str]:
    """The store key of each chunk at `coords` (`prefix + metadata.chunk_key(c)`), one format string per batch."""
    encoding = getattr(metadata, "chunk_key_encoding", None)
    if isinstance(encoding, ChunkKeyEncoding):
        return encoding.encode_many(prefix, coords, len(metadata.shape))
    return [prefix + metadata.chunk_key(c) for c in coords]


def lock_keys(prefix: str, metadata: ArrayMetadata, plan: ChunkPlan) -> Iterator[str]:
    """The key of every chunk `plan` writes (what `hold_plan` locks), batch by batch.

    A basic plan kept per axis gives its coordinates straight from the axes (C order, as its
    entries), so the locks never need the plan's entries built.
    """
    if plan.axes is not None and plan.count > _BATCH:
        coords: Iterator[tuple[int, ...]] = itertools.product(*(axis.ids.tolist() for axis in plan.axes))
    else:
        coords = (entry[0] for entry in plan.entries)
    while batch := list(itertools.islice(coords, _BATCH)):
        yield from chunk_keys(prefix, metadata, batch)


def plan_items(prefix: str, metadata: ArrayMetadata, plan: ChunkPlan) -> Iterator[WriteItem]:
    """(entry, store key) of every chunk of `plan`, in order, built batch by batch (memory bounded by a batch)."""
    for batch in plan.batches(_BATCH) if plan.count > _BATCH else (plan.entries,):
        yield from zip(batch, chunk_keys(prefix, metadata, [entry[0] for entry in batch]))


class SharedItems:
    """Write items handed out one at a time to several threads, in order; none once `stop` was called."""

    def __init__(self, items: Iterable[WriteItem]) -> None:
        self._items = iter(items)
        self._lock = threading.Lock()
        self._stopped = False

    def __iter__(self) -> Iterator[WriteItem]:
        return self

    def __next__(self) -> WriteItem:
        with self._lock:
            if self._stopped:
                raise StopIteration
            return next(self._items)

    def stop(self) -> None:
        """Hand out nothing more (a worker failed: the others finish the chunk they hold and return)."""
        self._stopped = True


class WriteJob:
    """One `write_plan` over a store with `supports_sync`: what every task shares (set up once).

    The per-write setup of the fast encoder and fill test (about 10 µs: buffers, ctypes
    arguments) pays off from a few chunks on; a write of fewer than `_SETUP_CHUNKS` chunks
    (`count`) keeps `pipeline.encode` and `is_all_fill`, which give the same bytes and answers.
    """

    def __init__(self, loc: ArrayLocation, metadata: ArrayMetadata, value: np.ndarray, *, count: int = _SETUP_CHUNKS) -> None:
        self._loc, self._store = loc, loc.store
        self._shape, self._dtype = metadata.chunks, metadata.dtype
        self._pipeline = metadata.codecs
        self._fill = fill_scalar(metadata)
        self._skip_empty = metadata.fill_value is not None  # a null fill (v2) means readers may differ: always store
        self._value = value
        self._numeric = self._dtype != object
        few = count < _SETUP_CHUNKS
        fill = self._fill
        self._is_fill = (lambda chunk: is_all_fill(chunk, fill)) if few else fill_test(self._dtype, fill, is_all_fill)
        encode: Callable[[np.ndarray], Any] = self._pipeline.encode
        if self._numeric and self._pipeline.dtype == self._dtype and not few:
            encode = chunk_encoder(self._pipeline, self._shape)
        self._encode = encode
        self._bind: Callable[[], Callable[[int], Any]] | None = None  # gives the thread's encode_at(address)
        self._grouped: BloscEncoder | None = None
        self._copy_views = False
        if isinstance(encode, BloscEncoder):
            self._bind = encode.bound
            chunk_bytes = encode.nbytes
            if chunk_bytes < _POOL_CHUNK_BYTES and self._numeric and value.ndim > 0:
                self._grouped, self._group_size = encode, max(1, min(_GROUP_CHUNKS, _GROUP_BYTES // chunk_bytes))
            if type(self._store).set_sync is not LocalStore.set_sync:
                self._copy_views = True
                # the encoder's view is reused by the thread's next chunk: stores other than
                # LocalStore (which writes it out before returning) get their own copy
                self._encode, self._bind = _copying(encode), _copying_bound(encode.bound)
        batched = type(self._store) is LocalStore and not few
        self._set_many = getattr(self._store, "set_many_sync", None) if batched else None
        self._local = threading.local()

    @property
    def light(self) -> bool:
        """Whether chunks are encoded by c-blosc's context call (a few µs per small chunk), not a general pipeline."""
        return self._bind is not None

    def _scratch(self) -> tuple[np.ndarray, int]:
        """This thread's chunk buffer for this job (C-contiguous, chunk shape and dtype) and its address (0 without the fast encoder)."""
        held: tuple[np.ndarray, int] | None = getattr(self._local, "held", None)
        if held is None:
            buffer = np.empty(self._shape, dtype=self._dtype)
            held = self._local.held = (buffer, buffer.ctypes.data if self._bind is not None else 0)
        return held

    def _whole(self, entry: PlanEntry) -> tuple[np.ndarray, int]:
        """The chunk of an entry the write covers whole, and its address when it is this thread's scratch (else 0).

        A C-contiguous region of the value is the chunk itself; any other is copied into scratch.
        """
        _, chunk_sel, out_sel, _ = entry
        value = self._value
        part = value if value.ndim == 0 else value[out_sel]
        if part.shape == self._shape and part.flags.c_contiguous:
            return part, 0
        chunk, address = self._scratch()
        if part.ndim and part.shape == self._shape:
            np.copyto(chunk, part)
        elif part.ndim == 0 and chunk[chunk_sel].shape == self._shape:
            chunk[...] = part
        else:
            chunk[...] = self._fill  # a chunk at the array's edge: the part outside reads as fill
            chunk[chunk_sel] = part
        return chunk, address

    def _merged(self, entry: PlanEntry, key: str) -> np.ndarray:
        """The chunk of a partly covered entry: the stored chunk (or the fill value) with the value's part written over it."""
        data = fetch(self._store, [(key, None)])[0]
        existing = None if data is None else decode_chunk(self._loc, self._pipeline, data, self._shape, key)
        return merge_chunk(existing, self._shape, self._fill, self._dtype, entry, self._value)

    def run(self, items: Iterable[WriteItem]) -> None:
        """Build, test, encode and store (or delete) each (entry, store key), in order.

        Through the store's `set_many_sync` where it has one (LocalStore: each value is written
        before the next is encoded, so the encoder's reused buffer is safe), else `set_sync`.
        """
        many = self._set_many
        if many is not None:
            many(self._encoded(items))
            return
        set_sync = self._store.set_sync
        for key, data in self._encoded(items):
            set_sync(key, data)

    def _encoded(self, items: Iterable[WriteItem]) -> Iterator[tuple[str, Any]]:
        """(key, stored bytes) of each chunk to store; all-fill chunks are deleted on the way instead."""
        if self._grouped is not None:
            yield from self._encoded_in_groups(items)
            return
        yield from self._encoded_one_by_one(items)

    def _encoded_in_groups(self, items: Iterable[WriteItem]) -> Iterator[tuple[str, Any]]:
        """`_encoded` for small chunks: whole chunks are staged in groups and compressed by one C-level loop per group.

        Each value handed out is a view of the thread's group output, written by the consumer
        before it draws the next (so the next group is staged only once the last one is out).
        Any other item (a partial or edge chunk) first flushes the group, then goes one by one.
        """
        encoder = self._grouped
        assert encoder is not None
        stage, encode = encoder.group(self._shape, self._dtype, self._group_size)
        store, skip_empty, is_fill, copy = self._store, self._skip_empty, self._is_fill, self._copy_views
        value, shape, copyto, size = self._value, self._shape, np.copyto, self._group_size
        keys: list[str] = []
        for entry, key in items:
            if entry[3]:
                part = value[entry[2]]
                if part.shape == shape and not part.flags.c_contiguous:
                    slot = stage[len(keys)]
                    copyto(slot, part)
                    if skip_empty and is_fill(slot):
                        store.delete_sync(key)
                        continue
                    keys.append(key)
                    if len(keys) == size:
                        yield from _flushed(keys, encode, copy)
                        keys = []
                    continue
            if keys:
                yield from _flushed(keys, encode, copy)
                keys = []
            yield from self._encoded_one_by_one(((entry, key),))
        if keys:
            yield from _flushed(keys, encode, copy)

    def _encoded_one_by_one(self, items: Iterable[WriteItem]) -> Iterator[tuple[str, Any]]:
        store, skip_empty, is_fill, encode = self._store, self._skip_empty, self._is_fill, self._encode
        encode_at = None if self._bind is None else self._bind()
        value, shape, copyto = self._value, self._shape, np.copyto
        plain = self._numeric and value.ndim > 0
        scratch: np.ndarray | None = None
        scratch_at = 0
        for entry, key in items:
            address = 0
            if not entry[3]:
                chunk = self._merged(entry, key)
            elif plain:
                part = value[entry[2]]
                if part.shape == shape and not part.flags.c_contiguous:  # the usual whole chunk: one copy
                    if scratch is None:
                        scratch, scratch_at = self._scratch()
                    copyto(scratch, part)
                    chunk, address = scratch, scratch_at
                else:
                    chunk, address = self._whole(entry)
            elif self._numeric:
                chunk, address = self._whole(entry)
            else:  # objects: a fresh chunk each (never read, as the write covers it)
                chunk = merge_chunk(None, self._shape, self._fill, self._dtype, entry, self._value)
            if skip_empty and is_fill(chunk):
                store.delete_sync(key)
            elif address and encode_at is not None:
                yield key, encode_at(address)
            else:
                yield key, encode(chunk)


def _flushed(keys: list[str], encode: Callable[[int], list[memoryview]], copy: bool) -> Iterator[tuple[str, Any]]:
    """(key, stream) of the staged group, as views of the group output (or copies for stores that keep values)."""
    streams = encode(len(keys))
    if copy:
        return zip(keys, [bytes(v) for v in streams])
    return zip(keys, streams)


def _copying_bound(bind: Callable[[], Callable[[int], memoryview]]) -> Callable[[], Callable[[int], bytes]]:
    return lambda: _copying(bind())


def _copying(encode: Callable[[Any], memoryview]) -> Callable[[Any], bytes]:
    def _encode(arg: Any) -> bytes:
        return bytes(encode(arg))

    return _encode


def write_sync(job: WriteJob, items: Iterable[WriteItem], *, count: int, threads: int, chunk_bytes: int) -> None:
    """Run `job` over the `count` (entry, key) items: inline, or on the caller and `threads - 1` pool threads sharing them.

    Chunks under 64 KiB that c-blosc encodes (`job.light`) are written inline: each costs
    a few µs of Python and five short GIL-free calls (compress, open, write, close, rename) of
    2 to 7 µs, too short for a second thread to take the GIL in; two threads then take turns,
    with a wake-up per turn (1024 chunks of 4 KiB on 2 cores: about 30 ms inline, 50 ms on two
    threads). Bigger chunks spend most of their time in long GIL-free calls and do run side by side.

    Returns once every thread is done; the first failure is raised then (the chunks written
    before it stay written, each atomically). Pool tasks that had not started when the items
    ran out are cancelled, so a busy pool never delays (or deadlocks) the write.
    """
    if threads < 2 or count < 2 or (job.light and chunk_bytes < _POOL_CHUNK_BYTES):
        job.run(items)
        return
    shared = SharedItems(items)
    pool = decode_pool()
    helpers: list[Future[None]] = [pool.submit(_run_shared, job, shared) for _ in range(min(threads, count) - 1)]
    error: BaseException | None = None
    try:
        _run_shared(job, shared)
    except BaseException as exc:  # noqa: BLE001 - raised below, once the helpers are done
        error = exc
    for future in helpers:
        if future.cancel():
            continue
        try:
            future.result()
        except BaseException as exc:  # noqa: BLE001
            error = error or exc
    if error is not None:
        raise error


def _run_shared(job: WriteJob, shared: SharedItems) -> None:
    try:
        job.run(shared)
    except BaseException:
        shared.stop()
        raise
