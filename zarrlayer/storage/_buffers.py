"""Turning any contiguous buffer a caller hands a store into bytes, with clear errors."""

from __future__ import annotations

from typing import Any

__all__ = ["as_byte_view", "to_bytes"]


def as_byte_view(value: Any, *, key: str, url: str) -> memoryview:
    """A flat unsigned-byte view of `value` (copied to C order when it is not contiguous)."""
    try:
        view = memoryview(value)
    except TypeError:
        raise TypeError(
            f"expected a bytes-like value (bytes, bytearray, memoryview, numpy array) for key "
            f"{key!r} in store {url}, found {type(value).__name__}"
        ) from None
    if not view.c_contiguous or view.nbytes == 0:
        view = memoryview(view.tobytes())
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def to_bytes(value: Any, *, key: str, url: str) -> bytes:
    """An immutable copy of `value`'s bytes (so later changes to the caller's buffer can't leak in)."""
    if type(value) is bytes:
        return value
    return as_byte_view(value, key=key, url=url).tobytes()
