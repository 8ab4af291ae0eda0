"""The SQLite store of examples/custom_store.py passes StoreTests, and its demo runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from zarrlayer.testing import StoreTests

_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_store.py"


def _load_example():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("zarrlayer_example_custom_store", _EXAMPLE)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


SQLiteStore = _load_example().SQLiteStore


class TestSQLiteStore(StoreTests):
    @pytest.fixture
    def store(self, tmp_path: Path):  # type: ignore[no-untyped-def]
        store = SQLiteStore(tmp_path / "kv.sqlite")
        yield store
        store.close()


def test_demo_runs(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(_EXAMPLE)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "bytes 2..5 of chunk 3: b' !\"'" in result.stdout
    assert "refuses writes" in result.stdout
