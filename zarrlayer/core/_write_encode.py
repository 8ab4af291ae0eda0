"""Per-chunk pieces of the write path, worked out once per write: the encoder and the fill test.

`chunk_encoder` encodes a whole chunk. For the common v3 pipeline `bytes` (native order) +
`blosc` it calls c-blosc's lock-free `blosc_compress_ctx` straight from the chunk's memory
into a buffer this thread reuses (no numcodecs wrapper, no fresh output allocation and page
faults per chunk); the stream is the one numcodecs' `Blosc.encode` writes (same library, same
parameters), so stored bytes are unchanged. Every other pipeline encodes with
`pipeline.encode`.

`fill_test` answers exactly `is_all_fill(chunk, fill)` but rejects data chunks after looking
at one element.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from zarrlayer.format.codecs import blosc_fast
from zarrlayer.format.codecs.compressors import SHUFFLES, BloscCodec
from zarrlayer.format.codecs.pipeline import ChunkCodecPipeline
from zarrlayer.format.codecs.serializers import BytesCodec

__all__ = ["BloscEncoder", "chunk_encoder", "fill_test", "stats"]

_BLOSC_OVERHEAD = 16

stats = {"blosc_direct": 0}
"""Chunks encoded by `BloscEncoder` since import (tests check that the fast path is taken)."""


class BloscEncoder:
    """Encodes a C-contiguous chunk of the pipeline's dtype with c-blosc's context call, into a reused buffer.

    `__call__` returns a memoryview of this thread's output buffer: valid until this thread's
    next call, so the caller writes it (or copies it) at once.
    """

    def __init__(self, codec: BloscCodec, nbytes: int) -> None:
        self._codec = codec
        self._nbytes = nbytes
        self.nbytes = nbytes
        """Bytes of one chunk."""
        self._local = threading.local()

    def _held(self) -> tuple[np.ndarray, list[Any]]:
        """This thread's output buffer (`nbytes` + 16 bytes, kept for the encoder's life: one write) and call arguments.

        The arguments are built once as ctypes values (`compress_to` has no argtypes); slot 4,
        the source address, is set per call.
        """
        held: tuple[np.ndarray, list[Any]] | None = getattr(self._local, "held", None)
        if held is None:
            codec, out = self._codec, np.empty(self._nbytes + _BLOSC_OVERHEAD, dtype=np.uint8)  # not zero-filled
            target = out.ctypes.data
            args: list[Any] = [
                ctypes.c_int(codec.clevel), ctypes.c_int(SHUFFLES.index(codec.shuffle)), ctypes.c_size_t(codec.typesize),
                ctypes.c_size_t(self._nbytes), None, ctypes.c_void_p(target), ctypes.c_size_t(len(out)),
                ctypes.c_char_p(codec.cname.encode()), ctypes.c_size_t(codec.blocksize), ctypes.c_int(1),
            ]
            held = self._local.held = (out, args)
        return held

    def __call__(self, chunk: np.ndarray) -> memoryview:
        """The blosc stream of `chunk` (C-contiguous, `nbytes` bytes); ValueError if c-blosc fails."""
        if not chunk.flags.c_contiguous or chunk.nbytes != self._nbytes:
            raise ValueError(f"expected a C-contiguous chunk of {self._nbytes} bytes, found {chunk.nbytes} bytes")
        return self.encode_at(chunk.ctypes.data)

    def bound(self) -> Callable[[int], memoryview]:
        """`encode_at` for the calling thread, its buffer and arguments looked up once (for a loop over many chunks)."""
        out, args = self._held()
        compress, view, nbytes, c_void_p = blosc_fast.compress_to, memoryview(out), self._nbytes, ctypes.c_void_p
        assert compress is not None  # chunk_encoder hands out a BloscEncoder only when loaded

        def encode_at(address: int) -> memoryview:
            args[4] = c_void_p(address)
            size: int = compress(*args)
            if size <= 0:
                raise ValueError(f"c-blosc could not compress {nbytes} bytes (code {size})")
            stats["blosc_direct"] += 1
            return view[:size]

        return encode_at

    def group(self, shape: tuple[int, ...], dtype: np.dtype, size: int) -> tuple[np.ndarray, Callable[[int], list[memoryview]]]:
        """For the calling thread: a staging block of `size` chunks (`(size, *shape)`, C order) and `encode(n)`.

        `encode(n)` compresses the first `n` staged chunks in one C-level loop (`starmap` over
        argument tuples built once: no Python frame per chunk) into this thread's group
        output, and returns each stream as a memoryview, valid until the thread's next
        `encode`. Raises ValueError if c-blosc fails on any.
        """
        key = (shape, dtype, size)
        held: tuple[Any, ...] | None = getattr(self._local, "group", None)
        if held is None or held[0] != key:
            stage = np.empty((size, *shape), dtype=dtype)
            if stage[0].nbytes != self._nbytes:
                raise ValueError(f"expected chunks of {self._nbytes} bytes, found {stage[0].nbytes}")
            step = self._nbytes + _BLOSC_OVERHEAD
            out = np.empty(size * step, dtype=np.uint8)
            codec, base, target = self._codec, stage.ctypes.data, out.ctypes.data
            head = (ctypes.c_int(codec.clevel), ctypes.c_int(SHUFFLES.index(codec.shuffle)), ctypes.c_size_t(codec.typesize), ctypes.c_size_t(self._nbytes))
            tail = (ctypes.c_size_t(step), ctypes.c_char_p(codec.cname.encode()), ctypes.c_size_t(codec.blocksize), ctypes.c_int(1))
            calls = [(*head, ctypes.c_void_p(base + i * self._nbytes), ctypes.c_void_p(target + i * step), *tail) for i in range(size)]
            held = self._local.group = (key, stage, out, calls, memoryview(out), step)
        _, stage, _, calls, view, step = held
        compress, nbytes = blosc_fast.compress_to, self._nbytes
        assert compress is not None  # chunk_encoder hands out a BloscEncoder only when loaded

        def encode(n: int) -> list[memoryview]:
            sizes = list(itertools.starmap(compress, calls[:n]))
            if min(sizes, default=1) <= 0:
                raise ValueError(f"c-blosc could not compress {nbytes} bytes (code {min(sizes)})")
            stats["blosc_direct"] += n
            return [view[i * step : i * step + size] for i, size in enumerate(sizes)]

        return stage, encode

    def encode_at(self, address: int) -> memoryview:
        """The blosc stream of the `nbytes` bytes at `address` (a live C-contiguous chunk the caller holds)."""
        return self.bound()(address)


def _plain_blosc(pipeline: ChunkCodecPipeline) -> BloscCodec | None:
    """The pipeline's blosc codec when it is exactly `bytes` (a plain reinterpretation) + `blosc`."""
    if type(pipeline) is not ChunkCodecPipeline or pipeline.array_array or len(pipeline.bytes_bytes) != 1:
        return None
    serializer, codec = pipeline.array_bytes, pipeline.bytes_bytes[0]
    if type(serializer) is not BytesCodec or not serializer.matches_native(pipeline.dtype):
        return None
    if pipeline.dtype.kind not in "biufcmM" or type(codec) is not BloscCodec:
        return None
    return codec


