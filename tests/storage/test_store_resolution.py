"""Implicit store creation: the make_store matrix, modes, storage_options, StorePath."""

from __future__ import annotations

import pickle
import re
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

from zarrlayer import config
from zarrlayer.core.sync import sync
from zarrlayer.errors import (
    ContainsArrayError,
    ContainsGroupError,
    InvalidKeyError,
    MissingDependencyError,
    ModeError,
    NodeExistsError,
    NodeNotFoundError,
)
from zarrlayer.storage import LocalStore, MemoryStore, StorePath, ZipStore, make_store, make_store_path
from zarrlayer.storage.resolve import apply_mode, check_mode, normalize_mode


@pytest.fixture
def memory_name() -> str:
    name = f"resolve-{uuid.uuid4().hex}"
    yield name
    MemoryStore.drop_named(name)


@pytest.mark.parametrize("as_type", [str, Path, lambda p: Path(p).as_uri()])
@pytest.mark.parametrize(("mode", "read_only"), [(None, False), ("a", False), ("w", False), ("w-", False), ("x", False)])
def test_local_paths_make_local_stores(tmp_path: Path, as_type, mode, read_only) -> None:  # type: ignore[no-untyped-def]
    store = make_store(as_type(str(tmp_path / "d.zarr")), mode=mode)
    assert isinstance(store, LocalStore) and store.read_only is read_only
    assert store.root == (tmp_path / "d.zarr").resolve()


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_existing_local_path_for_r_and_r_plus(tmp_path: Path, mode: str) -> None:
    store = make_store(tmp_path, mode=mode)  # type: ignore[arg-type]
    assert isinstance(store, LocalStore) and store.read_only is (mode == "r")


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_missing_local_path_for_r_and_r_plus(tmp_path: Path, mode: str) -> None:
    for target in (tmp_path / "missing.zarr", tmp_path / "missing.zip"):
        with pytest.raises(NodeNotFoundError, match="missing"):
            make_store(target, mode=mode)  # type: ignore[arg-type]
        with pytest.raises(FileNotFoundError):
            make_store_path(str(target), mode=mode)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("mode", "zip_mode", "read_only"),
    [(None, "a", False), ("a", "a", False), ("r+", "a", False), ("w", "w", False), ("w-", "a", False), ("r", "r", True)],
)
def test_zip_paths_make_zip_stores(tmp_path: Path, mode, zip_mode, read_only) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "d.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("k", b"v")
    store = make_store(str(path), mode=mode)
    assert isinstance(store, ZipStore) and store.read_only is read_only
    assert sync(store.get("k")) == (None if zip_mode == "w" else b"v")
    store.close()


def test_zip_detected_by_content_and_directories_named_zip_stay_local(tmp_path: Path) -> None:
    archive = tmp_path / "archive.bin"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("k", b"v")
    assert isinstance(make_store(archive, mode="r"), ZipStore)
    (tmp_path / "dir.zip").mkdir()
    assert isinstance(make_store(tmp_path / "dir.zip"), LocalStore)
    (tmp_path / "plain.txt").write_bytes(b"text")
    with pytest.raises(NodeNotFoundError, match="plain.txt"):
        make_store(tmp_path / "plain.txt")


def test_dicts_and_none_make_memory_stores() -> None:
    d = {"k": b"v"}
    store = make_store(d)
    assert isinstance(store, MemoryStore) and store.store_dict is d
    assert make_store(d, mode="r").read_only is True
    assert isinstance(make_store(None), MemoryStore)


def test_memory_urls_share_one_named_store(memory_name: str) -> None:
    with pytest.raises(NodeNotFoundError):
        make_store(f"memory://{memory_name}", mode="r")
    writer = make_store(f"memory://{memory_name}", mode="w")
    sync(writer.set("g/k", b"v"))
    reader = make_store(f"memory://{memory_name}", mode="r")
    assert reader.read_only and sync(reader.get("g/k")) == b"v"
    assert make_store(f"memory://{memory_name}") == writer
    sp = make_store_path(f"memory://{memory_name}/g", path="k")
    assert sp.path == "g/k" and sync(sp.get()) == b"v"


def test_store_instances_and_modes() -> None:
    store = MemoryStore()
    assert make_store(store) is store
    assert make_store(store, mode="a") is store
    view = make_store(store, mode="r")
    assert view.read_only and view == store.with_read_only(True)
    for mode in ("r+", "a", "w", "w-"):
        with pytest.raises(ModeError, match="read-only"):
            make_store(view, mode=mode)  # type: ignore[arg-type]
    assert make_store(view, mode="r") is view


@pytest.mark.parametrize("mode", ["rw", "W", "+", "", "read"])
def test_unknown_modes(tmp_path: Path, mode: str) -> None:
    with pytest.raises(ModeError, match=re.escape(f"found {mode!r}")):
        make_store(tmp_path / "x", mode=mode)  # type: ignore[arg-type]
    with pytest.raises(ModeError):
        make_store_path({}, mode=mode)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_mode_x_is_w_minus() -> None:
    assert normalize_mode("x") == "w-" and normalize_mode(None) is None


