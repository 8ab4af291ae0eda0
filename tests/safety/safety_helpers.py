"""Helpers of the safety tests: a byte-exact snapshot of a directory tree."""

from __future__ import annotations

import os
from pathlib import Path


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every entry below `root` (links not followed): file bytes, or 'dir' / 'link -> target'."""
    out: dict[str, bytes | str] = {}
    if not os.path.lexists(root):
        return out
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(directory, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = f"link -> {os.readlink(path)}"
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = path.read_bytes()
    return out
