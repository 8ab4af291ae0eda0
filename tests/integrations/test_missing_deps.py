"""Without xarray or dask the integrations say which extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

BLOCK = "import sys\nfor name in {names!r}:\n    sys.modules[name] = None\n"


def _run(names: list[str], body: str) -> subprocess.CompletedProcess:
    code = BLOCK.format(names=names) + body
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_xarray_integration_without_xarray():
    proc = _run(["xarray"], "import zarrlayer.integrations.xarray\n")
    assert proc.returncode != 0
    assert "MissingDependencyError" in proc.stderr and 'zarrlayer[xarray]' in proc.stderr


@pytest.mark.parametrize("entry", ["from_zarrlayer", "to_zarrlayer"])
def test_dask_integration_without_dask(entry):
    body = (
        "import zarrlayer.integrations.dask as d\n"
        "from zarrlayer.errors import MissingDependencyError\n"
        "try:\n"
        f"    d.{entry}(None, None)\n"
        "except MissingDependencyError as e:\n"
        "    print('MISSING', e)\n"
    )
    proc = _run(["dask", "dask.array", "dask.base"], body)
    assert proc.returncode == 0, proc.stderr
    assert "MISSING" in proc.stdout and 'zarrlayer[dask]' in proc.stdout
