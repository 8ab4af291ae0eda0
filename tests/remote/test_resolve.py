"""Implicit creation: remote URLs become FsspecStore (or ObjectStore when configured); missing
backends raise ImportError naming the extra to install."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from zarrlayer import config
from zarrlayer.core.sync import sync
from zarrlayer.errors import MissingDependencyError
from zarrlayer.storage.fsspec import FsspecStore
from zarrlayer.storage.obstore import ObjectStore
from zarrlayer.storage.resolve import make_store
from zarrlayer.testing.servers import http_server, obstore_s3_options, s3fs_options


@pytest.mark.parametrize(("mode", "read_only"), [("r", True), ("r+", False), ("a", False), (None, False)])
def test_s3_url_makes_an_fsspec_store(s3_endpoint: str, s3_root: str, mode: str | None, read_only: bool) -> None:
    store = make_store(f"s3://{s3_root}", mode=mode, storage_options=s3fs_options(s3_endpoint))  # type: ignore[arg-type]
    assert isinstance(store, FsspecStore)
    assert store.read_only is read_only
    assert store.url == f"s3://{s3_root}"


@pytest.mark.parametrize(("mode", "read_only"), [("r", True), ("a", False)])
def test_obstore_backend_setting_makes_an_object_store(s3_endpoint: str, s3_root: str, mode: str, read_only: bool) -> None:
    with config.override(remote_backend="obstore"):
        store = make_store(f"s3://{s3_root}", mode=mode, storage_options=obstore_s3_options(s3_endpoint))  # type: ignore[arg-type]
    assert isinstance(store, ObjectStore)
    assert store.read_only is read_only
    assert store.url == f"s3://{s3_root}"


def test_s3fs_style_options_work_with_the_obstore_backend(s3_endpoint: str, s3_root: str) -> None:
    writer = make_store(f"s3://{s3_root}", mode="a", storage_options=s3fs_options(s3_endpoint))
    sync(writer.set("zarr.json", b'{"node_type": "group"}'))
    with config.override(remote_backend="obstore"):
        store = make_store(f"s3://{s3_root}", mode="r", storage_options=s3fs_options(s3_endpoint))
    assert isinstance(store, ObjectStore)
    assert bytes(sync(store.get("zarr.json"))) == b'{"node_type": "group"}'


def test_http_url_makes_a_read_only_fsspec_store(tmp_path: Path) -> None:
    with http_server(tmp_path) as server:
        store = make_store(f"{server.url}/data.zarr", mode="r")
        assert isinstance(store, FsspecStore) and store.read_only
        assert store.url == f"{server.url}/data.zarr"


def test_chained_url_makes_an_fsspec_store_even_with_the_obstore_backend(s3_endpoint: str, s3_root: str) -> None:
    options = {"s3": s3fs_options(s3_endpoint)}
    with config.override(remote_backend="obstore"):
        store = make_store(f"simplecache::s3://{s3_root}", mode="r", storage_options=options)
    assert isinstance(store, FsspecStore) and store.read_only


@pytest.mark.parametrize(
    ("url", "package", "extra"),
    [("s3://bucket/x.zarr", "s3fs", "s3"), ("gs://bucket/x.zarr", "gcsfs", "gcs"),
     ("az://container/x.zarr", "adlfs", "azure"), ("abfs://container/x.zarr", "adlfs", "azure")],
)
def test_missing_fsspec_backend_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, package: str, extra: str
) -> None:
    registry = importlib.import_module("fsspec.registry")
    monkeypatch.delitem(registry._registry, url.split("://")[0], raising=False)
    monkeypatch.setitem(sys.modules, package, None)  # importing it now fails, as when not installed
    with pytest.raises(ImportError) as info:
        make_store(url, mode="r")
    assert isinstance(info.value, MissingDependencyError)
    assert f"zarrlayer[{extra}]" in str(info.value) and package in str(info.value)


def test_missing_obstore_names_the_obstore_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "obstore", None)
    monkeypatch.setitem(sys.modules, "obstore.store", None)
    with config.override(remote_backend="obstore"):
        with pytest.raises(MissingDependencyError, match=r"zarrlayer\[obstore\]"):
            make_store("s3://bucket/x.zarr", mode="r")
