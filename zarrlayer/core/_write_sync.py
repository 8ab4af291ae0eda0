"""Writing a chunk plan to a store with a synchronous fast path (local, memory, zip).

Each pool task takes a run of chunks and, chunk by chunk, builds the chunk, tests it for the
fill value, encodes it and writes it (or deletes the key of an all-fill chunk), with no
barrier between tasks: a thread that finishes takes the next run, so both cores stay busy
to the end. A chunk the write covers whole is never read; its values come straight from the
caller's array (a C-contiguous region is encoded in place, any other is copied once into a
buffer the thread reuses). A partly covered chunk is read, decoded and merged as before.
The caller holds the chunks' write locks for the whole call (engine.write_plan).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from zarrlayer.core._write_encode import BloscEncoder, chunk_encoder, fill_test
from zarrlayer.core.engine import decode_chunk, fill_scalar, is_all_fill, merge_chunk
from zarrlayer.core.indexing import PlanEntry
from zarrlayer.core.io import ArrayLocation, DecodeQueue, batched, fetch
from zarrlayer.format import ArrayMetadata
from zarrlayer.storage.local import LocalStore

__all__ = ["WriteJob", "task_size", "write_sync"]

_TASK_BYTES = 4 << 20
_POOL_CHUNK_BYTES = 64 << 10
_TASK_CHUNKS = 64
_TASKS_PER_THREAD = 4

WriteItem = tuple[PlanEntry, str]


def task_size(chunk_bytes: int, count: int, threads: int) -> int:
    """Chunks per pool task: about `_TASK_BYTES` of chunk data, at most 64, at least 4 tasks per thread when there are enough."""
    per_task = max(1, min(_TASK_CHUNKS, _TASK_BYTES // max(chunk_bytes, 1)))
    return max(1, min(per_task, -(-count // (threads * _TASKS_PER_THREAD))))


class WriteJob:
    """One `write_plan` over a store with `supports_sync`: what every task shares (set up once)."""

    def __init__(self, loc: ArrayLocation, metadata: ArrayMetadata, value: np.ndarray) -> None:
        self._loc, self._store = loc, loc.store
        self._shape, self._dtype = metadata.chunks, metadata.dtype
        self._pipeline = metadata.codecs
        self._fill = fill_scalar(metadata)
        self._skip_empty = metadata.fill_value is not None  # a null fill (v2) means readers may differ: always store
        self._value = value
        self._numeric = self._dtype != object
        self._is_fill = fill_test(self._dtype, self._fill, is_all_fill)
        encode: Callable[[np.ndarray], Any] = self._pipeline.encode
        if self._numeric and self._pipeline.dtype == self._dtype:
            encode = chunk_encoder(self._pipeline, self._shape)
        self._encode, self._encode_at = encode, None
        if isinstance(encode, BloscEncoder):
            self._encode_at = encode.encode_at
            if type(self._store).set_sync is not LocalStore.set_sync:
                # the encoder's view is reused by the thread's next chunk: stores other than
                # LocalStore (which writes it out before returning) get their own copy
                self._encode, self._encode_at = _copying(encode), _copying(encode.encode_at)
        self._set_many = getattr(self._store, "set_many_sync", None) if type(self._store) is LocalStore else None
        self._local = threading.local()

    @property
    def light(self) -> bool:
        """Whether chunks are encoded by c-blosc's context call (a few µs per small chunk), not a general pipeline."""
        return self._encode_at is not None

    def _scratch(self) -> tuple[np.ndarray, int]:
        """This thread's chunk buffer for this job (C-contiguous, chunk shape and dtype) and its address."""
        held: tuple[np.ndarray, int] | None = getattr(self._local, "held", None)
        if held is None:
            buffer = np.empty(self._shape, dtype=self._dtype)
            held = self._local.held = (buffer, buffer.ctypes.data)
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

    def run(self, items: Sequence[WriteItem]) -> None:
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

    def _encoded(self, items: Sequence[WriteItem]) -> Iterator[tuple[str, Any]]:
        """(key, stored bytes) of each chunk to store; all-fill chunks are deleted on the way instead."""
        store, skip_empty = self._store, self._skip_empty
        is_fill, encode, encode_at = self._is_fill, self._encode, self._encode_at
        for entry, key in items:
            address = 0
            if not entry[3]:
                chunk = self._merged(entry, key)
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


def _copying(encode: Callable[[Any], memoryview]) -> Callable[[Any], bytes]:
    def _encode(arg: Any) -> bytes:
        return bytes(encode(arg))

    return _encode


def write_sync(job: WriteJob, items: Sequence[WriteItem], *, threads: int, chunk_bytes: int) -> None:
    """Run `job` over every (entry, key): inline with one thread, else as pool tasks with no barrier between them.

    Chunks under 64 KiB that c-blosc encodes (`job.light`) are written inline too: each costs
    a few µs of Python and five short GIL-free calls (compress, open, write, close, rename) of
    2 to 7 µs, too short for a second thread to take the GIL in; two threads then take turns,
    with a wake-up per turn (1024 chunks of 4 KiB on 2 cores: about 30 ms inline, 50 ms on two
    threads). Bigger chunks spend most of their time in long GIL-free calls and do run side by side.

    The first failure is raised once every task has finished (a failed write leaves the other
    chunks written, as before: each chunk's write is atomic on its own).
    """
    if threads < 2 or len(items) < 2 or (job.light and chunk_bytes < _POOL_CHUNK_BYTES):
        job.run(items)
        return
    queue = DecodeQueue(threads=threads)
    try:
        for task in batched(items, task_size(chunk_bytes, len(items), threads)):
            queue.submit(job.run, task)
    finally:
        queue.drain()
