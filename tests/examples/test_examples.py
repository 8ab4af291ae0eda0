"""Every script in examples/ runs in a fresh interpreter, exits 0 and prints its key line.

A new example is picked up automatically: it must either be listed in KEY_LINES or end
its output with a line '<what it showed>: OK'.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

KEY_LINES = {
    "implicit_creation.py": "http:// URL   -> FsspecStore, x = [0 1 2 3]",
    "local_store.py": "write through a read-only store -> ReadOnlyError",
    "zip_store.py": "duplicate entries: 0",
    "memory_store.py": "diagonal read from a pickled copy: [1, 1, 1, 1]",
    "fsspec_store.py": "arrays in the bucket: ['wind']",
    "object_store.py": "read back through obstore: sum = 499500",
    "custom_store.py": "and refuses writes:",
    "caching.py": "fresh open, read from the disk cache: 0 requests to the server",
    "xarray_engine.py": "identical to what was written: True",
    "dask_distributed.py": "workers: 2",
}


def _scripts() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def test_every_listed_example_exists() -> None:
    assert set(KEY_LINES) <= set(_scripts()), sorted(set(KEY_LINES) - set(_scripts()))


@pytest.mark.parametrize("script", _scripts())
def test_example_runs(script: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=240
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    lines = result.stdout.splitlines()
    if script in KEY_LINES:
        assert any(KEY_LINES[script] in line for line in lines), f"{script} did not print {KEY_LINES[script]!r}:\n{result.stdout}"
    else:
        assert lines and lines[-1].endswith(": OK"), f"{script} must end its output with '<what>: OK':\n{result.stdout}"
    assert not [p for p in tmp_path.iterdir() if p.name != "cache"], "examples must clean up what they write"
