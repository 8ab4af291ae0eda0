"""Fixtures of the safety tests: a small hierarchy on disk and a byte-exact snapshot of a tree."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))


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


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A v3 hierarchy at tmp_path/data.zarr (12 files: sharded array, group, small array)."""
    from cli_helpers import build_sample

    path = tmp_path / "data.zarr"
    build_sample(path)
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261201)
