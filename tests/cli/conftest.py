"""Fixtures of the CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_helpers import build_sample


@pytest.fixture
def sample(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A small real hierarchy at tmp_path/src.zarr and the data it holds."""
    path = tmp_path / "src.zarr"
    return path, build_sample(path)
