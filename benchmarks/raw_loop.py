"""The floor: a plain loop of file read + numcodecs decode + copy over a Zarr v3 directory store.

It knows just enough of the format (default `c/i/j` keys, blosc chunks, a sharding index of
(offset, nbytes) pairs at the end of each shard) to read what zarr-python writes, so its
time is what any Zarr reader must at least spend.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numcodecs
import numpy as np

__all__ = ["Layout", "count_chunks", "read", "read_threads", "write", "write_threads"]

_MISSING = np.uint64(2**64 - 1)
_CODEC = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)


@dataclass(frozen=True)
class Layout:
    """Where an array's chunks lie: its directory, shape, chunk shape, optional shard shape, dtype."""

    path: Path
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    dtype: np.dtype


def _bounds(shape: tuple[int, ...], selection) -> list[tuple[int, int]]:
    if selection is Ellipsis:
        return [(0, n) for n in shape]
    return [s.indices(n)[:2] for s, n in zip(selection, shape)]


def _blocks(bounds, block: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    ranges = [range(lo // b, -(-hi // b)) for (lo, hi), b in zip(bounds, block)]
    return itertools.product(*ranges)


def _overlap(coords, block, bounds):
    """(region inside the block, region of the output) for block `coords` against `bounds`."""
    inner, outer = [], []
    for c, b, (lo, hi) in zip(coords, block, bounds):
        start, stop = max(c * b, lo), min((c + 1) * b, hi)
        inner.append(slice(start - c * b, stop - c * b))
        outer.append(slice(start - lo, stop - lo))
    return tuple(inner), tuple(outer)


def count_chunks(layout: Layout, selection) -> int:
    """How many (inner) chunks `selection` touches."""
    bounds = _bounds(layout.shape, selection)
    return math.prod(-(-hi // b) - lo // b for (lo, hi), b in zip(bounds, layout.chunks))


def _key(layout: Layout, coords) -> str:
    return os.path.join(layout.path, "c", *map(str, coords))


def _read_file(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def read(layout: Layout, selection) -> np.ndarray:
    """`array[selection]` (slices with step 1, or Ellipsis) by the plainest loop there is."""
    bounds = _bounds(layout.shape, selection)
    out = np.zeros([hi - lo for lo, hi in bounds], dtype=layout.dtype)
    if layout.shards is None:
        for coords in _blocks(bounds, layout.chunks):
            data = _read_file(_key(layout, coords))
            if data is not None:
                chunk = np.frombuffer(_CODEC.decode(data), dtype=layout.dtype).reshape(layout.chunks)
                inner, outer = _overlap(coords, layout.chunks, bounds)
                out[outer] = chunk[inner]
        return out
    per_shard = tuple(s // c for s, c in zip(layout.shards, layout.chunks))
    index_nbytes = 16 * math.prod(per_shard) + 4
    for shard in _blocks(bounds, layout.shards):
        data = _read_file(_key(layout, shard))
        if data is None:
            continue
        index = np.frombuffer(data, dtype="<u8", count=2 * math.prod(per_shard),
                              offset=len(data) - index_nbytes).reshape(*per_shard, 2)
        view = memoryview(data)
        for coords in _blocks(bounds, layout.chunks):
            local = tuple(c - s * n for c, s, n in zip(coords, shard, per_shard))
            if not all(0 <= x < n for x, n in zip(local, per_shard)):
                continue
            offset, nbytes = index[local]
            if offset == _MISSING:
                continue
            raw = _CODEC.decode(view[int(offset):int(offset + nbytes)])
            chunk = np.frombuffer(raw, dtype=layout.dtype).reshape(layout.chunks)
            inner, outer = _overlap(coords, layout.chunks, bounds)
            out[outer] = chunk[inner]
    return out


def write(layout: Layout, data: np.ndarray) -> None:
    """Write every chunk of `data` (unsharded layouts), padding edge chunks with zeros."""
    bounds = _bounds(layout.shape, Ellipsis)
    made: set[str] = set()
    for coords in _blocks(bounds, layout.chunks):
        inner, outer = _overlap(coords, layout.chunks, bounds)
        part = data[outer]
        if part.shape == layout.chunks:
            chunk = np.ascontiguousarray(part)
        else:
            chunk = np.zeros(layout.chunks, dtype=layout.dtype)
            chunk[inner] = part
        path = _key(layout, coords)
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with open(path, "wb") as f:
            f.write(_CODEC.encode(chunk))


# -- the two-core floor ------------------------------------------------------------------------

def _split(items: list, parts: int) -> list[list]:
    size = -(-len(items) // max(parts, 1))
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _run_parallel(work, groups: list[list], threads: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    if threads <= 1 or len(groups) <= 1:
        for group in groups:
            work(group)
        return
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(work, g) for g in groups]:
            future.result()


def read_threads(layout: Layout, selection, threads: int = 2) -> np.ndarray:
    """`read`, with the chunks (or shards) split over `threads` threads, each with its own scratch buffer.

    File reads and blosc release the GIL, so this is the floor a reader can reach on `threads` cores.
    """
    from numcodecs.blosc import decompress

    bounds = _bounds(layout.shape, selection)
    out = np.empty([hi - lo for lo, hi in bounds], dtype=layout.dtype)
    chunk_bytes = math.prod(layout.chunks) * layout.dtype.itemsize

    def decode_to(data, coords) -> None:
        inner, outer = _overlap(coords, layout.chunks, bounds)
        target = out[outer]
        if target.shape == layout.chunks and target.flags.c_contiguous:
            decompress(data, target)
            return
        scratch = np.empty(layout.chunks, dtype=layout.dtype)
        decompress(data, scratch)
        target[...] = scratch[inner]

    if layout.shards is None:
        def work(group) -> None:
            scratch = np.empty(chunk_bytes, dtype=np.uint8).view(layout.dtype).reshape(layout.chunks)
            for coords in group:
                data = _read_file(_key(layout, coords))
                if data is None:
                    out[_overlap(coords, layout.chunks, bounds)[1]] = 0
                    continue
                inner, outer = _overlap(coords, layout.chunks, bounds)
                target = out[outer]
                if target.shape == layout.chunks and target.flags.c_contiguous:
                    decompress(data, target)
                else:
                    decompress(data, scratch)
                    target[...] = scratch[inner]

        _run_parallel(work, _split(list(_blocks(bounds, layout.chunks)), threads), threads)
        return out
    per_shard = tuple(s // c for s, c in zip(layout.shards, layout.chunks))
    index_nbytes = 16 * math.prod(per_shard) + 4
    shards = list(_blocks(bounds, layout.shards))
    wanted = list(_blocks(bounds, layout.chunks))

    def chunks_of(shard) -> list:
        lo = [s * n for s, n in zip(shard, per_shard)]
        return [c for c in wanted if all(l <= x < l + n for x, l, n in zip(c, lo, per_shard))]

    def load(shard):
        data = _read_file(_key(layout, shard))
        if data is None:
            return None, None
        index = np.frombuffer(data, dtype="<u8", count=2 * math.prod(per_shard),
                              offset=len(data) - index_nbytes).reshape(*per_shard, 2)
        return memoryview(data), index

    def decode_group(view, index, shard, group) -> None:
        for coords in group:
            local = tuple(c - s * n for c, s, n in zip(coords, shard, per_shard))
            offset, nbytes = (int(v) for v in index[local])
            decode_to(view[offset : offset + nbytes], coords)

    if len(shards) >= threads:
        def work(group) -> None:
            for shard in group:
                view, index = load(shard)
                decode_group(view, index, shard, chunks_of(shard))

        _run_parallel(work, _split(shards, threads), threads)
    else:
        for shard in shards:
            view, index = load(shard)
            _run_parallel(lambda g, v=view, i=index, s=shard: decode_group(v, i, s, g), _split(chunks_of(shard), threads), threads)
    return out


def write_threads(layout: Layout, data: np.ndarray, threads: int = 2) -> None:
    """`write` (full chunks only, no atomic rename), split over `threads` threads."""
    from numcodecs.blosc import compress

    bounds = _bounds(layout.shape, Ellipsis)
    coords_all = list(_blocks(bounds, layout.chunks))
    for coords in {c[:-1] for c in coords_all}:
        os.makedirs(os.path.join(layout.path, "c", *map(str, coords)), exist_ok=True)

    def work(group) -> None:
        for coords in group:
            outer = _overlap(coords, layout.chunks, bounds)[1]
            chunk = np.ascontiguousarray(data[outer])
            with open(_key(layout, coords), "wb") as f:
                f.write(compress(chunk, b"lz4", 5, 1, 0, 4))

    _run_parallel(work, _split(coords_all, threads), threads)
