"""The zarrlayer.storage package: what it exports, and that importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import zarrlayer.storage as storage


def test_exports() -> None:
    for name in ("Store", "MemoryStore", "LocalStore", "ZipStore", "WrapperStore", "StorePath", "make_store",
                 "make_store_path", "RangeByteRequest", "OffsetByteRequest", "SuffixByteRequest", "ByteRequest",
                 "SyncStore", "direct_children"):
        assert name in storage.__all__ and getattr(storage, name) is not None


def test_remote_stores_resolve_lazily() -> None:
    from zarrlayer.storage.fsspec import FsspecStore
    from zarrlayer.storage.obstore import ObjectStore

    assert storage.FsspecStore is FsspecStore and storage.ObjectStore is ObjectStore
    with pytest.raises(AttributeError, match="NoSuchStore"):
        storage.NoSuchStore  # noqa: B018


def test_import_does_not_load_remote_or_integration_packages() -> None:
    code = (
        "import sys, zarrlayer.storage\n"
        "from zarrlayer.storage import *\n"
        "heavy = [m for m in ('s3fs', 'obstore', 'aiohttp', 'xarray', 'dask', 'zarrlayer.storage.fsspec') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_a_regular_install_ships_every_subpackage() -> None:
    """A non-editable install copies only the listed packages: every package directory must be listed."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    setup = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = setup["package-dir"]
    assert mapping["zarrlayer.integrations"] == "integrations" and mapping["zarrlayer"] == "zarrlayer"
    found = {
        ".".join(init.parent.relative_to(root).parts) for init in (root / "zarrlayer").rglob("__init__.py")
    } | {"zarrlayer.integrations"}
    assert (root / "integrations" / "__init__.py").is_file()
    assert found == set(setup["packages"])
