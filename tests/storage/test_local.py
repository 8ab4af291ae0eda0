"""LocalStore: the StoreTests contract, atomic writes, staying inside the root."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from zarrlayer.core.sync import sync
from zarrlayer.errors import InvalidKeyError, ReadOnlyError, StoreError
from zarrlayer.storage import LocalStore, RangeByteRequest
from zarrlayer.testing import BAD_KEYS, StoreTests


class TestLocalStore(StoreTests):
    store_cls = LocalStore

    @pytest.fixture
    def store_kwargs(self, tmp_path: Path) -> dict[str, object]:
        return {"root": tmp_path / "root"}


def _files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def test_url_root_and_equality(tmp_path: Path) -> None:
    store = LocalStore(str(tmp_path / "r"))
    assert store.url == (tmp_path / "r").resolve().as_uri()
    assert store.root == (tmp_path / "r").resolve()
    assert store == LocalStore(tmp_path / "x" / ".." / "r")
    assert store != LocalStore(tmp_path / "r", read_only=True)
    assert store != LocalStore(tmp_path / "other")
    copy = pickle.loads(pickle.dumps(store.with_read_only(True)))
    assert copy == LocalStore(tmp_path / "r", read_only=True)


def test_values_are_files_under_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    sync(store.set("g/a/c/0", b"chunk"))
    assert (tmp_path / "g" / "a" / "c" / "0").read_bytes() == b"chunk"
    (tmp_path / "g" / "zarr.json").write_bytes(b"{}")
    assert sync(store.get("g/zarr.json")) == b"{}"


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for i in range(5):
        sync(store.set("a/k", bytes([i]) * 1000))
        store.set_sync("b/k", bytes([i]))
        sync(store.set_if_not_exists(f"c/{i}", b"x"))
        sync(store.set_if_not_exists(f"c/{i}", b"y"))
    assert _files(tmp_path) == ["a/k", "b/k"] + [f"c/{i}" for i in range(5)]
    assert (tmp_path / "c" / "3").read_bytes() == b"x"


def test_failed_write_keeps_old_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path)
    sync(store.set("k", b"old value"))

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StoreError, match="'k'"):
        sync(store.set("k", b"new value"))
    monkeypatch.undo()
    assert (tmp_path / "k").read_bytes() == b"old value"
    assert _files(tmp_path) == ["k"]


def test_failed_temp_write_cleans_up(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    sync(store.set("file", b"x"))
    with pytest.raises(StoreError, match="file/child"):
        sync(store.set("file/child", b"y"))
    assert _files(tmp_path) == ["file"]


def test_temp_files_of_writes_in_flight_are_not_listed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    sync(store.set("a/k", b"1"))
    (tmp_path / "a" / ".k.zarrlayer-tmp-0123456789abcdef0123456789abcdef").write_bytes(b"partial")
    assert _keys(store) == ["a/k"]
    assert sync(_collect(store.list_dir("a"))) == ["k"]


@pytest.mark.parametrize("key", BAD_KEYS + ["../outside", "a/../../outside", "../../etc/passwd"], ids=repr)
def test_traversal_never_touches_outside_root(tmp_path: Path, key: str) -> None:
    root = tmp_path / "inner" / "root"
    store = LocalStore(root)
    sync(store.set("ok", b"1"))
    before = _files(tmp_path)
    for call in (lambda: store.set(key, b"evil"), lambda: store.set_if_not_exists(key, b"evil"),
                 lambda: store.delete(key), lambda: store.get(key)):
        with pytest.raises(InvalidKeyError):
            sync(call())
    assert _files(tmp_path) == before


def test_read_only_refuses_before_io(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "never", read_only=True)
    with pytest.raises(ReadOnlyError, match="never"):
        sync(store.set("k", b"v"))
    with pytest.raises(ReadOnlyError):
        store.set_sync("k", b"v")
    with pytest.raises(ReadOnlyError):
        sync(store.clear())
    assert not (tmp_path / "never").exists()


def test_byte_range_reads_only_what_is_asked(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    sync(store.set("big", bytes(range(256)) * 4096))
    assert store.get_sync("big", RangeByteRequest(1000, 1010)) == (bytes(range(256)) * 4096)[1000:1010]


def test_emptied_directories_are_not_listed_and_delete_dir_removes_them(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    sync(store.set("a/b/c/d", b"1"))
    sync(store.set("a/e", b"2"))
    sync(store.delete("a/b/c/d"))
    assert sync(_collect(store.list_dir("a"))) == ["e"]
    assert sync(_collect(store.list_dir(""))) == ["a"]
    assert sync(store.is_empty("a/b")) is True
    sync(store.set("x/y/z", b"1"))
    sync(store.delete_dir("x/y"))
    sync(store.delete_dir("a"))
    assert list(tmp_path.iterdir()) == []


def test_key_that_is_a_directory_is_not_a_value(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    sync(store.set("a/b", b"1"))
    assert sync(store.get("a")) is None
    with pytest.raises(FileNotFoundError):
        sync(store.getsize("a"))
    sync(store.delete("a"))
    assert sync(store.get("a/b")) == b"1"


def _keys(store: LocalStore) -> list[str]:
    return sync(_collect(store.list()))


async def _collect(ait) -> list[str]:  # type: ignore[no-untyped-def]
    return [k async for k in ait]


def test_byte_range_reads_only_the_requested_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from zarrlayer.storage import OffsetByteRequest, SuffixByteRequest
    from zarrlayer.storage import local as local_module

    value = bytes(range(256)) * 4096
    store = LocalStore(tmp_path)
    sync(store.set("big", value))
    reads: list[int] = []

    class _Spy:
        def __init__(self, f) -> None:  # type: ignore[no-untyped-def]
            self._f = f

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc: object) -> None:
            self._f.close()

        def read(self, n: int = -1) -> bytes:
            data = self._f.read(n)
            reads.append(len(data))
            return data

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self._f, name)

    monkeypatch.setattr(local_module, "open", lambda *a, **k: _Spy(builtins.open(*a, **k)), raising=False)
    for request, expected in [(RangeByteRequest(1000, 1010), value[1000:1010]),
                              (SuffixByteRequest(7), value[-7:]), (OffsetByteRequest(len(value) - 3), value[-3:])]:
        reads.clear()
        assert store.get_sync("big", request) == expected
        assert sum(reads) == len(expected)


def test_concurrent_writes_and_pruning_deletes_in_one_directory(tmp_path: Path) -> None:
    import threading

    store = LocalStore(tmp_path)
    errors: list[BaseException] = []

    def churn(name: str) -> None:
        try:
            for i in range(300):
                store.set_sync(f"c/0/{name}", bytes([i % 256]))
                store.delete_sync(f"c/0/{name}")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=churn, args=(str(n),)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _keys(store) == []
