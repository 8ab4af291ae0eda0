"""The fast path of a sharded read: a whole shard whose wanted inner chunks tile a block of the output.

Each inner chunk is decoded into its own slot of a reused scratch buffer shaped
(*chunks in the block, *inner chunk shape), in a tight loop with no per-chunk plan
work; then one strided copy moves the block into the output. Headers and byte spans of
all inner chunks are checked at once with numpy before anything is decoded.
"""

from __future__ import annotations

import itertools
import threading
from itertools import repeat
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from zarrlayer.core.indexing import PlanEntry

__all__ = ["Block", "band_rows", "block_of", "fill_block", "whole_shard_blocks"]

_MISSING = 2**64 - 1
_SCRATCH_LIMIT = 8 << 20
_scratch = threading.local()


class Block:
    """The wanted inner chunks of one shard: their inner coordinates, and where the block lands in the output."""

    __slots__ = ("lo", "counts", "out_start", "out_extent")

    def __init__(self, lo: tuple[int, ...], counts: tuple[int, ...], out_start: tuple[int, ...], out_extent: tuple[int, ...]) -> None:
        self.lo = lo
        self.counts = counts
        self.out_start = out_start
        self.out_extent = out_extent


def block_of(inner: np.ndarray, entries: Sequence[PlanEntry], inner_shape: tuple[int, ...], ndim: int) -> Block | None:
    """The block the shard's wanted inner chunks (`inner`, one row each, in plan order) form, or None when they do not tile one.

    For the entries of a basic plan that keeps every axis (the caller checks): they tile one
    when every entry covers its whole chunk and the chunks fill a box of inner coordinates;
    plan order is C order, so the first and last entries hold the box's corners.
    """
    if not all(map(itemgetter(3), entries)):
        return None
    lo = inner[0]
    hi = inner[-1]
    counts = hi - lo + 1
    if (counts <= 0).any() or int(np.prod(counts)) != len(entries) or (inner.min(axis=0) != lo).any() or (inner.max(axis=0) != hi).any():
        return None
    first, last = entries[0][2], entries[-1][2]
    if len(first) != ndim or len(last) != ndim:
        return None
    out_lo = tuple(sel.start for sel in first)
    extent = tuple(sel.stop - start for sel, start in zip(last, out_lo))
    if any(e > c * s or e <= (c - 1) * s for e, c, s in zip(extent, counts.tolist(), inner_shape)):
        return None
    return Block(tuple(lo.tolist()), tuple(counts.tolist()), out_lo, extent)


def _axis_runs(axis: Any, per_shard: int, inner_total: int) -> list[tuple[int, int, int, int]] | None:
    """(shard index, inner chunks, output start, output extent) of each shard an axis plan covers whole, or None."""
    ids = axis.ids
    if not len(ids):
        return []
    if not bool(axis.complete.all()) or (len(ids) > 1 and bool((np.diff(ids) != 1).any())):
        return None
    shard_of = ids // per_shard
    bounds = (np.flatnonzero(np.diff(shard_of)) + 1).tolist()
    runs = []
    for a, b in zip([0, *bounds], [*bounds, len(ids)]):
        shard = int(shard_of[a])
        if int(ids[a]) != shard * per_shard or b - a != min(per_shard, inner_total - shard * per_shard):
            return None  # the shard is not wanted whole along this axis
        start = int(axis.out_lo[a])
        runs.append((shard, b - a, start, int(axis.out_hi[b - 1]) - start))
    return runs


def whole_shard_blocks(
    axes: Sequence[Any], per_shard: tuple[int, ...], inner_grid: tuple[int, ...]
) -> list[tuple[tuple[int, ...], Block]] | None:
    """Every shard a basic plan touches with its block, when the plan wants each of them whole; else None.

    Works from the plan's per-axis arrays (`ChunkPlan.axes`), so a full read of 4096 inner
    chunks never builds 4096 plan entries. `inner_grid` is the inner chunk grid's shape.
    """
    per_axis = []
    for axis, n, total in zip(axes, per_shard, inner_grid):
        runs = _axis_runs(axis, n, total)
        if runs is None:
            return None
        per_axis.append(runs)
    return [
        (tuple(r[0] for r in combo), Block((0,) * len(combo), tuple(r[1] for r in combo), tuple(r[2] for r in combo), tuple(r[3] for r in combo)))
        for combo in itertools.product(*per_axis)
    ]


