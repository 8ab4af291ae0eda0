"""Small text formatting shared by the CLI and the demo."""

from __future__ import annotations

__all__ = ["human_bytes"]


def human_bytes(nbytes: float) -> str:
    """`nbytes` as B, KiB, MiB, GiB or TiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(nbytes) < 1024:
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"
