"""Reading many small chunks: one tight loop per pool task that reads, checks and decodes each chunk.

Small chunks (1 to 64 KiB) cost more in per-chunk Python than in decoding. For a plan of
chunks under 256 KiB on a store with a synchronous path, whose chunks are the chunk's C-order
items under no compressor, blosc or zstd (v3 `bytes` + at most one of them, v2 without
filters; see `_small_decoders`), a pool task does per chunk: one key from a format string,
one open/read/close into this thread's reused buffer (`LocalStore.read_many_into_sync`;
other sync stores hand their bytes), a check of the value's size (and blosc header) and one
C call that decodes straight into the output (a whole chunk whose region is contiguous),
into a staging area copied out once per task (whole chunks tiling a box of the output), or
into this thread's scratch chunk, then copied out.

Nothing is trusted that was not checked: keys are validated by the store (in bulk), sizes
are checked before a decoder reads or writes, and decoders are bounded by the chunk's size.
Any chunk that does not check out (short, oversized, another header, a failed decode) is
handed to the engine's general path, which decodes it again and raises the ChunkDecodeError
naming store, path and key.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from zarrlayer.core._small_decoders import chunk_decoder
from zarrlayer.core.indexing import ChunkPlan, PlanBatch, PlanEntry, SliceAxis, block_entries
from zarrlayer.core.io import ArrayLocation
from zarrlayer.format import ArrayMetadata
from zarrlayer.format.chunk_keys import ChunkKeyEncoding

__all__ = ["MAX_CHUNK_BYTES", "small_batches", "small_reader", "small_tasks"]

MAX_CHUNK_BYTES = 256 * 1024
"""Chunks at least this big go through the engine's general path (reused reads, partial decodes)."""

_BOX_BYTES = 1 << 20  # staging area of a task whose chunks tile a box of the output
_SHARED_BYTES = 64 * 1024
_SOLO_TASK = 256

Fallback = Callable[[Sequence[tuple[PlanEntry, Any, str]]], None]

_local = threading.local()


