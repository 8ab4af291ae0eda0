"""The chunk engine: reads and writes a chunk plan, fetching in batches and decoding in a pool.

Per-chunk Python work is O(1) calls and no thread or loop hop: on stores with a sync fast
path each pool task reads and decodes its own run of chunks (local reads release the GIL
too); on remote stores the caller fetches a batch with one `get_partial_values` while the
pool decodes the previous one. A chunk whose output region is the whole chunk (and
contiguous) is decoded straight into the output; others are decoded and copied. Work
is split by the plan's total bytes and chunk count (see `threads_for`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from zarrlayer import config
from zarrlayer.core._partial_blosc import partial_decoder, ranged_decoder
from zarrlayer.core._small_read import small_batches, small_reader, small_tasks
from zarrlayer.core.indexing import ChunkPlan, PlanEntry
from zarrlayer.core.locks import hold, hold_plan
from zarrlayer.core.io import (
    ArrayLocation,
    DecodeQueue,
    batched,
    delete_keys,
    fetch,
    fetch_whole_reused,
    run_batches,
    set_values,
)
from zarrlayer.errors import ChunkDecodeError, ZarrlayerError
from zarrlayer.format import ArrayMetadata, ChunkCodecPipeline
from zarrlayer.format.codecs.compressors import BloscCodec, blosc_decode_to
from zarrlayer.format.common import allocation_error
from zarrlayer.format.fill_value import all_fill_bits

__all__ = [
    "chunk_error",
    "decode_chunk",
    "decode_entries",
    "fill_scalar",
    "is_all_fill",
    "merge_chunk",
    "remote_batch",
    "scratch_step",
    "read_plan",
    "threads_for",
    "write_plan",
]

_FETCH_BATCH_SYNC = 64
_FETCH_BATCH_REMOTE = 256
_REMOTE_BATCH_BYTES = 256 * 1024 * 1024
_SCRATCH_BYTES = 1 << 20
_TASK_BYTES = 4 << 20
_SCRATCH_KEEP = 4 << 20
_INLINE_BYTES = 1 << 20
_THREAD_BYTES = 256 * 1024
_THREAD_CHUNKS = 8
_REUSE_BYTES = 256 * 1024
_REUSE_MAX = 16 << 20  # a thread keeps its read buffer: no larger than this
_REUSE_SLACK = 64 * 1024


def fill_scalar(metadata: ArrayMetadata) -> Any:
    """The value missing chunks read as (zeros or empty strings where the fill value is null)."""
    fill = metadata.fill_value
    if fill is None:
        if metadata.dtype == object:
            return ""
        return np.zeros((), dtype=metadata.dtype)[()]
    return fill


def _first_is_fill(chunk: np.ndarray, fill: Any) -> bool:
    first = chunk.flat[0]
    return bool(np.isnan(first)) if chunk.dtype.kind == "f" and np.isnan(fill) else bool(first == fill)


def is_all_fill(chunk: np.ndarray, fill: Any) -> bool:
    """Whether every element of `chunk` equals `fill`: bit for bit for numbers and times, by value otherwise."""
    exact = all_fill_bits(chunk, fill)
    if exact is not None:
        return exact
    if chunk.dtype == object:
        return all(item == fill for item in chunk.flat)
    if chunk.size and chunk.dtype.kind in "biuf" and not _first_is_fill(chunk, fill):
        return False  # data chunks nearly always differ at once: skip the full comparison
    if chunk.dtype.kind in "mM":
        return bool((chunk.view(np.int64) == np.asarray(fill, dtype=chunk.dtype).view(np.int64)).all())
    if chunk.dtype.kind in "fc" and np.isnan(fill):
        return bool(np.isnan(chunk).all())
    if chunk.dtype.kind == "V":
        return bool((chunk == np.asarray(fill, dtype=chunk.dtype)).all())
    return bool((chunk == fill).all())


def chunk_error(loc: ArrayLocation, key: str, exc: BaseException) -> ChunkDecodeError:
    """A ChunkDecodeError naming the array path, the chunk key and the store."""
    store_key = key
    if loc.prefix and key.startswith(loc.prefix):
        key = key[len(loc.prefix) :]
    error = ChunkDecodeError(f"array '{loc.path}' chunk key '{key}' in store {loc.store.url}: {exc}")
    error.store_key = store_key  # type: ignore[attr-defined]  # read_plan drops a cached copy by it
    return error


def remote_batch(unit_shape: tuple[int, ...], itemsize: int, *, minimum: int = 16, maximum: int = _FETCH_BATCH_REMOTE) -> int:
    """Units fetched per remote batch: many in flight, but about 256 MiB of decoded data when units are big."""
    unit_bytes = max(math.prod(unit_shape) * itemsize, 1)
    return max(minimum, min(maximum, _REMOTE_BATCH_BYTES // unit_bytes))


def scratch_step(metadata: ArrayMetadata) -> int:
    """Chunks a pool task reads (or writes) per step: about 1 MiB decoded, so scratch stays small."""
    chunk_bytes = max(math.prod(metadata.chunks) * metadata.dtype.itemsize, 1)
    return max(1, min(16, _SCRATCH_BYTES // chunk_bytes))


def _local_task_size(metadata: ArrayMetadata, count: int, threads: int) -> int:
    """Chunks per pool task of a local read: about `_TASK_BYTES` decoded, and at least one task per thread."""
    chunk_bytes = max(math.prod(metadata.chunks) * metadata.dtype.itemsize, 1)
    per_task = max(scratch_step(metadata), _TASK_BYTES // chunk_bytes)
    return max(1, min(_FETCH_BATCH_SYNC, per_task, -(-count // threads)))


def threads_for(plan: ChunkPlan, metadata: ArrayMetadata) -> int:
    """How many pool threads a plan is worth (1: decode inline), from its total bytes and chunk count.

    Work is split by what the whole plan holds, not by chunk size: 16 KiB inner chunks of a
    4 MiB shard, or thousands of 1 KiB chunks, still spread over every core (file reads and
    codecs release the GIL). A thread is worth `_THREAD_BYTES` of decoded data and
    `_THREAD_CHUNKS` chunks; smaller plans decode inline.
    """
    chunk_bytes = math.prod(metadata.chunks) * metadata.dtype.itemsize
    count = plan.count
    total = chunk_bytes * count
    if count < 2 or total < _INLINE_BYTES:
        return 1
    by_count = count if chunk_bytes >= _THREAD_BYTES else count // _THREAD_CHUNKS
    return max(1, min(config.get().decode_threads, total // _THREAD_BYTES, by_count))


def decode_chunk(loc: ArrayLocation, pipeline: ChunkCodecPipeline, data: Any, shape: tuple[int, ...], key: str) -> np.ndarray:
    """`pipeline.decode`, with any failure on bad bytes re-raised as a ChunkDecodeError naming path and key."""
    try:
        return pipeline.decode(data, shape)
    except MemoryError:
        raise
    except Exception as exc:  # codec libraries raise their own types on corrupt input
        raise chunk_error(loc, key, exc) from exc


_scratch = threading.local()


def _scratch_for(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """This thread's reusable decode buffer for one chunk (no fresh allocation and page faults per chunk).

    Buffers above `_SCRATCH_KEEP` bytes are not kept, so idle pool threads hold little memory.
    """
    key = (shape, dtype)
    buffer = getattr(_scratch, "buffer", None)
    if buffer is not None and _scratch.key == key:
        return buffer
    buffer = np.empty(shape, dtype=dtype)
    if buffer.nbytes <= _SCRATCH_KEEP:
        _scratch.buffer, _scratch.key = buffer, key
    return buffer


def _decode_into(loc: ArrayLocation, pipeline: ChunkCodecPipeline, data: Any, out: np.ndarray, key: str) -> bool:
    try:
        return bool(pipeline.decode_into(data, out))
    except MemoryError:
        raise
    except Exception as exc:
        raise chunk_error(loc, key, exc) from exc


def _direct_error(loc: ArrayLocation, pipeline: ChunkCodecPipeline, key: str, exc: Exception) -> ChunkDecodeError:
    """A codec failure from `direct_decoder`, as `decode_into` would have reported it."""
    return chunk_error(loc, key, exc if isinstance(exc, ZarrlayerError) else pipeline.decode_error(exc))


def _contiguous_region(chunk_shape: tuple[int, ...], work_shape: tuple[int, ...]) -> bool:
    """Whether a whole chunk's region of a C-contiguous `work` buffer is itself contiguous."""
    if len(chunk_shape) != len(work_shape):
        return False
    for axis, size in enumerate(chunk_shape):
        if size > 1:
            return tuple(chunk_shape[axis + 1 :]) == tuple(work_shape[axis + 1 :])
    return True


