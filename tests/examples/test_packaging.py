"""Packaging as the ecosystem expects: SPDX licence and LICENSE file, one version, URLs, classifiers, py.typed,
every package shipped; and a suite that needs nothing outside the repository."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

import zarrlayer

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def test_license_is_an_spdx_expression_with_its_file() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "zarrlayer developers" in text
    requires = PYPROJECT["build-system"]["requires"]
    lower = [int(m.group(1)) for r in requires if (m := re.match(r"setuptools>=(\d+)", r))]
    assert lower and lower[0] >= 77, f"PEP 639 license fields need setuptools>=77, found {requires}"


def test_version_has_one_source() -> None:
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "zarrlayer.__version__"}
    assert importlib.metadata.version("zarrlayer") == zarrlayer.__version__
    written = [p for p in (ROOT / "zarrlayer").rglob("*.py") if re.search(r"^__version__\s*=", p.read_text(), re.M)]
    assert written == [ROOT / "zarrlayer" / "__init__.py"]


def test_urls_and_classifiers() -> None:
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(PROJECT["urls"])
    versions = {c.rsplit(":: ", 1)[1] for c in PROJECT["classifiers"] if c.startswith("Programming Language :: Python :: 3.")}
    assert versions == {"3.11", "3.12", "3.13"}
    assert PROJECT["requires-python"] == ">=3.11"
    assert "Typing :: Typed" in PROJECT["classifiers"]


def test_py_typed_and_every_package_are_shipped() -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert (ROOT / "zarrlayer" / "py.typed").is_file()
    assert "py.typed" in setuptools["package-data"]["zarrlayer"]
    on_disk = {
        ".".join(("zarrlayer", *p.parent.relative_to(ROOT / "zarrlayer").parts)).rstrip(".")
        for p in (ROOT / "zarrlayer").rglob("__init__.py")
    } | {"zarrlayer.integrations"}
    assert on_disk == set(setuptools["packages"]), "pyproject's package list differs from the package directories"


def test_nothing_tracked_refers_to_data_outside_the_repository() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    pattern = re.compile(r"\.\./shared|shared/interop")
    found = []
    for name in tracked.decode().split("\0"):
        path = ROOT / name
        if not name or not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if path != Path(__file__) and pattern.search(text):
            found.append(name)
    assert not found, f"these files need data outside the repository: {found}"
