"""ZipStore: close() is a plain call, checkpoints, updates that a crash cannot break, drive-letter names.

A writer "killed" here is simulated by copying the archive file while the writer still holds it
open (what a SIGKILL leaves on disk: everything written so far, no central directory written
since the last checkpoint); tests/crash/ kills real processes.
"""

from __future__ import annotations

import inspect
import shutil
import zipfile
from pathlib import Path

import pytest

from zarrlayer.core.sync import sync
from zarrlayer.errors import InvalidKeyError, StoreError
from zarrlayer.storage import ZipStore


def _snapshot_file(store_path: Path, tmp_path: Path, name: str) -> Path:
    """The bytes of the archive right now, as a crash would leave them."""
    copy = tmp_path / name
    shutil.copyfile(store_path, copy)
    return copy


def _read_all(path: Path) -> dict[str, bytes]:
    store = ZipStore(path, mode="r")
    try:
        return {k: bytes(sync(store.get(k))) for k in sorted(store._archive.keys())}
    finally:
        store.close()


def _old_archive(path: Path, n: int = 20) -> dict[str, bytes]:
    values = {f"c/{i}": bytes([i]) * 5000 for i in range(n)}
    with ZipStore(path, mode="w") as store:
        for key, value in values.items():
            sync(store.set(key, value))
    return values


def test_plain_close_leaves_a_valid_compacted_archive(tmp_path: Path) -> None:
    # issue 11: `store.close()` as zarr-python's docs show it must finish the archive
    path = tmp_path / "data.zip"
    store = ZipStore(path, mode="w")
    sync(store.set("zarr.json", b"{}"))
    sync(store.set("c/0", b"first"))
    sync(store.set("c/0", b"second"))
    assert store.close() is None
    assert zipfile.is_zipfile(path)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == ["c/0", "zarr.json"]
        assert zf.read("c/0") == b"second"


def test_with_statement_closes_the_archive(tmp_path: Path) -> None:
    path = tmp_path / "data.zip"
    with ZipStore(path, mode="w") as store:
        sync(store.set("k", b"v"))
    assert store._is_open is False
    with zipfile.ZipFile(path) as zf:
        assert zf.read("k") == b"v"


def test_signature_matches_zarr_python(tmp_path: Path) -> None:
    params = inspect.signature(ZipStore).parameters
    assert list(params)[:5] == ["path", "mode", "read_only", "compression", "allowZip64"]
    assert params["allowZip64"].default is True and params["mode"].default == "r"
    store = ZipStore(tmp_path / "z.zip", mode="w", compression=zipfile.ZIP_DEFLATED, allowZip64=False)
    assert (store.mode, store.compression, store.allowZip64) == ("w", zipfile.ZIP_DEFLATED, False)
    assert store._archive.zf is not None and store._archive.zf._allowZip64 is False
    store.close()


def test_store_open_classmethod(tmp_path: Path) -> None:
    store = sync(ZipStore.open(tmp_path / "z.zip", mode="w"))
    assert store._is_open
    sync(store.set("k", b"v"))
    store.close()
    reader = sync(ZipStore.open(tmp_path / "z.zip", mode="r"))
    assert bytes(sync(reader.get("k"))) == b"v"
    reader.close()


def test_update_killed_before_any_checkpoint_keeps_the_old_archive(tmp_path: Path) -> None:
    # issue 13: 10 of 10 kills during an update left a file that does not open
    path = tmp_path / "data.zip"
    old = _old_archive(path)
    store = ZipStore(path, mode="a", checkpoint_bytes=None)
    for i in range(20):
        sync(store.set(f"c/{i}", b"new" * 3000))
    sync(store.set("c/new", b"added"))
    crashed = _snapshot_file(path, tmp_path, "crashed.zip")
    store.close()
    size = crashed.stat().st_size
    assert size > path.stat().st_size // 2
    assert _read_all(crashed) == old  # a read-only open sees the old archive, and leaves the file alone
    assert crashed.stat().st_size == size
    updater = ZipStore(crashed, mode="a")
    assert {k: bytes(sync(updater.get(k))) for k in old} == old
    assert 60_000 <= updater.recovered_bytes < size
    assert crashed.stat().st_size == size - updater.recovered_bytes
    updater.close()
    with zipfile.ZipFile(crashed) as zf:  # the recovered file is a plain zip again
        assert zf.testzip() is None and sorted(zf.namelist()) == sorted(old)