def decode_entries(
    loc: ArrayLocation,
    pipeline: ChunkCodecPipeline,
    chunk_shape: tuple[int, ...],
    fill: Any,
    items: Iterable[tuple[PlanEntry, Any, str]],
    work: np.ndarray,
) -> None:
    """Decode each (entry, bytes or None, key) into its region of `work` (missing: the fill value).

    `items` is iterated once, in order, so it may read each chunk lazily into a buffer that
    the next item reuses.

    A whole chunk whose region is contiguous is decoded straight into `work`; any other is
    decoded into this thread's scratch buffer and its selection copied out.
    """
    numeric = work.dtype != object
    direct_of = getattr(pipeline, "direct_decoder", None)  # v2 pipelines without one take the general path
    direct = direct_of() if direct_of is not None and numeric and work.dtype == pipeline.dtype else None
    in_place = work.flags.c_contiguous and _contiguous_region(chunk_shape, work.shape)
    scratch = _scratch_for(chunk_shape, work.dtype) if numeric else np.empty(0)
    to_address = blosc_decode_to if direct is not None and isinstance(pipeline.bytes_bytes[0], BloscCodec) else None
    partial = partial_decoder(pipeline, chunk_shape, work.dtype) if direct is not None else None
    scratch_address, nbytes = scratch.ctypes.data, scratch.nbytes
    for (_, chunk_sel, out_sel, complete), data, key in items:
        if data is None:
            work[out_sel] = fill
            continue
        if partial is not None and not complete and partial(data, chunk_sel, scratch):
            work[out_sel] = scratch[chunk_sel]
            continue
        if to_address is not None and not (complete and in_place):
            try:
                done = to_address(data, scratch_address, nbytes)
            except Exception as exc:
                raise _direct_error(loc, pipeline, key, exc) from exc
            if done:
                work[out_sel] = scratch[chunk_sel]
                continue
        if direct is not None:
            target = work[out_sel] if complete and in_place else None
            into = target if target is not None and target.shape == chunk_shape and np.may_share_memory(target, work) else scratch
            try:
                direct(data, into)
            except MemoryError:
                raise
            except Exception as exc:
                raise _direct_error(loc, pipeline, key, exc) from exc
            if into is scratch:
                work[out_sel] = scratch[chunk_sel]
            continue
        if complete and in_place:
            target = work[out_sel] if work.ndim else work  # a 0-d object selection gives the item, not a view
            if target.shape == chunk_shape and np.may_share_memory(target, work) and _decode_into(loc, pipeline, data, target, key):
                continue
        if numeric and _decode_into(loc, pipeline, data, scratch, key):
            work[out_sel] = scratch[chunk_sel]
            continue
        work[out_sel] = decode_chunk(loc, pipeline, data, chunk_shape, key)[chunk_sel]