def _scratch_for(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    nbytes = int(np.prod(shape)) * dtype.itemsize
    buffer = getattr(_scratch, "buffer", None)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = np.empty(max(nbytes, 1), dtype=np.uint8)
        if nbytes <= _SCRATCH_LIMIT:
            _scratch.buffer = buffer
    return buffer[:nbytes].view(dtype).reshape(shape)


def _blosc_ready(view: memoryview, offsets: np.ndarray, sizes: np.ndarray, missing: np.ndarray, nbytes: int) -> np.ndarray:
    """Per inner chunk (a bool array): whether its blosc header is whole, matches its span and decodes to `nbytes`.

    The checks `blosc_decode_into` makes per chunk, done for a whole band with numpy.
    """
    ok = ~missing & (sizes >= 16)
    heads = np.zeros((len(offsets), 16), dtype=np.uint8)
    if ok.any():
        raw = np.frombuffer(view, dtype=np.uint8)
        heads[ok] = raw[offsets[ok].astype(np.int64)[:, None] + np.arange(16)]
    words = heads.view("<u4")
    ok &= (words[:, 3] == sizes) & (words[:, 1] == nbytes)
    return ok


def band_rows(block: Block, inner_shape: tuple[int, ...], itemsize: int) -> int:
    """Rows of inner chunks (along axis 0) decoded per scratch fill: the scratch stays under 8 MiB."""
    row = int(np.prod(block.counts[1:], dtype=np.int64)) * int(np.prod(inner_shape)) * itemsize
    return max(1, min(block.counts[0], _SCRATCH_LIMIT // max(row, 1)))


def fill_block(
    block: Block,
    rows: tuple[int, int],
    index: np.ndarray,
    view: memoryview,
    work: np.ndarray,
    inner_shape: tuple[int, ...],
    fill: Any,
    decode_slot: Any,
    fail: Any,
    blosc_ctx: Any = None,
) -> None:
    """Decode rows `rows` (along axis 0, relative to the block) of `block` from the whole shard `view` into `work`.

    `decode_slot(data, slot)` decodes one inner chunk into a C-contiguous slot;
    `fail(inner coords, exception)` returns the error to raise for a bad inner chunk.
    `blosc_ctx(src, dest, nbytes, nthreads)` (c-blosc's lock-free `blosc_decompress_ctx`, for
    a blosc-only inner pipeline; int addresses) decodes the chunks whose headers all check out
    at once (see `_blosc_ready`); any other chunk, or one it fails on, goes through
    `decode_slot`, which reports what is wrong with it.
    """
    ndim = len(inner_shape)
    a, b = rows
    counts = (b - a, *block.counts[1:])
    box = tuple(slice(lo + (a if axis == 0 else 0), lo + (b if axis == 0 else c)) for axis, (lo, c) in enumerate(zip(block.lo, block.counts)))
    spans = index[box].reshape(-1, 2)
    scratch = _scratch_for((*counts, *inner_shape), work.dtype)
    slots = scratch.reshape(-1, *inner_shape)
    offsets = spans[:, 0]
    sizes = spans[:, 1]
    missing = (offsets == _MISSING) & (sizes == _MISSING)
    limit = len(view)
    bad = ~missing & ((offsets > limit) | (sizes > limit) | (offsets + sizes > limit))
    if bad.any():
        i = int(np.argmax(bad))
        coords = tuple(int(c) + lo for c, lo in zip(np.unravel_index(i, counts), (block.lo[0] + a, *block.lo[1:])))
        raise fail(coords, ValueError(f"inner chunk spans bytes {int(offsets[i])}..{int(offsets[i]) + int(sizes[i])}, past the shard's end at {limit}"))
    step = slots[0].nbytes if len(slots) else 0
    general = ~missing
    if blosc_ctx is not None and len(view):
        # one C-level map over the chunks whose headers check out: the GIL is taken only for the
        # call itself, so another decode thread is not held up by a Python loop between calls
        ready = np.flatnonzero(_blosc_ready(view, offsets, sizes, missing, step))
        source = np.frombuffer(view, dtype=np.uint8).ctypes.data
        sources = (offsets[ready].astype(np.int64) + source).tolist()
        targets = (ready * step + scratch.ctypes.data).tolist()
        done = np.fromiter(map(blosc_ctx, sources, targets, repeat(step, len(ready)), repeat(1, len(ready))), dtype=np.int64, count=len(ready))
        general[ready[done == step]] = False  # a chunk c-blosc failed on goes through decode_slot, which says why
    for i in np.flatnonzero(missing).tolist():
        slots[i] = fill
    for i in np.flatnonzero(general).tolist():
        begin = int(offsets[i])
        try:
            decode_slot(view[begin : begin + int(sizes[i])], slots[i])
        except MemoryError:
            raise
        except Exception as exc:
            coords = tuple(int(c) + lo for c, lo in zip(np.unravel_index(i, counts), (block.lo[0] + a, *block.lo[1:])))
            raise fail(coords, exc) from exc
    start = (block.out_start[0] + a * inner_shape[0], *block.out_start[1:])
    extent = (min(block.out_extent[0] - a * inner_shape[0], counts[0] * inner_shape[0]), *block.out_extent[1:])
    target = work[tuple(slice(s, s + e) for s, e in zip(start, extent))]
    full = tuple(c * s for c, s in zip(counts, inner_shape))
    order = [axis for pair in zip(range(ndim), range(ndim, 2 * ndim)) for axis in pair]
    if extent == full:
        split = target.view()
        split.shape = tuple(n for pair in zip(counts, inner_shape) for n in pair)  # splitting axes never copies
        np.copyto(split, scratch.transpose(order))
    else:
        target[...] = scratch.transpose(order).reshape(full)[tuple(slice(0, e) for e in extent)]
