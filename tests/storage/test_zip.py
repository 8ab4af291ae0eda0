"""ZipStore: the StoreTests contract, no duplicate entries, hostile archives, modes."""

from __future__ import annotations

import pickle
import threading
import zipfile
from pathlib import Path

import pytest

from zarrlayer.core.sync import sync
from zarrlayer.errors import ModeError, ReadOnlyError, StoreError
from zarrlayer.storage import RangeByteRequest, SuffixByteRequest
from zarrlayer.storage.zip import ZipStore
from zarrlayer.testing import STORE_DATA, ReadOnlyStoreTests, StoreTests


class TestZipStore(StoreTests):
    pickle_shares_data = False
    pickle_compares_equal = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> ZipStore:
        store = ZipStore(tmp_path / "data.zip", mode="w")
        yield store
        store.close()


class TestDeflatedZipStore(StoreTests):
    pickle_shares_data = False
    pickle_compares_equal = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> ZipStore:
        store = ZipStore(tmp_path / "data.zip", mode="a", compression=zipfile.ZIP_DEFLATED)
        yield store
        store.close()


class TestReadOnlyZipStore(ReadOnlyStoreTests):
    @pytest.fixture
    def populated_store(self, tmp_path: Path) -> ZipStore:
        path = tmp_path / "data.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("a/", b"")
            for key, value in STORE_DATA.items():
                zf.writestr(key, value)
        return ZipStore(path)


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return [i.filename for i in zf.infolist()]


def test_rewrite_and_delete_leave_no_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    store = ZipStore(path, mode="w")
    for i in range(3):
        sync(store.set("a/zarr.json", f"v{i}".encode()))
        sync(store.set(f"a/c/{i}", b"chunk"))
    sync(store.delete("a/c/1"))
    assert sync(store.get("a/zarr.json")) == b"v2"
    store.close()
    assert sorted(_names(path)) == ["a/c/0", "a/c/2", "a/zarr.json"]
    with zipfile.ZipFile(path) as zf:
        assert zf.read("a/zarr.json") == b"v2"


