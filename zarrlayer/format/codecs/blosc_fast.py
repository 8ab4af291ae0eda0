"""The lowest-level blosc calls available: c-blosc's context functions, from the library numcodecs ships.

numcodecs' extension links c-blosc 1.x and exports its C symbols; through ctypes we call
`blosc_decompress_ctx`, `blosc_getitem` and `blosc_compress_ctx` directly. These take no
process-wide lock (c-blosc's plain `blosc_decompress`, which python-blosc and numcodecs' main
thread use, holds a global mutex, so two decode threads ran one at a time) and ctypes releases
the GIL for the call. A 1 KiB chunk decodes in about 0.9 µs of call and decode, where
numcodecs' Python wrapper spends about 3 µs before reaching C. The streams are c-blosc's own,
so results are bit-exact with numcodecs (the same library does the work).

Where the symbols are not exported (a platform whose extension hides them), python-blosc's
`decompress_ptr` is used for decoding when installed (the `fast` extra), else nothing: every
caller then falls back to numcodecs. Setting ZARRLAYER_NO_FAST_BLOSC=1 before import keeps
zarrlayer on numcodecs throughout.

Callers check the 16-byte header first (`cbytes` equal to the buffer's length and the decoded
size equal to the destination's), so c-blosc never reads or writes past either buffer.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["compress_to", "decompress_ctx", "decompress_ptr", "getitem", "lock_free"]


def _load_ctx() -> ctypes.CDLL | None:
    try:
        import numcodecs.blosc as numcodecs_blosc

        lib = ctypes.CDLL(numcodecs_blosc.__file__)
        decompress, get, _ = lib.blosc_decompress_ctx, lib.blosc_getitem, lib.blosc_compress_ctx  # all three, or none
    except (ImportError, OSError, AttributeError):
        return None
    decompress.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    decompress.restype = ctypes.c_int
    get.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    get.restype = ctypes.c_int
    return lib


def _python_blosc() -> Callable[[Any, int], int] | None:
    try:
        import blosc
        from blosc import blosc_extension
    except ImportError:
        return None
    blosc.set_releasegil(True)  # decode threads run in parallel; python-blosc's default holds the GIL
    decode: Callable[[Any, int], int] = blosc_extension.decompress_ptr
    return decode


_lib = None if os.environ.get("ZARRLAYER_NO_FAST_BLOSC") else _load_ctx()


def _ctx_decompress(data: Any, address: int) -> int:
    """Decode the blosc chunk `data` (bytes or a buffer) to `address`.

    Returns the decoded size, which c-blosc takes from the chunk's header; the caller has
    checked that size against its destination.
    """
    src: Any
    if isinstance(data, bytes):
        src, nbytes = data, int.from_bytes(data[4:8], "little")
    else:
        raw = np.frombuffer(data, dtype=np.uint8)
        src, nbytes = raw.ctypes.data, int.from_bytes(raw[4:8].tobytes(), "little")
    done: int = _decompress(src, address, nbytes, 1)
    if done != nbytes:
        raise ValueError(f"c-blosc could not decode the chunk (error code {done})")
    return done


if _lib is not None:
    _decompress = _lib.blosc_decompress_ctx
    _getitem = _lib.blosc_getitem

decompress_ctx: Callable[[Any, int, int, int], int] | None = _decompress if _lib is not None else None
"""c-blosc's `blosc_decompress_ctx(src, dest, destsize, nthreads)`, or None where not loaded.

`src` and `dest` are int addresses (or bytes for `src`); returns the bytes written, or a
negative code (or 0) on failure, which the caller must check against `destsize`.
"""

def _unchecked(lib: ctypes.CDLL, name: str) -> Any:
    """A function object of its own for `name` (CDLL indexing does not cache), returning int, with no argtypes."""
    func = lib[name]
    func.restype = ctypes.c_int
    return func


compress_to: Callable[..., int] | None = _unchecked(_lib, "blosc_compress_ctx") if _lib is not None else None
"""c-blosc's `blosc_compress_ctx(clevel, shuffle, typesize, nbytes, src, dest, destsize, cname, blocksize, 1)`, or None.

For callers that compress into a buffer of their own (the write path reuses one per thread).
No argtypes, so the call skips their conversion (about 1.5 µs of a 4 µs call on 4 KiB): every
argument must be a ctypes value of the C type, built once where it can be (`c_int` clevel,
shuffle and the last 1; `c_size_t` typesize, nbytes, destsize, blocksize; `c_void_p` src and
dest; `c_char_p` cname such as b"lz4"). Returns the compressed size, 0 when `destsize` is too
small (give it `nbytes + 16`), negative on error. No global lock.
"""

decompress_ptr: Callable[[Any, int], int] | None = (
    _ctx_decompress if _lib is not None else None if os.environ.get("ZARRLAYER_NO_FAST_BLOSC") else _python_blosc()
)
"""`decompress_ptr(chunk, address)`: decode a blosc chunk (bytes or a buffer) to `address`, or None."""

lock_free = _lib is not None
"""Whether `decompress_ptr` is c-blosc's lock-free context call (decode threads run side by side)."""


def getitem(data: bytes | int, start: int, nitems: int, address: int) -> int:
    """Decode items `start`..`start + nitems` (of the header's typesize) of a blosc chunk to `address`.

    c-blosc decodes only the blocks holding those items. `data` is bytes or the int address
    of a chunk whose header the caller has checked; returns the bytes written; raises
    ValueError on a corrupt stream, RuntimeError where the context library is not loaded.
    """
    if _lib is None:
        raise RuntimeError("c-blosc's context functions are not available")
    done: int = _getitem(data, start, nitems, address)
    if done < 0:
        raise ValueError(f"c-blosc could not decode items {start}..{start + nitems} (error code {done})")
    return done