def chunk_encoder(pipeline: ChunkCodecPipeline, chunk_shape: tuple[int, ...]) -> Callable[[np.ndarray], Any]:
    """`f(chunk)` giving the stored bytes of a whole chunk (C-contiguous, the pipeline's dtype and `chunk_shape`).

    A `BloscEncoder` where the pipeline is `bytes` + `blosc` and c-blosc's context call is
    loaded (its result is a view valid until the thread's next call); else `pipeline.encode`.
    """
    codec = _plain_blosc(pipeline)
    if codec is None or blosc_fast.compress_to is None:
        return pipeline.encode
    nbytes = int(np.prod(chunk_shape, dtype=np.int64)) * pipeline.dtype.itemsize
    if nbytes <= 0 or nbytes > 2**31 - 1 - _BLOSC_OVERHEAD:  # c-blosc 1.x streams hold at most 2 GiB
        return pipeline.encode
    return BloscEncoder(codec, nbytes)


def fill_test(dtype: np.dtype, fill: Any, exact: Callable[[np.ndarray, Any], bool]) -> Callable[[np.ndarray], bool]:
    """`f(chunk)` equal to `exact(chunk, fill)` (`is_all_fill`), which first compares one element by value.

    For bools, integers and non-NaN float fills: when the first element's value differs from
    the fill's (taken in `dtype`), the bits differ too, so the chunk is not all fill; every
    other chunk gets the exact comparison. Other kinds go to `exact` at once.
    """
    if dtype.kind in "biuf":
        ref = np.asarray(fill, dtype=dtype)
        if not (dtype.kind == "f" and bool(np.isnan(ref))):
            value = ref.item()

            def _test(chunk: np.ndarray) -> bool:
                if chunk.size and chunk.item(0) != value:
                    return False
                return exact(chunk, fill)

            return _test
    return lambda chunk: exact(chunk, fill)