def test_update_killed_after_a_checkpoint_has_old_or_new_values(tmp_path: Path) -> None:
    path = tmp_path / "data.zip"
    old = _old_archive(path)
    store = ZipStore(path, mode="a", checkpoint_bytes=40_000)
    crashes = []
    for i in range(20):
        sync(store.set(f"c/{i}", b"N" * 9000))
        crashes.append(_snapshot_file(path, tmp_path, f"crash{i}.zip"))
    store.close()
    seen_new = []
    for crashed in crashes:
        got = _read_all(crashed)
        assert sorted(got) == sorted(old), crashed
        assert all(v in (old[k], b"N" * 9000) for k, v in got.items())
        seen_new.append(sum(v == b"N" * 9000 for v in got.values()))
    # ~9 KB per entry, a checkpoint past 40 KB: every 5th write; a crash keeps all up to the last one
    assert seen_new == [5 * ((i + 1) // 5) for i in range(20)]
    assert _read_all(path) == {k: b"N" * 9000 for k in old}


def test_new_archive_checkpoints_bound_the_loss(tmp_path: Path) -> None:
    path = tmp_path / "new.zip"
    store = ZipStore(path, mode="w", checkpoint_bytes=100_000)
    for i in range(50):
        sync(store.set(f"c/{i}", bytes([i]) * 10_000))
    crashed = _snapshot_file(path, tmp_path, "crashed.zip")
    store.close()
    got = _read_all(crashed)
    assert got == {f"c/{i}": bytes([i]) * 10_000 for i in range(len(got))}
    assert len(got) >= 50 - 11  # at most checkpoint_bytes (plus one entry) is lost


def test_new_archive_without_checkpoint_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "new.zip"
    store = ZipStore(path, mode="w", checkpoint_bytes=None)
    sync(store.set("c/0", b"x" * 1000))
    crashed = _snapshot_file(path, tmp_path, "crashed.zip")
    store.close()
    with pytest.raises(StoreError, match="central directory"):
        ZipStore(crashed, mode="r")._archive.keys()


@pytest.mark.parametrize(("threshold", "directories"), [(0.25, 2), (0.0, 1)])
def test_flush_is_a_checkpoint_and_close_keeps_or_removes_its_directory(
    tmp_path: Path, threshold: float, directories: int
) -> None:
    path = tmp_path / "data.zip"
    store = ZipStore(path, mode="w", compact_threshold=threshold)
    sync(store.set("a", b"1" * 1000))
    store.flush()
    assert _read_all(_snapshot_file(path, tmp_path, "mid.zip")) == {"a": b"1" * 1000}
    sync(store.set("b", b"2" * 1000))
    store.close()
    raw = path.read_bytes()
    # the checkpoint's directory (~70 bytes, under a quarter of the file) stays unless the threshold is 0
    assert raw.count(b"PK\x05\x06") == directories and raw.count(b"PK\x01\x02") == 1 + directories
    assert _read_all(path) == {"a": b"1" * 1000, "b": b"2" * 1000}
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None and zf.namelist() == ["a", "b"]


def test_checkpoint_bytes_is_validated(tmp_path: Path) -> None:
    for bad in (0, -5, 1.5, "64MiB"):
        with pytest.raises(ValueError, match="checkpoint_bytes"):
            ZipStore(tmp_path / "z.zip", mode="w", checkpoint_bytes=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "z.zip").exists()


def test_leftover_temporary_files_are_removed_on_next_open(tmp_path: Path) -> None:
    path = tmp_path / "data.zip"
    _old_archive(path, 3)
    leftover = tmp_path / f".data.zip.zarrlayer-tmp-{'ab' * 16}"
    leftover.write_bytes(b"half a compaction")
    unrelated = tmp_path / f".other.zip.zarrlayer-tmp-{'cd' * 16}"
    unrelated.write_bytes(b"someone else's")
    ZipStore(path, mode="r")._archive.keys()
    assert leftover.exists()  # a reader never deletes
    store = ZipStore(path, mode="a")
    assert not leftover.exists() and unrelated.exists()
    store.close()


@pytest.mark.parametrize("key", ["C:x", "D:", "c:/x", "a/C:x", "zarr/D:"])
def test_drive_relative_names_refused_as_keys(tmp_path: Path, key: str) -> None:
    # issue 14: `C:x` and `D:` were accepted and written
    path = tmp_path / "data.zip"
    store = ZipStore(path, mode="w")
    sync(store.set("ok", b"1"))
    for call in (lambda: store.set(key, b"x"), lambda: store.get(key), lambda: store.delete(key),
                 lambda: store.exists(key), lambda: store.set_if_not_exists(key, b"x")):
        with pytest.raises(InvalidKeyError, match="drive letter"):
            sync(call())
    with pytest.raises(InvalidKeyError):
        store.set_sync(key, b"x")
    store.close()
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["ok"]


@pytest.mark.parametrize("name", ["C:x", "D:", "a/C:x"])
def test_drive_relative_names_refused_in_hostile_archives(tmp_path: Path, name: str) -> None:
    path = tmp_path / "hostile.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("zarr.json", b"{}")
        zf.writestr(name, b"evil")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="could escape"):
        ZipStore(path, mode="r")._archive.keys()
    with pytest.raises(StoreError, match="could escape"):
        ZipStore(path, mode="a")._archive.keys()
    assert path.read_bytes() == before


def test_an_archive_never_closed_is_finished_when_collected(tmp_path: Path) -> None:
    import gc

    path = tmp_path / "data.zip"
    store = ZipStore(path, mode="w", checkpoint_bytes=None)
    for key in ("a", "b", "c"):
        sync(store.set(key, b"old"))
    sync(store.set("a", b"new"))
    sync(store.delete("b"))
    del store
    gc.collect()
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["a", "c"] and zf.read("a") == b"new"


def test_an_archive_never_closed_is_finished_at_exit(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "data.zip"
    code = (
        "import sys\nfrom zarrlayer.storage import ZipStore\n"
        f"s = ZipStore({str(path)!r}, mode='w', checkpoint_bytes=None)\n"
        "s.set_sync('a', b'old'); s.set_sync('b', b'x'); s.set_sync('a', b'new'); s.delete_sync('b')\n"
        "sys.modules['__main__'].keep = s\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    raw = path.read_bytes()
    assert raw.count(b"PK\x05\x06") == 1 and b"old" not in raw  # compacted: the superseded entry is gone
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["a"] and zf.read("a") == b"new"