def small_tasks(count: int, chunk_bytes: int, threads: int) -> tuple[int, int]:
    """(threads, chunks per task) for the fast loop over `count` chunks of `chunk_bytes` decoded bytes.

    Chunks under 64 KiB take one thread: per chunk the loop holds the GIL for about 2 µs and
    releases it four times (open, read, close, decode) for 0.5 to 3 µs each, and a second
    thread turns every release into a hand-off between cores; measured on two cores, two
    threads took 1.3 to 1.7x the wall time and 1.7 to 2.3x the CPU time of one (4 KiB and
    1 KiB chunks). Larger chunks spend most of their time in the decode, which does run in
    parallel: `threads` (from `threads_for`) share them, at least four tasks each.
    """
    if chunk_bytes < _SHARED_BYTES or threads < 2:
        return 1, _SOLO_TASK
    return threads, max(1, min(64, -(-count // (4 * threads))))


class _Block:
    """A block of the chunk grid of a plan kept per axis (`ChunkPlan.blocks`): read without plan entries where it can."""

    __slots__ = ("axes", "bounds", "grid")

    def __init__(self, axes: tuple[SliceAxis, ...], bounds: tuple[tuple[int, int], ...], grid: tuple[int, ...]) -> None:
        self.axes, self.bounds, self.grid = axes, bounds, grid

    def entries(self) -> PlanBatch:
        """The block's plan entries (C order), with its grid."""
        batch = PlanBatch(block_entries(self.axes, self.bounds))
        batch.grid = self.grid
        return batch

    def entry(self, index: int) -> PlanEntry:
        """The plan entry of the block's chunk `index` (C order)."""
        local = np.unravel_index(index, self.grid)
        return block_entries(self.axes, [(a + int(i), a + int(i) + 1) for (a, _), i in zip(self.bounds, local)])[0]

    def whole(self, chunks: tuple[int, ...]) -> bool:
        """Whether every chunk of the block is read whole (no edge, no step)."""
        return all(
            bool((axis.complete[a:b] & (axis.c_hi[a:b] - axis.c_lo[a:b] == n)).all())
            for axis, (a, b), n in zip(self.axes, self.bounds, chunks)
        )

    def region(self) -> tuple[slice, ...]:
        """The block's box of the work buffer."""
        return tuple(slice(int(axis.out_lo[a]), int(axis.out_hi[b - 1])) for axis, (a, b) in zip(self.axes, self.bounds))


def small_batches(plan: ChunkPlan, size: int) -> Iterator[Any]:
    """The fast loop's tasks over `plan`: blocks of a plan kept per axis (entries built only where needed), else `plan.batches(size)`."""
    axes = plan.axes
    if axes:
        for bounds, grid in plan.blocks(max(1, size)):
            yield _Block(axes, bounds, grid)
        return
    yield from plan.batches(size)


def _encoding(metadata: ArrayMetadata) -> ChunkKeyEncoding:
    encoding = getattr(metadata, "chunk_key_encoding", None)
    if isinstance(encoding, ChunkKeyEncoding):
        return encoding
    return ChunkKeyEncoding("v2", metadata.dimension_separator)  # type: ignore[attr-defined]


def _buffers(read_size: int, shape: tuple[int, ...], dtype: np.dtype) -> tuple[bytearray, int, np.ndarray]:
    """This thread's reused read buffer (with its address) and scratch chunk."""
    key = (read_size, shape, dtype)
    if getattr(_local, "key", None) != key:
        buffer = bytearray(read_size)
        _local.buffer, _local.address = buffer, np.frombuffer(buffer, dtype=np.uint8).ctypes.data
        _local.scratch = np.empty(shape, dtype=dtype)
        _local.key = key
    return _local.buffer, _local.address, _local.scratch


def _box(entries: Sequence[PlanEntry], whole: tuple[slice, ...], nbytes: int) -> tuple[int, ...] | None:
    """The batch's chunks per axis when they tile a box of the output with whole chunks (else None).

    A batch from `ChunkPlan.batches` says its grid block (`grid`); every entry must then cover
    its whole chunk (no edge chunk), and the staging area must stay under `_BOX_BYTES`.
    """
    grid = getattr(entries, "grid", None)
    if grid is None or len(grid) != len(whole) or len(entries) * nbytes > _BOX_BYTES:
        return None
    if all(entry[3] and entry[1] == whole for entry in entries):
        return tuple(grid)
    return None


def _staging(count: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """This thread's reused staging area for `count` whole chunks, shaped (count, *shape)."""
    size = count * math.prod(shape) * dtype.itemsize
    area = getattr(_local, "staging", None)
    if area is None or area.nbytes < size:
        area = _local.staging = np.empty(_BOX_BYTES, dtype=np.uint8)
    return area[:size].view(dtype).reshape((count, *shape))


def _unstage(staging: np.ndarray, grid: tuple[int, ...], region: tuple[slice, ...], work: np.ndarray) -> None:
    """Copy the staged chunks (C order over `grid`) to their box `region` of `work` in one numpy assignment."""
    shape = staging.shape[1:]
    ndim = len(shape)
    split = [n for pair in zip(grid, shape) for n in pair]  # (g0, c0, g1, c1, ...)
    order = [i for axis in range(ndim) for i in (axis, ndim + axis)]
    work[region].reshape(split)[...] = staging.reshape(*grid, *shape).transpose(order)


def _region(entries: Sequence[PlanEntry]) -> tuple[slice, ...]:
    """The box of the work buffer that a batch of whole chunks tiles (C order: first to last)."""
    return tuple(slice(a.start, b.stop) for a, b in zip(entries[0][2], entries[-1][2]))


def _in_place(shape: tuple[int, ...], work: np.ndarray) -> bool:
    """Whether a whole chunk's region of `work` is one contiguous run of memory."""
    if not work.flags.c_contiguous or len(shape) != work.ndim:
        return False
    for axis, size in enumerate(shape):
        if size > 1:
            return shape[axis + 1 :] == work.shape[axis + 1 :]
    return True


def small_reader(
    loc: ArrayLocation, metadata: ArrayMetadata, work: np.ndarray, fill: Any, fallback: Fallback
) -> Callable[[Sequence[PlanEntry]], None] | None:
    """A pool task `f(entries)` that reads and decodes those chunks of a plan into `work`, or None where it does not apply.

    None unless the store has a synchronous path, chunks are under `MAX_CHUNK_BYTES`, `work`
    has the array's dtype and `_small_decoders.chunk_decoder` has a decoder for the codecs.
    `fallback(items)` is the engine's general decode of (entry, bytes or None, key) items,
    used for any chunk that does not check out.
    """
    shape, dtype = tuple(metadata.chunks), work.dtype
    nbytes = math.prod(shape) * dtype.itemsize
    if not loc.store.supports_sync or not 0 < nbytes < MAX_CHUNK_BYTES:
        return None
    decoder = chunk_decoder(metadata.codecs, dtype, nbytes)
    if decoder is None:
        return None
    decode, read_size = decoder.decode, decoder.read_size
    store, prefix, ndim = loc.store, loc.prefix, len(shape)
    encode_many = _encoding(metadata).encode_many
    read_many = getattr(type(store), "read_many_into_sync", None)
    in_place = _in_place(shape, work)
    whole = tuple(slice(0, n, 1) for n in shape)
    base, strides, stride0 = work.ctypes.data, work.strides, work.strides[0] if work.ndim else 0

    def offset(out_sel: tuple[Any, ...]) -> int:
        return int(sum(s.start * st for s, st in zip(out_sel, strides)))

    encoding = _encoding(metadata)
    chunk0 = shape[0] if shape else 0

    def run_1d(run: _Block) -> None:
        """A run of a 1-d plan: keys, output addresses and whole-chunk flags from the axis' arrays."""
        axis, (a, b) = run.axes[0], run.bounds[0]
        keys = encoding.encode_ids(prefix, axis.ids[a:b].tolist())
        starts = (axis.out_lo[a:b] * stride0 + base).tolist()
        whole_chunks = (axis.complete[a:b] & (axis.c_hi[a:b] - axis.c_lo[a:b] == chunk0)).tolist()
        buffer, address, _ = _buffers(read_size, shape, dtype)
        values: Any = read_many(store, keys, buffer) if read_many is not None else store.get_many_sync([(k, None) for k in keys])
        for index, (key, got, start, whole_chunk) in enumerate(zip(keys, values, starts, whole_chunks)):
            if whole_chunk:
                if type(got) is int:
                    if decode(buffer, address, got, start):
                        continue
                elif type(got) is bytes and decode(got, got, len(got), start):
                    continue
            if type(got) is int:
                got = bytes(buffer[:got])  # the next read reuses the buffer
            task([run.entry(index)], [key], [got])  # a missing, partial or refused chunk: as any other

    def block_nd(block: _Block) -> None:
        """A block of whole chunks tiling a box of the output: each decoded into its staging slot, copied out once."""
        keys = encode_many(prefix, itertools.product(*(axis.ids[a:b].tolist() for axis, (a, b) in zip(block.axes, block.bounds))), ndim)
        buffer, address, _ = _buffers(read_size, shape, dtype)
        staging = _staging(len(keys), shape, dtype)
        target = staging.ctypes.data - nbytes
        values: Any = read_many(store, keys, buffer) if read_many is not None else store.get_many_sync([(k, None) for k in keys])
        for index, (key, got) in enumerate(zip(keys, values)):
            target += nbytes
            if type(got) is int:
                if decode(buffer, address, got, target):
                    continue
                got = bytes(buffer[:got])  # the next read reuses the buffer
            elif got is None:
                staging[index] = fill
                continue
            elif type(got) is bytes and decode(got, got, len(got), target):
                continue
            entry = block.entry(index)  # refused or another buffer type: as any other, then staged
            task([entry], [key], [got])
            staging[index] = work[entry[2]]
        _unstage(staging, block.grid, block.region(), work)

    def task(entries: Sequence[PlanEntry] | _Block, keys: list[str] | None = None, values: Any = None) -> None:
        if isinstance(entries, _Block):
            if ndim == 1:
                run_1d(entries)
                return
            if not in_place and math.prod(entries.grid) * nbytes <= _BOX_BYTES and entries.whole(shape):
                block_nd(entries)
                return
            entries = entries.entries()
        if keys is None:
            keys = encode_many(prefix, [e[0] for e in entries], ndim)
        buffer, address, scratch = _buffers(read_size, shape, dtype)
        if values is not None:
            pass
        elif read_many is not None:
            values = read_many(store, keys, buffer)
        else:
            values = store.get_many_sync([(k, None) for k in keys])
        box = None if in_place else _box(entries, whole, nbytes)
        if box is not None:
            staging = _staging(len(entries), shape, dtype)
            step, first = nbytes, staging.ctypes.data
        else:
            staging, step, first = scratch, 0, scratch.ctypes.data
        target = first - step
        source: Any
        header: Any
        for entry, key, got in zip(entries, keys, values):
            target += step
            if got is None:
                if box is None:
                    work[entry[2]] = fill
                else:
                    staging[(target - first) // step] = fill
                continue
            if type(got) is int:
                source, header, size = address, buffer, got
            elif type(got) is bytes:
                source = header = got
                size = len(got)
            else:  # another buffer type (a memoryview, a bytearray): as bytes
                try:
                    got = source = header = bytes(got)
                    size = len(got)
                except TypeError:
                    source, header, size = None, b"", -1
            if size >= 0:
                _, chunk_sel, out_sel, complete = entry
                if box is not None:
                    if decode(header, source, size, target):
                        continue
                elif complete and chunk_sel == whole:  # only complete entries hold plain slices
                    if in_place:
                        start = base + (out_sel[0].start * stride0 if ndim == 1 else offset(out_sel))
                        if decode(header, source, size, start):
                            continue
                    elif decode(header, source, size, target):
                        work[out_sel] = scratch
                        continue
                elif decode(header, source, size, target):
                    work[out_sel] = scratch[chunk_sel]
                    continue
            # does not check out: the general path decodes it again and names what is wrong
            fallback([(entry, bytes(buffer[:size]) if source == address else got, key)])
            if box is not None:
                staging[(target - first) // step] = work[entry[2]]
        if box is not None:
            _unstage(staging, box, _region(entries), work)

    return task
