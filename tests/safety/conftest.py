"""Fixtures of the safety tests: a small hierarchy on disk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A v3 hierarchy at tmp_path/data.zarr (12 files: sharded array, group, small array)."""
    from cli_helpers import build_sample

    path = tmp_path / "data.zarr"
    build_sample(path)
    return path
