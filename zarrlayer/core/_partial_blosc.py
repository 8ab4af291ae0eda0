"""Partial decoding of blosc chunks: only the blocks that hold the items a read wants.

A blosc chunk is split into independently compressed blocks (256 or 512 KiB for a 1 MiB
chunk at the usual levels). When a read wants a few elements of a large chunk, a point or a
short run of a time series for instance, c-blosc's `blosc_getitem` decodes just the blocks
covering the C-order span from the first wanted element to the last, into that span of the
scratch buffer; the selection is then copied out as for a whole decode.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from zarrlayer.format.codecs import blosc_fast
from zarrlayer.format.codecs.compressors import BloscCodec

__all__ = ["partial_decoder", "ranged_decoder", "span_of"]

_MIN_CHUNK_BYTES = 256 * 1024
_HEADER = 16

PartialDecode = Callable[[Any, tuple[Any, ...], np.ndarray], bool]


def span_of(selection: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[int, int] | None:
    """The C-order element span [first, stop) that a basic selection (ints, slices with step > 0) lies in, or None."""
    if len(selection) != len(shape):
        return None
    first = last = 0
    for item, size in zip(selection, shape):
        if isinstance(item, int):
            lo = hi = item
        elif isinstance(item, slice) and (item.step or 1) > 0:
            start, stop, step = item.indices(size)
            if stop <= start:
                return None
            lo, hi = start, start + (stop - 1 - start) // step * step
        else:
            return None
        first, last = first * size + lo, last * size + hi
    return first, last + 1


def _eligible(pipeline: Any, chunk_shape: tuple[int, ...], dtype: np.dtype) -> int | None:
    """The decoded bytes of a chunk when its pipeline is plain bytes then blosc alone, decoding to `dtype`, of at
    least 256 KiB, with c-blosc's context library loaded; else None."""
    if not blosc_fast.lock_free or pipeline.direct_decoder() is None or not isinstance(pipeline.bytes_bytes[0], BloscCodec):
        return None
    nbytes = math.prod(chunk_shape) * dtype.itemsize
    return nbytes if nbytes >= _MIN_CHUNK_BYTES and pipeline.dtype == dtype else None


def _items(head: Any, size: int, span: tuple[int, int], nbytes: int, itemsize: int) -> tuple[int, int, int, int] | None:
    """(first item, stop item, typesize, blocksize) covering the element `span`, in units of the header's typesize,
    when the 16-byte blosc header `head` records `size` compressed and `nbytes` decoded bytes; else None."""
    if len(head) < _HEADER:
        return None
    typesize = head[3]
    decoded, blocksize, cbytes = (int.from_bytes(head[i : i + 4], "little") for i in (4, 8, 12))
    if cbytes != size or decoded != nbytes or not typesize or nbytes % typesize:
        return None  # truncated, bytes after the stream, or another chunk: the whole decode says which
    return span[0] * itemsize // typesize, -(-span[1] * itemsize // typesize), typesize, blocksize


def _get_items(source: bytes | int, begin: int, end: int, typesize: int, scratch: np.ndarray) -> bool:
    """Decode items `begin`..`end` of the blosc chunk at `source` into the same span of the C-order `scratch`."""
    try:
        done = blosc_fast.getitem(source, begin, end - begin, scratch.ctypes.data + begin * typesize)
    except ValueError:
        return False
    return done == (end - begin) * typesize