def read_plan(loc: ArrayLocation, metadata: ArrayMetadata, plan: ChunkPlan) -> np.ndarray:
    """The selection's values, shaped `plan.out_shape`; the output is allocated once.

    Through a cache (a store with `drop_cached`), when a chunk fails to decode the cached
    copies of every chunk (or shard) the read touches are dropped and the read is done once
    more from upstream (two passes at most); only then is the ChunkDecodeError raised.
    """
    try:
        return _read_plan(loc, metadata, plan)
    except ChunkDecodeError:
        drop = getattr(loc.store, "drop_cached", None)
        if drop is None:
            raise
        drop(_stored_keys(loc, metadata, plan))
    return _read_plan(loc, metadata, plan)


def _stored_keys(loc: ArrayLocation, metadata: ArrayMetadata, plan: ChunkPlan) -> list[str]:
    """The store keys of the chunks (or the shards holding them) that `plan` reads."""
    coords = {entry[0] for entry in plan.entries}
    if metadata.sharding is not None:
        per_shard = metadata.sharding.chunks_per_shard(metadata.chunk_grid_shape)
        coords = {tuple(c // n for c, n in zip(coord, per_shard)) for coord in coords}
    return [loc.prefix + metadata.chunk_key(coord) for coord in sorted(coords)]


def _read_plan(loc: ArrayLocation, metadata: ArrayMetadata, plan: ChunkPlan) -> np.ndarray:
    try:
        work = np.empty(plan.work_shape, dtype=metadata.dtype)
        if plan.count:
            if metadata.sharding is not None:
                from zarrlayer.core.sharded import read_sharded

                read_sharded(loc, metadata, plan, work, threads=threads_for(plan, metadata))
            else:
                _read_chunks(loc, metadata, plan, work)
    except MemoryError as exc:  # an absurd chunk shape in a document, or a selection too big for memory
        raise allocation_error(loc.store.url, loc.path, metadata, plan.out_shape, exc) from None
    return work.reshape(plan.out_shape)


def _read_ranged(
    ranged: Any, keys: list[str], entries: Sequence[PlanEntry], work: np.ndarray, fill: Any, scratch: np.ndarray
) -> tuple[list[str], list[PlanEntry]]:
    """Serve the partial entries `ranged` can (see `ranged_decoder`); the keys and entries left for a whole read."""
    left_keys: list[str] = []
    left: list[PlanEntry] = []
    for key, entry in zip(keys, entries):
        done = None if entry[3] else ranged(key, entry[1], scratch)
        if done:
            work[entry[2]] = scratch[entry[1]]
        elif done is None and not entry[3]:
            work[entry[2]] = fill
        else:
            left_keys.append(key)
            left.append(entry)
    return left_keys, left


def _read_chunks(loc: ArrayLocation, metadata: ArrayMetadata, plan: ChunkPlan, work: np.ndarray) -> None:
    fill = fill_scalar(metadata)
    pipeline = metadata.codecs
    shape = metadata.chunks
    threads = threads_for(plan, metadata)
    queue = DecodeQueue(threads=threads)

    def _decode(items: Iterable[tuple[PlanEntry, Any, str]]) -> None:
        decode_entries(loc, pipeline, shape, fill, items, work)

    step = scratch_step(metadata)
    chunk_bytes = math.prod(shape) * metadata.dtype.itemsize
    reuse = _REUSE_BYTES <= chunk_bytes <= _REUSE_MAX and getattr(type(loc.store), "get_into_sync", None) is not None

    ranged = ranged_decoder(loc.store, pipeline, shape, metadata.dtype) if reuse and work.dtype == metadata.dtype else None

    def _fetch_decode(entries: Sequence[PlanEntry]) -> None:
        if reuse:  # large chunks: each is read into this thread's reused buffer when the previous one is decoded
            keys = [loc.prefix + metadata.chunk_key(e[0]) for e in entries]
            if ranged is not None:  # a few elements of a chunk: read and decode only the blocks holding them
                keys, entries = _read_ranged(ranged, keys, entries, work, fill, _scratch_for(shape, work.dtype))
            _decode((e, fetch_whole_reused(loc.store, k, chunk_bytes + _REUSE_SLACK), k) for e, k in zip(entries, keys))
            return
        for part in batched(entries, step):
            keys = [loc.prefix + metadata.chunk_key(e[0]) for e in part]
            _decode(list(zip(part, fetch(loc.store, [(k, None) for k in keys]), keys)))

    try:
        if loc.store.supports_sync:
            # local I/O releases the GIL: each pool task reads and decodes its own chunks;
            # tasks of a few MiB keep every thread busy to the end, even if one core is slow
            fast = small_reader(loc, metadata, work, fill, _decode)
            if fast is not None:
                fast_threads, size = small_tasks(plan.count, chunk_bytes, threads)
                queue = DecodeQueue(threads=fast_threads)
                for task in small_batches(plan, size):
                    queue.submit(fast, task)
                return
            for task in plan.batches(_local_task_size(metadata, plan.count, threads)):
                queue.submit(_fetch_decode, task)
            return
        for batch in batched(plan.entries, remote_batch(metadata.chunks, metadata.dtype.itemsize)):
            keys = [loc.prefix + metadata.chunk_key(e[0]) for e in batch]
            queue.submit_split(_decode, list(zip(batch, fetch(loc.store, [(k, None) for k in keys]), keys)))
    finally:
        queue.drain()


def _value_for(plan: ChunkPlan, value: Any, dtype: np.dtype) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype != dtype:
        try:
            arr = arr.astype(dtype) if dtype != object else arr.astype(object)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"cannot store values of dtype {arr.dtype} in an array of dtype {dtype}: {exc}") from None
    if arr.ndim == 0:
        return arr
    try:
        arr = np.broadcast_to(arr, plan.out_shape)
    except ValueError:
        raise ValueError(
            f"cannot assign a value of shape {np.shape(value)} to a selection of shape {plan.out_shape}"
        ) from None
    return arr.reshape(plan.work_shape)


def merge_chunk(
    existing: np.ndarray | None,
    chunk_shape: tuple[int, ...],
    fill: Any,
    dtype: np.dtype,
    entry: PlanEntry,
    value: np.ndarray,
) -> np.ndarray:
    """The chunk after writing `value`'s part of `entry` over `existing` (or over the fill value)."""
    _, chunk_sel, out_sel, _ = entry
    part = value if value.ndim == 0 else value[out_sel]
    if existing is None:
        chunk = np.empty(chunk_shape, dtype=dtype)
        if not entry[3] or part.ndim == 0 or np.shape(chunk[chunk_sel]) != chunk_shape:
            chunk[...] = fill
    else:
        chunk = np.array(existing, dtype=dtype, copy=True)
    if part.ndim == 0 and dtype == object:
        part = part[()]  # one element set to a 0-d object array would hold that array, not its item
    chunk[chunk_sel] = part
    return chunk


def write_plan(loc: ArrayLocation, metadata: ArrayMetadata, plan: ChunkPlan, value: Any) -> None:
    """Write `value` (broadcast to the selection) into every chunk of `plan`.

    Holds the write lock of every chunk (or shard) it rewrites, so threads never lose each other's writes.
    """
    if not plan.count:
        return
    work_value = _value_for(plan, value, metadata.dtype)
    if metadata.sharding is None and loc.store.supports_sync:
        from zarrlayer.core._write_sync import WriteJob, lock_keys, plan_items, write_sync

        chunk_bytes = math.prod(metadata.chunks) * metadata.dtype.itemsize
        with hold(loc.store, lock_keys(loc.prefix, metadata, plan)):  # hold_plan's keys, without the plan's entries
            job = WriteJob(loc, metadata, work_value, count=plan.count)
            items = plan_items(loc.prefix, metadata, plan)
            write_sync(job, items, count=plan.count, threads=threads_for(plan, metadata), chunk_bytes=chunk_bytes)
        return
    with hold_plan(loc.store, loc.prefix, metadata, plan):
        _write_plan(loc, metadata, plan, work_value)


def _write_plan(loc: ArrayLocation, metadata: ArrayMetadata, plan: ChunkPlan, work_value: np.ndarray) -> None:
    if metadata.sharding is not None:
        from zarrlayer.core.sharded import write_sharded

        write_sharded(loc, metadata, plan, work_value, threads=threads_for(plan, metadata))
        return
    fill = fill_scalar(metadata)
    skip_empty = metadata.fill_value is not None  # a null fill (v2) means readers may differ: always store
    pipeline = metadata.codecs
    shape = metadata.chunks

    def _encode(items: Sequence[tuple[PlanEntry, Any, str]]) -> list[tuple[str, bytes | None]]:
        out: list[tuple[str, bytes | None]] = []
        for entry, data, key in items:
            existing = None if data is None else decode_chunk(loc, pipeline, data, shape, key)
            chunk = merge_chunk(existing, shape, fill, metadata.dtype, entry, work_value)
            empty = skip_empty and is_all_fill(chunk, fill)
            out.append((key, None if empty else pipeline.encode(chunk)))
        return out

    def _gather(entries: Sequence[PlanEntry]) -> list[tuple[PlanEntry, Any, str]]:
        keys = [loc.prefix + metadata.chunk_key(e[0]) for e in entries]
        partial = [i for i, e in enumerate(entries) if not e[3]]
        datas: list[Any] = [None] * len(entries)
        for i, data in zip(partial, fetch(loc.store, [(keys[i], None) for i in partial])):
            datas[i] = data
        return list(zip(entries, datas, keys))

    def _store(results: Sequence[tuple[str, bytes | None]]) -> None:
        set_values(loc.store, [(k, v) for k, v in results if v is not None])
        delete_keys(loc.store, [k for k, v in results if v is None])

    threads = threads_for(plan, metadata)  # stores with a sync path go through _write_sync (write_plan)
    for batch in batched(plan.entries, remote_batch(metadata.chunks, metadata.dtype.itemsize)):
        results = [r for part in run_batches(_encode, _gather(batch), threads=threads) for r in part]
        _store(results)
