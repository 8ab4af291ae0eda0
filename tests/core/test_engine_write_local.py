"""LocalStore.set_many_sync, the batch write the chunk engine uses (issue 15): atomic per key, same guards as set_sync."""

from __future__ import annotations

import os

import numpy as np
import pytest

import zarrlayer
from zarrlayer.errors import InvalidKeyError, ReadOnlyError, StoreError
from zarrlayer.storage import local
from zarrlayer.storage.local import LocalStore


def _reused(items: list[tuple[str, bytes]]):
    """Yield each value through one reused bytearray, as the encoder does."""
    buffer = bytearray(max(len(v) for _, v in items))
    for key, value in items:
        buffer[: len(value)] = value
        yield key, memoryview(buffer)[: len(value)]


def _files(root) -> dict[str, bytes]:
    out = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root).replace(os.sep, "/")] = f.read()
    return out


@pytest.fixture
def counted(monkeypatch):
    """Counts the keys LocalStore.set_sync writes (the first of each directory; the rest go through the open directory)."""
    keys: list[str] = []
    original = LocalStore.set_sync

    def set_sync(self, key, value):
        keys.append(key)
        return original(self, key, value)

    monkeypatch.setattr(LocalStore, "set_sync", set_sync)
    return keys


@pytest.mark.skipif(not local._DIR_FD_WRITES, reason="no dir_fd support on this platform")
def test_values_land_whole_through_one_reused_buffer(tmp_path, counted):
    store = LocalStore(tmp_path)
    items = [(f"c/{i}/{j}", bytes([i, j]) * (10 + 7 * j)) for i in range(3) for j in range(5)] + [("zarr.json", b"{}")]
    store.set_many_sync(_reused(items))
    assert _files(tmp_path) == dict(items)
    assert counted == ["c/0/0", "c/1/0", "c/2/0", "zarr.json"]  # the rest went through the directory's descriptor


def test_overwrites_and_leaves_no_temporary_files(tmp_path):
    store = LocalStore(tmp_path)
    store.set_many_sync(_reused([("a/x", b"old"), ("a/y", b"old")]))
    store.set_many_sync(_reused([("a/x", b"new value"), ("a/y", b"new")]))
    assert _files(tmp_path) == {"a/x": b"new value", "a/y": b"new"}


def test_a_directory_removed_mid_batch_is_created_again(tmp_path):
    store = LocalStore(tmp_path)
    import shutil

    def items():
        yield "d/1", b"one"
        yield "d/2", b"two"  # from here the directory is open
        shutil.rmtree(tmp_path / "d")
        yield "d/3", b"three"
        yield "d/4", b"four"

    store.set_many_sync(items())
    assert _files(tmp_path) == {"d/3": b"three", "d/4": b"four"}


def test_bad_keys_and_links_are_refused_before_any_write(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    (root / "g").mkdir(parents=True)
    os.symlink(outside, root / "g" / "link")
    store = LocalStore(root)
    with pytest.raises(InvalidKeyError):
        store.set_many_sync([("a/1", b"x"), ("a/2", b"y"), ("a/../../escape", b"z")])
    with pytest.raises(InvalidKeyError):
        store.set_many_sync([("a/1", b"x"), ("a/2", b"y"), ("a/..", b"z")])  # same directory as the key before
    with pytest.raises(InvalidKeyError):
        store.set_many_sync([("g/link/1", b"x"), ("g/link/2", b"y")])
    assert list(outside.iterdir()) == []
    assert _files(root) == {"a/1": b"x", "a/2": b"y"}
    with pytest.raises(ReadOnlyError):
        LocalStore(root, read_only=True).set_many_sync([("a/3", b"x")])


def test_a_failed_rename_names_the_key_and_removes_its_temporary_file(tmp_path):
    store = LocalStore(tmp_path)
    (tmp_path / "a" / "taken").mkdir(parents=True)
    (tmp_path / "a" / "taken" / "inner").write_bytes(b"keep")
    with pytest.raises(StoreError, match="'a/taken'"):
        store.set_many_sync([("a/first", b"1"), ("a/taken", b"2")])
    assert _files(tmp_path) == {"a/first": b"1", "a/taken/inner": b"keep"}


def test_the_engine_writes_local_chunks_through_set_many_sync(tmp_path, monkeypatch):
    calls = []
    original = LocalStore.set_many_sync

    def spy(self, items):
        calls.append(1)
        return original(self, items)

    monkeypatch.setattr(LocalStore, "set_many_sync", spy)
    value = np.arange(64 * 64, dtype="<f4").reshape(64, 64)
    arr = zarrlayer.create_array(store=str(tmp_path / "a.zarr"), shape=value.shape, chunks=(8, 8), dtype="<f4", fill_value=0, zarr_format=3)
    arr[...] = value
    assert calls
    assert np.array_equal(zarrlayer.open_array(store=str(tmp_path / "a.zarr"))[...], value)