def test_reopen_append_rewrite_keeps_one_entry(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("k", b"old")
        zf.writestr("other", b"1")
    store = ZipStore(path, mode="a")
    sync(store.set("k", b"new"))
    store.close()
    assert sorted(_names(path)) == ["k", "other"]
    assert sync(ZipStore(path).get("k")) == b"new"


def test_foreign_duplicates_read_last_and_vanish_once_written(tmp_path: Path) -> None:
    path = tmp_path / "dup.zip"
    with zipfile.ZipFile(path, "w") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("k", b"first")
        zf.writestr("k", b"second")
    assert sync(ZipStore(path).get("k")) == b"second"
    reader = ZipStore(path, mode="a")
    assert sync(reader.get("k")) == b"second"
    reader.close()
    assert _names(path) == ["k", "k"]
    writer = ZipStore(path, mode="a")
    sync(writer.set("other", b"1"))
    writer.close()
    assert sorted(_names(path)) == ["k", "other"]
    assert sync(ZipStore(path).get("k")) == b"second"


def test_delete_dir_and_clear_compact(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    store = ZipStore(path, mode="w")
    for key, value in STORE_DATA.items():
        sync(store.set(key, value))
    sync(store.delete_dir("a"))
    store.close()
    assert sorted(_names(path)) == ["ab/.zarray", "ab/0.0", "zarr.json"]
    store = ZipStore(path, mode="a")
    sync(store.clear())
    store.close()
    assert _names(path) == []


def test_archive_is_readable_by_zipfile_after_close(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    store = ZipStore(path, mode="w", compression=zipfile.ZIP_DEFLATED)
    sync(store.set("a/b", b"z" * 10000))
    store.close()
    store.close()
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("a/b").compress_type == zipfile.ZIP_DEFLATED
        assert zf.read("a/b") == b"z" * 10000


@pytest.mark.parametrize("name", ["../evil", "/abs", "a/../../evil", "a\\..\\evil", "C:/evil", "C:evil", "a//b"])
def test_malicious_entry_names_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok", b"fine")
        zf.writestr(zipfile.ZipInfo(name), b"payload")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for mode in ("r", "a"):
        store = ZipStore(path, mode=mode)  # type: ignore[arg-type]
        with pytest.raises(StoreError) as info:
            sync(store.get("ok"))
        assert repr(name) in str(info.value)
        if mode == "a":
            with pytest.raises(StoreError):
                sync(store.set("new", b"x"))
            store.close()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_modes(tmp_path: Path) -> None:
    path = tmp_path / "m.zip"
    with pytest.raises(FileNotFoundError):
        ZipStore(path, mode="r")
    store = ZipStore(path, mode="x")
    sync(store.set("k", b"1"))
    store.close()
    with pytest.raises(FileExistsError):
        ZipStore(path, mode="x")
    reader = ZipStore(path)
    assert reader.read_only and sync(reader.get("k")) == b"1"
    with pytest.raises(ReadOnlyError):
        sync(reader.set("k", b"2"))
    appender = ZipStore(path, mode="a")
    sync(appender.set("j", b"2"))
    appender.close()
    assert sorted(_names(path)) == ["j", "k"]
    ZipStore(path, mode="w").flush()
    assert _names(path) == []


def test_contradictory_or_unknown_modes(tmp_path: Path) -> None:
    with pytest.raises(ModeError):
        ZipStore(tmp_path / "a.zip", mode="r+")  # type: ignore[arg-type]
    with pytest.raises(ModeError):
        ZipStore(tmp_path / "a.zip", mode="w", read_only=True)
    (tmp_path / "b.zip").write_bytes(b"")
    with pytest.raises(ModeError):
        ZipStore(tmp_path / "b.zip", mode="r", read_only=False)
    assert not (tmp_path / "a.zip").exists()


def test_not_a_zip_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "fake.zip"
    path.write_bytes(b"not a zip at all")
    for mode in ("r", "a"):
        with pytest.raises(StoreError, match="fake.zip"):
            sync(ZipStore(path, mode=mode).get("k"))  # type: ignore[arg-type]
    assert path.read_bytes() == b"not a zip at all"


@pytest.mark.parametrize("read_only", [True, False])
def test_reads_of_a_missing_archive_create_nothing(tmp_path: Path, read_only: bool) -> None:
    store = ZipStore(tmp_path / "none.zip", mode="a", read_only=read_only)
    assert sync(store.get("k")) is None and sync(store.is_empty()) and not sync(store.exists("k"))
    if not read_only:
        sync(store.delete("k"))
        sync(store.clear())
    store.close()
    assert not (tmp_path / "none.zip").exists()
    if not read_only:
        sync(store.set("k", b"v"))
        store.close()
        assert _names(tmp_path / "none.zip") == ["k"]


def test_pickle_commits_and_reopens_lazily(tmp_path: Path) -> None:
    store = ZipStore(tmp_path / "p.zip", mode="w")
    sync(store.set("k", b"v"))
    data = pickle.dumps(store)
    assert b"ZipFile" not in data
    copy = pickle.loads(data)
    assert copy == store and sync(copy.get("k")) == b"v"
    sync(store.set("k2", b"v2"))
    assert sync(store.get("k")) == b"v"
    store.close()
    assert sorted(_names(tmp_path / "p.zip")) == ["k", "k2"]


def test_stored_byte_ranges_come_from_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "r.zip"
    value = bytes(range(256)) * 100
    store = ZipStore(path, mode="w")
    sync(store.set("first", b"abc"))
    sync(store.set("v", value))
    assert sync(store.get("v", RangeByteRequest(300, 310))) == value[300:310]
    sync(store.set("v", value[::-1]))
    assert sync(store.get("v", SuffixByteRequest(4))) == value[::-1][-4:]
    store.close()
    reader = ZipStore(path)
    assert sync(reader.get("v", RangeByteRequest(1, 5))) == value[::-1][1:5]


def test_stored_byte_ranges_do_not_read_whole_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.zip"
    value = bytes(range(256)) * 100
    store = ZipStore(path, mode="w")
    sync(store.set("v", value))
    store.close()

    def whole_entry_read(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("a byte range of a stored entry read the whole entry")

    monkeypatch.setattr(zipfile.ZipFile, "read", whole_entry_read)
    reader = ZipStore(path)
    assert sync(reader.get("v", RangeByteRequest(300, 310))) == value[300:310]
    assert reader.get_sync("v", SuffixByteRequest(3)) == value[-3:]


def test_threads_share_one_archive(tmp_path: Path) -> None:
    path = tmp_path / "t.zip"
    store = ZipStore(path, mode="w")
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(20):
                store.set_sync(f"{t}/{i}", bytes([t, i]) * 50)
                assert store.get_sync(f"{t}/{i // 2}", RangeByteRequest(0, 2)) == bytes([t, i // 2])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store.close()
    assert len(_names(path)) == 80


def test_rewrites_after_delete_raise_no_duplicate_name_warning(tmp_path: Path) -> None:
    import warnings

    store = ZipStore(tmp_path / "w.zip", mode="w")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sync(store.set("a", b"1"))
        sync(store.set("a", b"2"))
        sync(store.delete("a"))
        sync(store.set("a", b"3"))
        store.close()
    with zipfile.ZipFile(tmp_path / "w.zip") as zf:
        assert zf.namelist() == ["a"] and zf.read("a") == b"3"
