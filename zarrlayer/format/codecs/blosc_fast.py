"""The lowest-level blosc decode available: python-blosc's `decompress_ptr`, when installed.

numcodecs' `blosc.decompress` spends about 3 µs of Python per call (its `_get_use_threads()`
looks up the current process and thread every time); python-blosc's C entry point decodes
a 1 KiB chunk in about 0.6 µs and a 16 KiB one in about 3 µs, with the GIL released. Only
decoding goes through it (decoding is fully determined by the stream, so the result is
bit-exact with numcodecs); encoding stays on numcodecs.

Callers check the header first (`check_blosc_header` with the exact decoded size), so a
chunk is never written past its buffer. Only single-block chunks use it: python-blosc
decodes with its process-wide thread count, and c-blosc starts threads per call for a
multi-block chunk when that count is above 1. Installing python-blosc is the `fast` extra
(`pip install "zarrlayer[fast]"`); without it every path falls back to numcodecs.

Loading it calls python-blosc's `set_releasegil(True)`, a process-wide switch (results are
unchanged; other python-blosc callers then also release the GIL). Setting the environment
variable ZARRLAYER_NO_FAST_BLOSC=1 before import keeps zarrlayer on numcodecs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

__all__ = ["decompress_ptr"]


def _load() -> Callable[[Any, int], int] | None:
    if os.environ.get("ZARRLAYER_NO_FAST_BLOSC"):
        return None
    try:
        import blosc
        from blosc import blosc_extension
    except ImportError:
        return None
    blosc.set_releasegil(True)  # decode threads run in parallel; python-blosc's default holds the GIL
    decode: Callable[[Any, int], int] = blosc_extension.decompress_ptr
    return decode


decompress_ptr: Callable[[Any, int], int] | None = _load()
"""`decompress_ptr(chunk, address)`: decode a blosc chunk to `address` (its header's size), or None."""
