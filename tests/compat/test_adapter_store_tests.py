"""zarrlayer's own StoreTests on zarr-python stores seen through the adapter (`ZarrPythonStore`).

What zarrlayer's engine, caches and integrations rely on of a store also holds for a
zarr-python store passed to them: keys validated before zarr-python sees them, byte
ranges as Python slices, None for missing keys, read-only refusals before any I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import zarr

from zarrlayer.compat import ZarrPythonStore
from zarrlayer.testing import StoreTests


class TestAdaptedZarrMemoryStore(StoreTests):
    pickle_shares_data = False

    @pytest.fixture
    def store(self) -> Iterator[ZarrPythonStore]:
        yield ZarrPythonStore(zarr.storage.MemoryStore())


class TestAdaptedZarrLocalStore(StoreTests):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[ZarrPythonStore]:
        (tmp_path / "root").mkdir()
        yield ZarrPythonStore(zarr.storage.LocalStore(tmp_path / "root"))