@pytest.mark.parametrize(
    "store_like", [lambda p: str(p), lambda p: p, lambda p: {}, lambda p: MemoryStore(),
                   lambda p: StorePath(MemoryStore()), lambda p: None, lambda p: "memory://opts-test"],
)
def test_unused_storage_options_are_type_errors(tmp_path: Path, store_like) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match="storage_options"):
        make_store(store_like(tmp_path / "x"), storage_options={"anon": True})
    with pytest.raises(TypeError, match="storage_options"):
        make_store_path(store_like(tmp_path / "x"), storage_options={"anon": True})
    assert not (tmp_path / "x").exists()
    assert not MemoryStore.is_named("opts-test")


def test_unsupported_types() -> None:
    with pytest.raises(TypeError, match="int"):
        make_store(42)  # type: ignore[arg-type]


def test_remote_urls_go_to_fsspec_by_default() -> None:
    from zarrlayer.storage.fsspec import FsspecStore

    store = make_store("http://127.0.0.1:9/data.zarr", mode="r")
    assert isinstance(store, FsspecStore) and store.read_only


def test_remote_urls_go_to_obstore_when_configured() -> None:
    from zarrlayer.storage.obstore import ObjectStore

    with config.override(remote_backend="obstore"):
        store = make_store("http://127.0.0.1:9/data.zarr", mode="a")
    assert isinstance(store, ObjectStore) and not store.read_only


def test_missing_remote_module_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zarrlayer.storage.fsspec", None)
    with pytest.raises(MissingDependencyError, match="FsspecStore"):
        make_store("s3://bucket/data.zarr")


def test_store_path_joins_and_normalizes() -> None:
    store = MemoryStore()
    sp = StorePath(store, "/a/b/")
    assert sp.path == "a/b"
    assert (sp / "c" / "d").path == "a/b/c/d"
    assert (StorePath(store) / "x").path == "x"
    assert sp / "" == sp and (sp / "c") != sp
    assert sp.key("zarr.json") == "a/b/zarr.json" and sp.prefix == "a/b/"
    assert StorePath(store, "a/b") == sp and hash(StorePath(store, "a/b")) == hash(sp)
    assert "a/b" in repr(sp) and str(sp).endswith("/a/b")
    for bad in ("../x", "a//b", "a/./b", "a\\b"):
        with pytest.raises(InvalidKeyError):
            StorePath(store, bad)
        with pytest.raises(InvalidKeyError):
            sp / bad


def test_store_path_io_is_relative() -> None:
    d: dict[str, bytes] = {}
    sp = StorePath(MemoryStore(d), "g") / "a"
    sync(sp.set("zarr.json", b"{}"))
    assert d == {"g/a/zarr.json": b"{}"}
    assert sync(sp.exists("zarr.json")) and sync((sp / "zarr.json").get()) == b"{}"
    sync(sp.delete("zarr.json"))
    assert d == {} and sync(sp.is_empty())
    with pytest.raises(InvalidKeyError):
        sync(StorePath(MemoryStore()).get())


def test_store_path_pickles(memory_name: str) -> None:
    sp = make_store_path(f"memory://{memory_name}", path="a/b")
    copy = pickle.loads(pickle.dumps(sp))
    assert copy == sp and copy.store.store_dict is sp.store.store_dict


def test_make_store_path_from_store_path_applies_mode() -> None:
    base = StorePath(MemoryStore(), "g")
    sp = make_store_path(base, path="a", mode="r")
    assert sp.path == "g/a" and sp.store.read_only


def _group(store: MemoryStore, path: str, kind: str) -> None:
    sync(store.set(f"{path}/zarr.json", f'{{"zarr_format": 3, "node_type": "{kind}"}}'.encode()))


def test_check_mode_w_minus() -> None:
    store = MemoryStore()
    _group(store, "g", "group")
    _group(store, "a", "array")
    sync(store.set("v2/.zarray", b"{}"))
    sync(store.set("v2g/.zgroup", b"{}"))
    sync(store.set("stray/c/0", b"x"))
    for path, error in [("g", ContainsGroupError), ("a", ContainsArrayError), ("v2", ContainsArrayError),
                        ("v2g", ContainsGroupError), ("stray", NodeExistsError)]:
        with pytest.raises(error, match=path):
            sync(check_mode(StorePath(store, path), "w-"))
        with pytest.raises(error):
            sync(apply_mode(StorePath(store, path), "x"))
    sync(check_mode(StorePath(store, "free"), "w-"))
    for mode in (None, "r", "r+", "a", "w"):
        sync(check_mode(StorePath(store, "g"), mode))  # type: ignore[arg-type]
    assert sync(store.exists("g/zarr.json"))


def test_apply_mode_w_clears_only_the_path() -> None:
    store = MemoryStore()
    _group(store, "g", "group")
    sync(store.set("g/x/c/0", b"1"))
    sync(store.set("gg/k", b"2"))
    sync(apply_mode(StorePath(store, "g"), "w"))
    assert store.store_dict == {"gg/k": b"2"}
    sync(apply_mode(StorePath(store, "gg"), "a"))
    assert store.store_dict == {"gg/k": b"2"}
