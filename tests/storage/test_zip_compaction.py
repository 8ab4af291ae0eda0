"""ZipStore.close() rewrites the archive only when dead bytes pass `compact_threshold`, and then
copies entries raw: the same compressed bytes and CRCs, readable by zipfile, unzip and zarr-python."""

from __future__ import annotations

import io
import os
import pickle
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import zarrlayer
from zarrlayer.storage import ZipStore
from zarrlayer.storage._zip_compact import compact, entry_span

_LOCAL = struct.Struct("<4s22xHH")


def _value(i: int, size: int = 20_000) -> bytes:
    return bytes([i % 251]) * size


def _archive(path: Path, n: int = 40, **kwargs: object) -> None:
    with ZipStore(path, mode="w", **kwargs) as store:  # type: ignore[arg-type]
        for i in range(n):
            store.set_sync(f"c/{i}", _value(i))


def _raw_entries(path: Path) -> dict[str, tuple[int, bytes]]:
    """Each entry's CRC and compressed bytes, read through its local header."""
    out = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as f:
        assert zf.testzip() is None
        for info in zf.infolist():
            f.seek(info.header_offset)
            _, name_len, extra_len = _LOCAL.unpack(f.read(_LOCAL.size))
            f.seek(info.header_offset + _LOCAL.size + name_len + extra_len)
            out[info.filename] = (info.CRC, f.read(info.compress_size))
    return out


