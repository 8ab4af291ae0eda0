"""Reads and writes of sharded (v3 `sharding_indexed`) arrays.

A read fetches each touched shard's index once (one ranged request per shard, all shards
in one batch), then only the inner chunks the selection needs, with neighbouring byte
ranges coalesced; a selection that covers a whole shard reads it in one request. Writes
assemble each shard once from encoded inner chunks; a partial shard write re-uses the
encoded bytes of the inner chunks it does not touch.
"""

from __future__ import annotations

import math
from collections import defaultdict
from operator import floordiv, mod
from collections.abc import Sequence
from typing import Any

import numpy as np

from zarrlayer.core.engine import (
    chunk_error,
    decode_chunk,
    decode_entries,
    fill_scalar,
    is_all_fill,
    merge_chunk,
    remote_batch,
)
from zarrlayer.core._small_read import small_tasks
from zarrlayer.core._shard_block import Block, band_rows, block_of, fill_block, whole_shard_blocks
from zarrlayer.core.indexing import ChunkPlan, PlanEntry
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
from zarrlayer.format import ArrayMetadata
from zarrlayer.format.codecs.blosc_fast import decompress_ctx
from zarrlayer.format.codecs.compressors import BloscCodec
from zarrlayer.format.codecs.sharding import ShardingCodec
from zarrlayer.storage._base import RangeByteRequest

__all__ = ["read_sharded", "write_sharded", "COALESCE_GAP"]

COALESCE_GAP = 64 * 1024
"""Neighbouring inner-chunk byte ranges closer than this are fetched in one request."""

_MISSING = 2**64 - 1
_BATCH = 64
_REUSE_MAX = 16 << 20  # shards up to this size are read into a reused per-thread buffer


def _group_by_shard(
    entries: Sequence[PlanEntry], cps: tuple[int, ...]
) -> dict[tuple[int, ...], list[tuple[tuple[int, ...], PlanEntry]]]:
    groups: dict[tuple[int, ...], list[tuple[tuple[int, ...], PlanEntry]]] = defaultdict(list)
    for entry in entries:
        coords = entry[0]
        groups[tuple(map(floordiv, coords, cps))].append((tuple(map(mod, coords, cps)), entry))
    return groups