def partial_decoder(pipeline: Any, chunk_shape: tuple[int, ...], dtype: np.dtype) -> PartialDecode | None:
    """`f(data, chunk_selection, scratch) -> bool` decoding only the blocks a selection needs, or None.

    Offered for pipelines of plain bytes then blosc alone (`direct_decoder`) whose chunks are at
    least 256 KiB, when c-blosc's context library is loaded. `f` writes the span of the C-order
    `scratch` (shaped `chunk_shape`) that holds the selection and returns True; it returns False,
    writing nothing, when the selection is not basic, when its span is most of the chunk, or
    when the header does not check out (the caller then decodes the whole chunk, which reports
    what is wrong).
    """
    nbytes = _eligible(pipeline, chunk_shape, dtype)
    if nbytes is None:
        return None
    itemsize = dtype.itemsize

    def decode(data: Any, selection: tuple[Any, ...], scratch: np.ndarray) -> bool:
        span = span_of(selection, chunk_shape)
        if span is None:
            return False
        source = data if isinstance(data, bytes) else np.frombuffer(data, dtype=np.uint8)
        found = _items(bytes(source[:_HEADER]), len(source), span, nbytes, itemsize)
        if found is None:
            return False
        begin, end, typesize, blocksize = found
        if (end - begin) * typesize > nbytes - blocksize:
            return False  # the span reaches into every block but one: a whole decode costs the same
        return _get_items(source if isinstance(source, bytes) else source.ctypes.data, begin, end, typesize, scratch)

    return decode


_PREFIX = 4096  # header and block-start table of up to 1020 blocks
_buffers = threading.local()

RangedDecode = Callable[[str, tuple[Any, ...], np.ndarray], "bool | None"]


def ranged_decoder(store: Any, pipeline: Any, chunk_shape: tuple[int, ...], dtype: np.dtype) -> RangedDecode | None:
    """`f(key, chunk_selection, scratch)` reading only the header and the blocks a selection needs, or None.

    For the same chunks as `partial_decoder`, on stores that read a header then a byte range
    through one descriptor (`get_part_into_sync`, LocalStore): a point of a 1 MiB chunk in two
    512 KiB blocks reads about half the file. `f` returns True when the span of `scratch`
    holding the selection is decoded, None when the chunk is missing, and False (nothing
    written) when the selection, the header or the block table does not allow it; the caller
    then reads and decodes the whole chunk, which reports what is wrong.
    """
    reader = getattr(type(store), "get_part_into_sync", None)
    nbytes = _eligible(pipeline, chunk_shape, dtype)
    if reader is None or not hasattr(os, "preadv") or nbytes is None:
        return None
    itemsize = dtype.itemsize

    def decode(key: str, selection: tuple[Any, ...], scratch: np.ndarray) -> bool | None:
        span = span_of(selection, chunk_shape)
        if span is None:
            return False
        wanted: list[int] = []

        def part_of(head: memoryview, size: int) -> tuple[int, int] | None:
            found = _items(head, size, span, nbytes, itemsize)
            if found is None or head[2] & 0x2:  # memcpyed chunks have no block table
                return None
            begin, end, typesize, blocksize = found
            if not 0 < blocksize < nbytes:
                return None
            blocks = -(-nbytes // blocksize)
            table = _HEADER + 4 * blocks
            first, last = begin * typesize // blocksize, (end * typesize - 1) // blocksize
            if len(head) < table or last - first + 1 >= blocks or size > len(buffer):
                return None
            starts = np.frombuffer(head, dtype="<u4", count=blocks, offset=_HEADER).astype(np.int64)
            ordered = np.sort(starts)
            following = np.searchsorted(ordered, starts, side="right")
            ends = np.where(following < blocks, ordered[np.minimum(following, blocks - 1)], size)
            lo, hi = int(starts[first : last + 1].min()), int(ends[first : last + 1].max())
            if not table <= lo < hi <= size:
                return None
            wanted[:] = [begin, end, typesize]
            return lo, hi

        buffer, address = _buffer(nbytes + _PREFIX)
        done = reader(store, key, buffer, _PREFIX, part_of)
        if done is None or not done:
            return done
        begin, end, typesize = wanted
        return _get_items(address, begin, end, typesize, scratch)

    return decode


def _buffer(size: int) -> tuple[bytearray, int]:
    """This thread's read buffer for ranged decodes, of at least `size` bytes, and its address (kept up to 16 MiB)."""
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is not None and len(buffer) >= size:
        return buffer, int(_buffers.address)
    buffer = bytearray(size)
    address = int(np.frombuffer(buffer, dtype=np.uint8).ctypes.data)
    if size <= 16 << 20:
        _buffers.buffer, _buffers.address = buffer, address
    return buffer, address
