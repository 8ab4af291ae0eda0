"""Reads and writes of sharded (v3 `sharding_indexed`) arrays.

A read fetches each touched shard's index once (one ranged request per shard, all shards
in one batch), then only the inner chunks the selection needs, with neighbouring byte
ranges coalesced; a selection that covers a whole shard reads it in one request. Writes
assemble each shard once from encoded inner chunks; a partial shard write re-uses the
encoded bytes of the inner chunks it does not touch.
"""

from __future__ import annotations

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
from zarrlayer.core.indexing import ChunkPlan, PlanEntry
from zarrlayer.core.io import ArrayLocation, DecodeQueue, batched, delete_keys, fetch, run_batches, set_values
from zarrlayer.format import ArrayMetadata
from zarrlayer.format.codecs.sharding import ShardingCodec
from zarrlayer.storage._base import RangeByteRequest

__all__ = ["read_sharded", "write_sharded", "COALESCE_GAP"]

COALESCE_GAP = 64 * 1024
"""Neighbouring inner-chunk byte ranges closer than this are fetched in one request."""

_MISSING = 2**64 - 1
_BATCH = 64


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


def read_sharded(
    loc: ArrayLocation, metadata: ArrayMetadata, plan: ChunkPlan, work: np.ndarray, *, threads: int
) -> None:
    """Fill `work` from the shards `plan` touches (plan entries are inner chunks), a batch of shards at a time."""
    sharding = _sharding_of(metadata)
    cps = sharding.chunks_per_shard(metadata.chunk_grid_shape)
    groups = _group_by_shard(plan.entries, cps)
    fill = fill_scalar(metadata)
    index_request = sharding.index_request(metadata.chunk_grid_shape)
    queue = DecodeQueue(threads=threads)

    def _decode(part: Sequence[tuple[PlanEntry, Any, str]]) -> None:
        decode_entries(loc, sharding.inner, metadata.chunks, fill, part, work)

    def _resolve(shards: Sequence[tuple[int, ...]]) -> list[tuple[PlanEntry, Any, str]]:
        keys = [loc.prefix + metadata.chunk_key(s) for s in shards]
        whole = [len(groups[s]) == _inner_in_bounds(metadata, s, cps) for s in shards]
        requests = [(k, None if w else index_request) for k, w in zip(keys, whole)]
        items: list[tuple[PlanEntry, Any, str]] = []
        pending: list[tuple[str, list[tuple[int, int, int]]]] = []
        wanted: list[tuple[PlanEntry, str]] = []
        for shard, key, is_whole, data in zip(shards, keys, whole, fetch(loc.store, requests)):
            if data is None:
                items.extend((entry, None, key) for _, entry in groups[shard])
                continue
            spans = _locate(loc, metadata, key, data, groups[shard], is_whole, items, wanted)
            if spans:
                pending.append((key, spans))
        if pending:
            items.extend(_fetch_inner(loc, pending, wanted))
        return items

    try:
        shards = list(groups)
        if loc.store.supports_sync and len(shards) >= threads:
            # local I/O releases the GIL: each pool task reads and decodes its shards, one at a time
            def _one_by_one(part: Sequence[tuple[int, ...]]) -> None:
                for shard in part:
                    _decode(_resolve([shard]))

            for batch in batched(shards, _BATCH):
                queue.submit_split(_one_by_one, batch)
            return
        if loc.store.supports_sync:
            # fewer shards than threads: read each here, spread its inner chunks over the pool
            for shard in shards:
                queue.submit_split(_decode, _resolve([shard]))
            return
        per_batch = remote_batch(metadata.chunk_grid_shape, metadata.dtype.itemsize, minimum=2, maximum=_BATCH)
        for batch in batched(shards, per_batch):
            queue.submit_split(_decode, _resolve(batch))
    finally:
        queue.drain()


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