def _plain_values(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _check_readers(path: Path, expected: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == sorted(expected)
        assert all(zf.read(k) == v for k, v in expected.items())
    if shutil.which("unzip"):
        done = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "No errors detected" in done.stdout, done.stdout + done.stderr
        assert "warning" not in (done.stdout + done.stderr).lower()


def test_new_archive_with_checkpoints_closes_without_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "new.zip"
    store = ZipStore(path, mode="w", checkpoint_bytes=100_000)
    for i in range(40):
        store.set_sync(f"c/{i}", _value(i))
    before = path.stat().st_ino
    store.close()
    assert store._archive.compactions == 0 and path.stat().st_ino == before
    assert path.read_bytes().count(b"PK\x05\x06") > 5  # the checkpoints' directories stay, unread
    _check_readers(path, {f"c/{i}": _value(i) for i in range(40)})


@pytest.mark.parametrize(("threshold", "compactions"), [(0.25, 0), (0.0, 1)])
def test_zarr_python_reads_the_archive_kept_or_rewritten(
    tmp_path: Path, threshold: float, compactions: int
) -> None:
    zarr = pytest.importorskip("zarr")
    path = tmp_path / "arr.zip"
    data = np.random.default_rng(0).random(50_000)  # incompressible: checkpoints every ~2 chunks
    store = ZipStore(path, mode="w", checkpoint_bytes=50_000, compact_threshold=threshold)
    array = zarrlayer.create_array(store, shape=data.shape, chunks=(4096,), dtype="f8", compressors="zstd")
    array[:] = data
    array[:4096] = -data[:4096]  # one superseded chunk, far below the default threshold
    store.close()
    assert store._archive.compactions == compactions
    raw = path.read_bytes()
    assert (raw.count(b"PK\x05\x06") > 3) is (compactions == 0)
    _check_readers(path, _plain_values(path))
    expected = data.copy()
    expected[:4096] = -data[:4096]
    peer = zarr.storage.ZipStore(str(path), mode="r")
    np.testing.assert_array_equal(zarr.open_array(peer, mode="r")[:], expected)
    peer.close()


def test_update_past_the_threshold_compacts(tmp_path: Path) -> None:
    path = tmp_path / "data.zip"
    _archive(path)
    before = path.stat().st_ino
    store = ZipStore(path, mode="a")
    for i in range(15):  # 15 of 40 entries superseded: 27% of the file dead
        store.set_sync(f"c/{i}", _value(i + 100))
    store.delete_sync("c/39")
    store.close()
    assert store._archive.compactions == 1 and path.stat().st_ino != before
    raw = path.read_bytes()
    assert raw.count(b"PK\x03\x04") == 39 and raw.count(b"PK\x05\x06") == 1
    assert _value(0) not in raw and _value(39) not in raw  # superseded and deleted values are gone
    expected = {f"c/{i}": _value(i + 100 if i < 15 else i) for i in range(39)}
    _check_readers(path, expected)


def test_update_below_the_threshold_only_appends(tmp_path: Path) -> None:
    path = tmp_path / "data.zip"
    _archive(path)
    before = path.stat().st_ino
    store = ZipStore(path, mode="a")
    for i in range(5):
        store.set_sync(f"c/{i}", _value(i + 100))
    store.close()
    assert store._archive.compactions == 0 and path.stat().st_ino == before
    assert _value(0) in path.read_bytes()  # superseded bytes stay, but no directory lists them
    _check_readers(path, {f"c/{i}": _value(i + 100 if i < 5 else i) for i in range(40)})


def test_dead_bytes_add_up_across_sessions(tmp_path: Path) -> None:
    path = tmp_path / "data.zip"
    _archive(path)
    rewrites = []
    for session in range(4):  # 5 of 40 entries each time: 11%, 20%, 28% dead: rewritten on the 3rd
        store = ZipStore(path, mode="a")
        for i in range(5 * session, 5 * session + 5):
            store.set_sync(f"c/{i}", _value(i + 100))
        store.close()
        rewrites.append(store._archive.compactions)
    assert rewrites == [0, 0, 1, 0]  # the 4th starts from a compacted archive
    _check_readers(path, {f"c/{i}": _value(i + 100 if i < 20 else i) for i in range(40)})


def test_dead_bytes_counted_on_open_match_what_compaction_removes(tmp_path: Path) -> None:
    path = tmp_path / "data.zip"
    _archive(path, checkpoint_bytes=60_000)
    store = ZipStore(path, mode="a", compact_threshold=1.0, checkpoint_bytes=60_000)
    for i in range(0, 40, 3):
        store.set_sync(f"c/{i}", _value(i + 1, 7_000))
    store.delete_sync("c/1")
    store.close()
    assert store._archive.compactions == 0
    reopened = ZipStore(path, mode="a")
    reopened._archive.keys()
    estimated = reopened._archive.dead
    live = list(reopened._archive.index.values())
    copy = tmp_path / "copy.zip"
    shutil.copyfile(path, copy)
    compact(str(copy), live, True)
    reopened.close()
    assert reopened._archive.compactions == 0 and estimated > 100_000
    assert estimated == path.stat().st_size - copy.stat().st_size
    assert _raw_entries(copy) == _raw_entries(path)


def test_threshold_zero_always_leaves_a_plain_archive(tmp_path: Path) -> None:
    path = tmp_path / "new.zip"
    _archive(path, checkpoint_bytes=100_000, compact_threshold=0.0)
    raw = path.read_bytes()
    assert raw.count(b"PK\x05\x06") == 1 and raw.count(b"PK\x03\x04") == 40
    _check_readers(path, {f"c/{i}": _value(i) for i in range(40)})


def test_compaction_copies_compressed_bytes_raw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "deflated.zip"
    values = {f"c/{i}": os.urandom(3000) + bytes(20_000) for i in range(30)}
    with ZipStore(path, mode="w", compression=zipfile.ZIP_DEFLATED) as store:
        for key, value in values.items():
            store.set_sync(key, value)
        for i in range(20):
            store.set_sync(f"c/{i}", b"short-lived" * 3000)
        for i in range(20):
            store.set_sync(f"c/{i}", values[f"c/{i}"])
        before = _raw_entries_of_live(path, store)

        def _no_recompression(*args: object, **kwargs: object) -> None:
            raise AssertionError("compaction must not recompress")

        monkeypatch.setattr(zlib, "compressobj", _no_recompression)
        monkeypatch.setattr(zlib, "decompressobj", _no_recompression)
    monkeypatch.undo()
    assert store._archive.compactions == 1
    after = _raw_entries(path)
    assert after == before  # same CRCs and compressed bytes, entry by entry
    _check_readers(path, values)


def _raw_entries_of_live(path: Path, store: ZipStore) -> dict[str, tuple[int, bytes]]:
    store.flush()
    return _raw_entries(path)


def test_entries_with_data_descriptors_are_copied_whole(tmp_path: Path) -> None:
    class _Stream(io.RawIOBase):  # not seekable: zipfile writes data descriptors after each entry
        def __init__(self) -> None:
            self.buffer = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: object) -> int:
            data = bytes(b)  # type: ignore[call-overload]
            self.buffer += data
            return len(data)

    stream = _Stream()
    old = {f"c/{i}": os.urandom(5000) for i in range(10)}
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, value in old.items():
            zf.writestr(key, value)
    path = tmp_path / "streamed.zip"
    path.write_bytes(bytes(stream.buffer))
    with zipfile.ZipFile(path) as zf:
        assert all(info.flag_bits & 0x08 for info in zf.infolist())
    store = ZipStore(path, mode="a")
    for i in range(5):
        store.set_sync(f"c/{i}", os.urandom(200))
    kept = {f"c/{i}": old[f"c/{i}"] for i in range(5, 10)}
    fresh = {f"c/{i}": store.get_sync(f"c/{i}") for i in range(5)}
    store.close()
    assert store._archive.compactions == 1
    with zipfile.ZipFile(path) as zf:  # the streamed entries kept their descriptors and their bytes
        assert sum(bool(info.flag_bits & 0x08) for info in zf.infolist()) == 5
    _check_readers(path, {**kept, **fresh})  # type: ignore[dict-item]


def test_checkpoints_of_many_small_entries_stay_a_small_share(tmp_path: Path) -> None:
    # each checkpoint rewrites the whole directory: with 3000 tiny entries and a checkpoint every
    # 2 KB, directories would outgrow the entries many times over (and force a rewrite on close)
    path = tmp_path / "small.zip"
    store = ZipStore(path, mode="w", checkpoint_bytes=2_000)
    for i in range(3000):
        store.set_sync(f"c/{i}", b"x" * 10)
    store.close()
    assert store._archive.compactions == 0
    with zipfile.ZipFile(path) as zf:
        entries = sum(entry_span(i) for i in zf.infolist())
        plain = entries + (path.stat().st_size - zf.start_dir)  # the entries and one directory
    assert path.stat().st_size - plain <= path.stat().st_size / 8  # the checkpoints' directories
    _check_readers(path, {f"c/{i}": b"x" * 10 for i in range(3000)})


def test_compact_threshold_is_validated_and_pickled(tmp_path: Path) -> None:
    for bad in (-0.1, 1.5, "0.5", True, None):
        with pytest.raises(ValueError, match="compact_threshold"):
            ZipStore(tmp_path / "z.zip", mode="w", compact_threshold=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "z.zip").exists()
    store = ZipStore(tmp_path / "z.zip", mode="w", compact_threshold=0.5)
    store.set_sync("k", b"v")
    copy = pickle.loads(pickle.dumps(store))
    assert copy.compact_threshold == 0.5 and store.with_read_only().compact_threshold == 0.5
    store.close()


def test_compaction_falls_back_to_a_plain_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # copy_file_range is Linux-only and may refuse (EXDEV, ENOSYS) part-way: the rest is copied by hand
    real = getattr(os, "copy_file_range", None)
    calls = []

    def _flaky(src: int, dst: int, count: int, offset_src: int, offset_dst: int) -> int:
        calls.append(count)
        if real is not None and len(calls) % 2:
            return real(src, dst, min(count, 1000), offset_src, offset_dst)
        raise OSError(18, "Invalid cross-device link")

    path = tmp_path / "data.zip"
    _archive(path)
    store = ZipStore(path, mode="a", compact_threshold=0.0)
    store.set_sync("c/0", b"new")
    monkeypatch.setattr(os, "copy_file_range", _flaky, raising=False)
    store.close()
    assert store._archive.compactions == 1 and len(calls) >= 2
    _check_readers(path, {f"c/{i}": b"new" if i == 0 else _value(i) for i in range(40)})