def _inner_in_bounds(metadata: ArrayMetadata, shard: tuple[int, ...], cps: tuple[int, ...]) -> int:
    """How many inner chunks of `shard` lie (at least partly) inside the array."""
    count = 1
    for s, n, size, inner in zip(shard, cps, metadata.shape, metadata.chunks):
        first = s * n
        count *= max(0, min(n, -(-size // inner) - first))
    return count


def _sharding_of(metadata: ArrayMetadata) -> ShardingCodec:
    """The sharding codec of `metadata` (the functions here are only called for sharded arrays)."""
    sharding = metadata.sharding
    if sharding is None:
        raise TypeError("expected the metadata of a sharded array, found an array without sharding")
    return sharding


def _byte_view(data: Any) -> memoryview:
    """A flat byte view of a fetched shard (bytes, or a buffer of another format)."""
    return memoryview(data) if isinstance(data, bytes) else memoryview(data).cast("B")


def _index_slice(data: Any, nbytes: int, location: str) -> Any:
    view = memoryview(data)
    return view[:nbytes] if location == "start" else view[len(view) - nbytes :]


def _decode_index(loc: ArrayLocation, metadata: ArrayMetadata, key: str, data: Any) -> np.ndarray:
    sharding = _sharding_of(metadata)
    shard_shape = metadata.chunk_grid_shape
    try:
        nbytes = sharding.index_nbytes(shard_shape)
        if len(data) < nbytes:
            raise ValueError(f"expected at least {nbytes} bytes for the shard index, found {len(data)}")
        return sharding.decode_index(_index_slice(data, nbytes, sharding.index_location), shard_shape)
    except Exception as exc:
        raise chunk_error(loc, key, exc) from exc


def _coalesce(spans: list[tuple[int, int, int]]) -> list[tuple[int, int, list[tuple[int, int, int]]]]:
    """Group (offset, nbytes, item) spans into (start, end, members) ranges with small gaps merged."""
    spans.sort()
    ranges: list[tuple[int, int, list[tuple[int, int, int]]]] = []
    for offset, nbytes, item in spans:
        if ranges and offset - ranges[-1][1] <= COALESCE_GAP:
            start, end, members = ranges[-1]
            members.append((offset, nbytes, item))
            ranges[-1] = (start, max(end, offset + nbytes), members)
        else:
            ranges.append((offset, offset + nbytes, [(offset, nbytes, item)]))
    return ranges


def _group_read(entries: Sequence[PlanEntry], cps: tuple[int, ...]) -> dict[tuple[int, ...], tuple[np.ndarray, list[PlanEntry]]]:
    """The plan's entries by shard, with numpy over the coordinate array: shard -> (inner coords, one row each; entries)."""
    coords = np.array([entry[0] for entry in entries], dtype=np.int64).reshape(len(entries), len(cps))
    per = np.array(cps, dtype=np.int64)
    shard = coords // per
    inner = coords - shard * per
    if len(entries) > 1 and bool((shard[1:] == shard[:-1]).all()):
        return {tuple(shard[0].tolist()): (inner, list(entries))}
    order = np.lexsort(shard.T[::-1])
    ordered = shard[order]
    bounds = np.flatnonzero((ordered[1:] != ordered[:-1]).any(axis=1)) + 1
    starts = [0, *bounds.tolist()]
    stops = [*bounds.tolist(), len(entries)]
    picks = order.tolist()
    groups: dict[tuple[int, ...], tuple[np.ndarray, list[PlanEntry]]] = {}
    for lo, hi in zip(starts, stops):
        rows = order[lo:hi]
        groups[tuple(ordered[lo].tolist())] = (inner[rows], [entries[i] for i in picks[lo:hi]])
    return groups


def _members(group: tuple[np.ndarray, list[PlanEntry]]) -> list[tuple[tuple[int, ...], PlanEntry]]:
    inner, entries = group
    return [(tuple(coords), entry) for coords, entry in zip(inner.tolist(), entries)]


_Job = tuple[str, Block, np.ndarray, memoryview]


def read_sharded(
    loc: ArrayLocation, metadata: ArrayMetadata, plan: ChunkPlan, work: np.ndarray, *, threads: int
) -> None:
    """Fill `work` from the shards `plan` touches (plan entries are inner chunks), a batch of shards at a time.

    A whole shard whose wanted inner chunks tile a block of the output is decoded in one
    tight loop into scratch and copied out once (see `_shard_block`); other shards go
    through the general per-chunk path. A basic plan kept per axis that wants every shard
    whole (a full read, or a window aligned to shards) is grouped from its axes, without
    building an entry per inner chunk.
    """
    sharding = _sharding_of(metadata)
    cps = sharding.chunks_per_shard(metadata.chunk_grid_shape)
    fill = fill_scalar(metadata)
    # inner chunks under 64 KiB decode in calls of a few µs: a second thread decoding the same
    # shard only queues on the GIL, so a shard is decoded by one thread (and a local read by one)
    parts = small_tasks(plan.count, math.prod(metadata.chunks) * metadata.dtype.itemsize, threads)[0]
    if loc.store.supports_sync:
        threads = parts
    index_request = sharding.index_request(metadata.chunk_grid_shape)
    queue = DecodeQueue(threads=threads)
    inner_shape = metadata.chunks
    ndim = len(inner_shape)
    blockwise = plan.kind == "basic" and work.ndim == ndim and work.dtype != object and work.flags.c_contiguous
    decode_slot = _slot_decoder(sharding, inner_shape) if blockwise else None
    blosc_ctx = _blosc_ctx(sharding, work.dtype) if blockwise else None
    blocks = None
    if blockwise and plan.axes is not None and len(plan.axes) == ndim:
        inner_grid = tuple(-(-size // inner) for size, inner in zip(metadata.shape, inner_shape))
        found = whole_shard_blocks(plan.axes, cps, inner_grid)
        blocks = dict(found) if found else None
    groups = _group_read(plan.entries, cps) if blocks is None else {}

    def _decode(part: Sequence[tuple[PlanEntry, Any, str]]) -> None:
        if part:
            decode_entries(loc, sharding.inner, inner_shape, fill, part, work)

    def _fill(job: _Job, rows: tuple[int, int]) -> None:
        key, block, index, view = job

        def _fail(inner: tuple[int, ...], exc: BaseException) -> Exception:
            return chunk_error(loc, key, ValueError(f"inner chunk {tuple(int(c) for c in inner)}: {exc}"))

        fill_block(block, rows, index, view, work, inner_shape, fill, decode_slot, _fail, blosc_ctx)

    def _bands(job: _Job, parts: int) -> list[tuple[int, int]]:
        block = job[1]
        step = band_rows(block, inner_shape, work.dtype.itemsize)
        step = min(step, max(1, -(-block.counts[0] // parts)))
        return [(a, min(a + step, block.counts[0])) for a in range(0, block.counts[0], step)]

    def _fill_all(job: _Job) -> None:
        for rows in _bands(job, 1):
            _fill(job, rows)

    shard_bytes = math.prod(metadata.chunk_grid_shape) * metadata.dtype.itemsize
    reuse_hint = shard_bytes + sharding.index_nbytes(metadata.chunk_grid_shape) + 16 * math.prod(cps) + 65536

    def _whole(shards: Sequence[tuple[int, ...]], reuse: bool) -> list[_Job]:
        """The jobs of shards wanted whole (`blocks`); a missing shard's region is filled here."""
        assert blocks is not None
        keys = [loc.prefix + metadata.chunk_key(s) for s in shards]
        if reuse and len(shards) == 1 and reuse_hint <= _REUSE_MAX:
            datas = [fetch_whole_reused(loc.store, keys[0], reuse_hint)]
        else:
            datas = fetch(loc.store, [(k, None) for k in keys])
        jobs: list[_Job] = []
        for shard, key, data in zip(shards, keys, datas):
            block = blocks[shard]
            if data is None:
                work[tuple(slice(a, a + e) for a, e in zip(block.out_start, block.out_extent))] = fill
                continue
            view = _byte_view(data)
            jobs.append((key, block, _decode_index(loc, metadata, key, data), view))
        return jobs

    def _resolve(shards: Sequence[tuple[int, ...]], reuse: bool = False) -> tuple[list[tuple[PlanEntry, Any, str]], list[_Job]]:
        """Fetch `shards`; with `reuse`, a single whole shard is read into this thread's reused buffer."""
        if blocks is not None:
            return [], _whole(shards, reuse)
        keys = [loc.prefix + metadata.chunk_key(s) for s in shards]
        whole = [len(groups[s][1]) == _inner_in_bounds(metadata, s, cps) for s in shards]
        requests = [(k, None if w else index_request) for k, w in zip(keys, whole)]
        if reuse and len(shards) == 1 and whole[0] and reuse_hint <= _REUSE_MAX:
            datas = [fetch_whole_reused(loc.store, keys[0], reuse_hint)]
        else:
            datas = fetch(loc.store, requests)
        items: list[tuple[PlanEntry, Any, str]] = []
        jobs: list[_Job] = []
        pending: list[tuple[str, list[tuple[int, int, int]]]] = []
        wanted: list[tuple[PlanEntry, str]] = []
        for shard, key, is_whole, data in zip(shards, keys, whole, datas):
            inner, entries = groups[shard]
            if data is None:
                items.extend((entry, None, key) for entry in entries)
                continue
            block = block_of(inner, entries, inner_shape, ndim) if is_whole and decode_slot is not None else None
            if block is not None:
                view = _byte_view(data)
                jobs.append((key, block, _decode_index(loc, metadata, key, data), view))
                continue
            spans = _locate(loc, metadata, key, data, _members(groups[shard]), is_whole, items, wanted)
            if spans:
                pending.append((key, spans))
        if pending:
            items.extend(_fetch_inner(loc, pending, wanted))
        return items, jobs

    def _submit_jobs(jobs: list[_Job]) -> None:
        for job in jobs:
            for rows in _bands(job, parts):
                queue.submit(lambda part: _fill(*part[0]), [(job, rows)])

    try:
        shards = list(blocks) if blocks is not None else list(groups)
        if loc.store.supports_sync and len(shards) >= threads:
            # local I/O releases the GIL: each pool task reads and decodes its shards, one at a time
            def _one_by_one(part: Sequence[tuple[int, ...]]) -> None:
                for shard in part:
                    items, jobs = _resolve([shard], reuse=True)  # used up below, before this thread reads again
                    _decode(items)
                    for job in jobs:
                        _fill_all(job)

            for batch in batched(shards, _BATCH):
                queue.submit_split(_one_by_one, batch)
            return
        if loc.store.supports_sync:
            # fewer shards than threads: read each here, spread its inner chunks over the pool
            for shard in shards:
                items, jobs = _resolve([shard])
                queue.submit_split(_decode, items)
                _submit_jobs(jobs)
            return
        per_batch = remote_batch(metadata.chunk_grid_shape, metadata.dtype.itemsize, minimum=2, maximum=_BATCH)
        if parts == 1 and len(shards) <= per_batch:
            # one fetch and nothing to overlap it with: decode here, without a hand-off to the pool
            items, jobs = _resolve(shards)
            _decode(items)
            for job in jobs:
                _fill_all(job)
            return
        for batch in batched(shards, per_batch):
            items, jobs = _resolve(batch)
            queue.submit_split(_decode, items)
            _submit_jobs(jobs)
    finally:
        queue.drain()


def _blosc_ctx(sharding: ShardingCodec, dtype: np.dtype) -> Any:
    """c-blosc's `blosc_decompress_ctx` when the inner pipeline is blosc alone over plain bytes of `dtype`, else None."""
    pipeline = sharding.inner
    if decompress_ctx is None or pipeline.direct_decoder() is None or pipeline.dtype != dtype:
        return None
    return decompress_ctx if isinstance(pipeline.bytes_bytes[0], BloscCodec) else None


def _slot_decoder(sharding: ShardingCodec, inner_shape: tuple[int, ...]) -> Any:
    """`f(data, slot)` decoding one inner chunk into a C-contiguous slot of the inner chunk shape."""
    pipeline = sharding.inner
    direct = pipeline.direct_decoder()
    if direct is not None:
        return direct

    def _general(data: Any, slot: np.ndarray) -> None:
        if not pipeline.decode_into(data, slot):
            slot[...] = pipeline.decode(data, inner_shape)

    return _general


def _locate(
    loc: ArrayLocation,
    metadata: ArrayMetadata,
    key: str,
    data: Any,
    members: list[tuple[tuple[int, ...], PlanEntry]],
    is_whole: bool,
    items: list[tuple[PlanEntry, Any, str]],
    wanted: list[tuple[PlanEntry, str]],
) -> list[tuple[int, int, int]]:
    """Resolve a shard's inner chunks from its index: bytes in hand (whole shard), missing, or spans to fetch."""
    index = _decode_index(loc, metadata, key, data).tolist()
    view = memoryview(data) if is_whole else None
    spans: list[tuple[int, int, int]] = []
    for inner, entry in members:
        row = index
        for i in inner:
            row = row[i]
        offset, nbytes = row
        label = f"{key} (inner chunk {inner})"
        if offset == _MISSING and nbytes == _MISSING:
            items.append((entry, None, label))
        elif view is not None:
            if offset + nbytes > len(view):
                raise chunk_error(loc, key, ValueError(
                    f"inner chunk {inner} spans bytes {offset}..{offset + nbytes}, past the shard's end at {len(view)}"))
            items.append((entry, view[offset : offset + nbytes], label))
        else:
            spans.append((offset, nbytes, len(wanted)))
            wanted.append((entry, label))
    return spans


def _fetch_inner(
    loc: ArrayLocation,
    pending: list[tuple[str, list[tuple[int, int, int]]]],
    wanted: list[tuple[PlanEntry, str]],
) -> list[tuple[PlanEntry, Any, str]]:
    requests: list[tuple[str, RangeByteRequest]] = []
    members: list[list[tuple[int, int, int]]] = []
    for key, spans in pending:
        for start, end, group in _coalesce(spans):
            requests.append((key, RangeByteRequest(start, end)))
            members.append(group)
    out: list[tuple[PlanEntry, Any, str]] = []
    for batch_requests, batch_members in zip(batched(requests, _BATCH * 4), batched(members, _BATCH * 4)):
        for (key, request), group, data in zip(batch_requests, batch_members, fetch(loc.store, batch_requests)):
            view = memoryview(data) if data is not None else memoryview(b"")
            for offset, nbytes, item in group:
                entry, label = wanted[item]
                lo = offset - request.start
                if lo + nbytes > len(view):
                    raise chunk_error(loc, key, ValueError(
                        f"inner chunk bytes {offset}..{offset + nbytes} lie past the shard's end"))
                out.append((entry, view[lo : lo + nbytes], label))
    return out


def write_sharded(
    loc: ArrayLocation, metadata: ArrayMetadata, plan: ChunkPlan, value: np.ndarray, *, threads: int
) -> None:
    """Write `value` into the shards `plan` touches, assembling each shard once."""
    sharding = _sharding_of(metadata)
    shard_shape = metadata.chunk_grid_shape
    cps = sharding.chunks_per_shard(shard_shape)
    groups = _group_by_shard(plan.entries, cps)
    fill = fill_scalar(metadata)
    inner_shape = metadata.chunks

    def _assemble(shard: tuple[int, ...], key: str, data: Any, inner_threads: int = 1) -> bytes | None:
        encoded: dict[tuple[int, ...], Any] = {}
        if data is not None:
            index = _decode_index(loc, metadata, key, data)
            view = memoryview(data)
            for inner in np.ndindex(*cps):
                offset, nbytes = (int(v) for v in index[inner])
                if offset != _MISSING:
                    encoded[inner] = view[offset : offset + nbytes]

        def _encode_inner(members: Sequence[tuple[tuple[int, ...], PlanEntry]]) -> list[tuple[tuple[int, ...], Any]]:
            out: list[tuple[tuple[int, ...], Any]] = []
            for inner, entry in members:
                existing = None
                if not entry[3] and inner in encoded:
                    label = f"{key} (inner chunk {inner})"
                    existing = decode_chunk(loc, sharding.inner, encoded[inner], inner_shape, label)
                chunk = merge_chunk(existing, inner_shape, fill, metadata.dtype, entry, value)
                out.append((inner, None if is_all_fill(chunk, fill) else sharding.inner.encode(chunk)))
            return out

        for part in run_batches(_encode_inner, groups[shard], threads=inner_threads):
            for inner, blob in part:
                if blob is None:
                    encoded.pop(inner, None)
                else:
                    encoded[inner] = blob
        return sharding.encode_shard(encoded, shard_shape) if encoded else None

    def _gather(shards: Sequence[tuple[int, ...]]) -> list[tuple[tuple[int, ...], str, Any]]:
        keys = [loc.prefix + metadata.chunk_key(s) for s in shards]
        partial = [
            i for i, s in enumerate(shards)
            if len(groups[s]) != _inner_in_bounds(metadata, s, cps) or not all(e[3] for _, e in groups[s])
        ]
        datas: list[Any] = [None] * len(shards)
        for i, data in zip(partial, fetch(loc.store, [(keys[i], None) for i in partial])):
            datas[i] = data
        return list(zip(shards, keys, datas))

    def _encode(items: Sequence[tuple[tuple[int, ...], str, Any]]) -> list[tuple[str, bytes | None]]:
        return [(key, _assemble(shard, key, data)) for shard, key, data in items]

    def _store(results: Sequence[tuple[str, bytes | None]]) -> None:
        set_values(loc.store, [(k, v) for k, v in results if v is not None])
        delete_keys(loc.store, [k for k, v in results if v is None])

    def _store_each(part: Sequence[tuple[int, ...]]) -> None:
        for shard in part:
            _store(_encode(_gather([shard])))

    shards = list(groups)
    if len(shards) < threads:
        # fewer shards than threads: one shard at a time, its inner chunks encoded across the pool
        for shard in shards:
            ((_, key, data),) = _gather([shard])
            _store([(key, _assemble(shard, key, data, threads))])
        return
    per_batch = remote_batch(shard_shape, metadata.dtype.itemsize, minimum=2, maximum=_BATCH)
    for batch in batched(shards, per_batch):
        if loc.store.supports_sync:
            run_batches(_store_each, batch, threads=threads)
        else:
            _store([r for part in run_batches(_encode, _gather(batch), threads=threads) for r in part])
