"""`zarrlayer copy`: any store to any store, metadata last, refusal, --overwrite, and nothing left on failure."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli_helpers import build_sample, read_all
from zarrlayer._cli import commands
from zarrlayer._cli.copy import METADATA_NAMES
from zarrlayer.cli import main
from zarrlayer.core.sync import sync
from zarrlayer.errors import StoreError
from zarrlayer.storage import MemoryStore, WrapperStore


class _FailingStore(WrapperStore):
    """Fails the `fail_at`-th write (1-based), after recording the order of every write."""

    def __init__(self, store: Any, fail_at: int | None = None) -> None:
        super().__init__(store)
        self.fail_at = fail_at
        self.writes: list[str] = []

    async def set(self, key: str, value: Any) -> None:
        self.writes.append(key)
        if self.fail_at is not None and len(self.writes) >= self.fail_at:
            raise StoreError(f"injected failure writing {key!r} to {self.url}")
        await self.store.set(key, value)


def _patch_destination(monkeypatch: pytest.MonkeyPatch, fail_at: int | None) -> list[_FailingStore]:
    made: list[_FailingStore] = []
    real = commands.open_store

    def open_store(url: str, *, mode: str, storage_options: Any) -> tuple[Any, str]:
        store, path = real(url, mode=mode, storage_options=storage_options)
        if mode == "r":
            return store, path
        made.append(_FailingStore(store, fail_at))
        return made[-1], path

    monkeypatch.setattr(commands, "open_store", open_store)
    return made


def _keys(store: Any) -> list[str]:
    async def collect() -> list[str]:
        return sorted([k async for k in store.list()])

    return sync(collect())


def _assert_same(data: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert data.keys() == expected.keys()
    for name, values in expected.items():
        np.testing.assert_array_equal(data[name], values)


def test_directory_to_zip_to_memory(sample: tuple[Path, dict], tmp_path: Path, capsys: Any) -> None:
    src, expected = sample
    archive = tmp_path / "copy.zarr.zip"
    assert main(["copy", str(src), str(archive)]) == 0
    out = capsys.readouterr().out
    assert "copied" in out and str(archive) in out
    names = zipfile.ZipFile(archive).namelist()
    assert len(names) == len(set(names)) and "zarr.json" in names
    _assert_same(read_all(archive), expected)

    back = tmp_path / "back.zarr"
    assert main(["copy", str(archive), str(back)]) == 0
    _assert_same(read_all(back), expected)
    assert sorted(str(p.relative_to(back)) for p in back.rglob("*") if p.is_file()) == sorted(names)

    # memory:// vanishes when the command exits: refused, nothing written
    assert main(["copy", str(archive), "memory://cli-copy-target"]) == 1
    assert "vanishes when this command exits" in capsys.readouterr().err
    assert _keys(MemoryStore.named("cli-copy-target")) == []
    MemoryStore.drop_named("cli-copy-target")


def test_copy_of_one_node_into_a_path(sample: tuple[Path, dict], tmp_path: Path) -> None:
    src, expected = sample
    dst = tmp_path / "dst.zarr"
    assert main(["copy", str(src), str(dst), "--src-path", "meta", "--dst-path", "copied/meta"]) == 0
    copied = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())
    assert copied and all(k.startswith("copied/meta/") for k in copied)
    import zarrlayer

    np.testing.assert_array_equal(
        zarrlayer.open_array(dst, path="copied/meta/labels", mode="r")[...], expected["meta/labels"]
    )


def test_metadata_is_written_last_root_last(sample: tuple[Path, dict], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    src, _ = sample
    made = _patch_destination(monkeypatch, fail_at=None)
    assert main(["copy", str(src), str(tmp_path / "dst.zarr"), "--concurrency", "3"]) == 0
    writes = made[0].writes
    is_meta = [w.rsplit("/", 1)[-1] in METADATA_NAMES for w in writes]
    first_meta = is_meta.index(True)
    assert not any(is_meta[:first_meta]) and all(is_meta[first_meta:])
    assert writes[-1] == "zarr.json"
    depths = [w.count("/") for w, m in zip(writes, is_meta) if m]
    assert depths == sorted(depths, reverse=True)


@pytest.mark.parametrize("fail_at", [1, 4, "last"])
def test_failed_copy_leaves_nothing_behind(sample: tuple[Path, dict], tmp_path: Path, capsys: Any,
                                          monkeypatch: pytest.MonkeyPatch, fail_at: Any) -> None:
    src, _ = sample
    total = sum(1 for p in src.rglob("*") if p.is_file())
    made = _patch_destination(monkeypatch, fail_at=total if fail_at == "last" else fail_at)
    new_dir = tmp_path / "new.zarr"
    assert main(["copy", str(src), str(new_dir)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zarrlayer: error: injected failure") and err.count("\n") == 1
    assert not new_dir.exists()

    existing_empty = tmp_path / "empty-dir"
    existing_empty.mkdir()
    assert main(["copy", str(src), str(existing_empty)]) == 1
    assert existing_empty.is_dir() and not any(p.is_file() for p in existing_empty.rglob("*"))

    assert all(m.writes for m in made)


def test_failed_copy_into_new_zip_removes_the_file(sample: tuple[Path, dict], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    src, _ = sample
    _patch_destination(monkeypatch, fail_at=3)
    archive = tmp_path / "partial.zip"
    assert main(["copy", str(src), str(archive)]) == 1
    assert not archive.exists()


def test_existing_destination_is_refused_and_unchanged(sample: tuple[Path, dict], tmp_path: Path,
                                                       capsys: Any) -> None:
    src, expected = sample
    dst = tmp_path / "dst.zarr"
    assert main(["copy", str(src), str(dst)]) == 0
    before = {p: p.read_bytes() for p in dst.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["copy", str(src), str(dst)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds a group" in err and "--overwrite" in err
    assert {p: p.read_bytes() for p in dst.rglob("*") if p.is_file()} == before

    assert main(["copy", str(src), str(dst), "--src-path", "temperature", "--dst-path", "temperature"]) == 1
    assert "already holds an array" in capsys.readouterr().err


def test_non_empty_destination_without_a_node_is_refused(sample: tuple[Path, dict], tmp_path: Path,
                                                         capsys: Any) -> None:
    src, _ = sample
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "notes.txt").write_text("mine")
    assert main(["copy", str(src), str(dst)]) == 1
    assert "is not empty" in capsys.readouterr().err
    assert (dst / "notes.txt").read_text() == "mine" and len(list(dst.iterdir())) == 1


@pytest.mark.parametrize("name", ["dst.zarr", "dst.zip"])
def test_overwrite_replaces_the_destination(sample: tuple[Path, dict], tmp_path: Path, name: str) -> None:
    src, _ = sample
    dst = tmp_path / name
    assert main(["copy", str(src), str(dst)]) == 0
    if dst.is_dir():
        (dst / "stale-key").write_bytes(b"old")
    other = tmp_path / "other.zarr"
    newer = build_sample(other, scale=2.0)
    assert main(["copy", str(other), str(dst), "--overwrite"]) == 0
    _assert_same(read_all(dst), newer)
    if dst.is_dir():
        assert not (dst / "stale-key").exists()
    else:
        names = zipfile.ZipFile(dst).namelist()
        assert len(names) == len(set(names)) == sum(1 for p in other.rglob("*") if p.is_file())


def test_progress_bar_on_request(sample: tuple[Path, dict], tmp_path: Path, capsys: Any) -> None:
    src, _ = sample
    assert main(["copy", str(src), str(tmp_path / "a.zarr"), "--progress"]) == 0
    assert "copy" in capsys.readouterr().err
    assert main(["copy", str(src), str(tmp_path / "b.zarr")]) == 0
    assert capsys.readouterr().err == ""


def test_empty_source_is_an_error(tmp_path: Path, capsys: Any) -> None:
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    assert main(["copy", str(empty), str(tmp_path / "dst.zarr")]) == 1
    assert "nothing to copy" in capsys.readouterr().err
    assert not (tmp_path / "dst.zarr").exists()


def test_http_to_directory_to_s3_and_back(sample: tuple[Path, dict], tmp_path: Path, capsys: Any) -> None:
    import json

    from zarrlayer.testing.servers import create_bucket, http_server, moto_server, s3fs_options

    src, expected = sample
    local = tmp_path / "from-http.zarr"
    with http_server(src.parent) as server:
        assert main(["copy", f"{server.url}/{src.name}", str(local)]) == 0
    _assert_same(read_all(local), expected)

    with moto_server() as endpoint:
        create_bucket(endpoint, "cli-copy")
        options_file = tmp_path / "s3.json"
        options_file.write_text(json.dumps(s3fs_options(endpoint)))
        url = "s3://cli-copy/data.zarr"
        dst_args = ["--dst-storage-options-file", str(options_file), "--overwrite"]
        assert main(["copy", str(local), url, *dst_args]) == 0
        assert f"to {url}" in capsys.readouterr().out
        back = tmp_path / "from-s3.zarr"
        assert main(["copy", url, str(back), "--storage-options-file", str(options_file)]) == 0
        pairs = [f"{key}={json.dumps(value)}" for key, value in s3fs_options(endpoint).items()]
        capsys.readouterr()
        assert main(["ls", url, *[arg for pair in pairs for arg in ("-o", pair)]]) == 0
        assert "temperature" in capsys.readouterr().out
    _assert_same(read_all(back), expected)


def test_interrupted_copy_cleans_up(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    import zarrlayer
    from zarrlayer.testing.servers import http_server

    src = tmp_path / "served" / "many.zarr"
    array = zarrlayer.create_array(store=src, shape=(60,), chunks=(1,), dtype="int64")
    array[:] = np.arange(1, 61)
    dst = tmp_path / "dst.zarr"
    with http_server(src.parent, latency=0.1) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "zarrlayer", "copy", f"{server.url}/many.zarr", str(dst), "--concurrency", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            # a suite started in the background by a shell inherits an ignored SIGINT: give the copy the default
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 60
        while not (dst.exists() and any(p.is_file() for p in dst.rglob("*"))) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, f"the copy ended before it could be interrupted: {proc.communicate()}"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip() == "zarrlayer: interrupted"
    assert not dst.exists()


@pytest.mark.parametrize("concurrency", [1, 4])
def test_copy_is_concurrent_up_to_the_limit(tmp_path: Path, concurrency: int) -> None:
    import zarrlayer
    from zarrlayer.testing.servers import http_server

    src = tmp_path / "served" / "many.zarr"
    array = zarrlayer.create_array(store=src, shape=(16,), chunks=(1,), dtype="int64")
    array[:] = np.arange(16)
    with http_server(src.parent, latency=0.02) as server:
        dst = tmp_path / f"dst-{concurrency}.zarr"
        assert main(["copy", f"{server.url}/many.zarr", str(dst), "--concurrency", str(concurrency)]) == 0
        in_flight = server.max_in_flight
    np.testing.assert_array_equal(zarrlayer.open_array(dst, mode="r")[...], np.arange(16))
    if concurrency == 1:
        assert in_flight == 1
    else:
        assert 2 <= in_flight <= concurrency


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_bad_concurrency_is_a_usage_error(sample: tuple[Path, dict], tmp_path: Path, capsys: Any, value: str) -> None:
    src, _ = sample
    assert main(["copy", str(src), str(tmp_path / "dst.zarr"), "--concurrency", value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zarrlayer: error: argument --concurrency") and err.count("\n") == 1
    assert not (tmp_path / "dst.zarr").exists()
