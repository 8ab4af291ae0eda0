"""The `zarrlayer` command line in-process (`main([...])`) and once as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarrlayer
from zarrlayer.cli import main
from zarrlayer.testing.servers import http_server


def test_info_prints_group_info_and_array_info(sample: tuple[Path, dict], capsys: Any) -> None:
    path, _ = sample
    assert main(["info", str(path)]) == 0
    assert capsys.readouterr().out == f"{zarrlayer.open_group(path, mode='r').info}\n"
    assert main(["info", str(path), "--path", "temperature"]) == 0
    out = capsys.readouterr().out
    assert out == f"{zarrlayer.open_array(path, path='temperature', mode='r').info}\n"
    assert "(8, 6, 4)" in out and "float32" in out
    assert main(["info", str(path), "--complete"]) == 0
    assert capsys.readouterr().out == f"{zarrlayer.open_group(path, mode='r').info_complete()}\n"


def test_tree_prints_the_hierarchy(sample: tuple[Path, dict], capsys: Any) -> None:
    path, _ = sample
    assert main(["tree", str(path)]) == 0
    out = capsys.readouterr().out
    assert out == str(zarrlayer.open_group(path, mode='r').tree())  # tree() ends with one newline, as print's
    assert "labels" in out and "temperature" in out


def test_ls_lists_every_member_with_shape_dtype_chunks(sample: tuple[Path, dict], capsys: Any) -> None:
    path, _ = sample
    assert main(["ls", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "kind", "shape", "dtype", "chunks", "shards"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert sorted(rows) == ["meta", "meta/labels", "temperature"]
    assert rows["meta"].split()[1] == "group"
    assert "(10,)" in rows["meta/labels"] and "int16" in rows["meta/labels"] and "(5,)" in rows["meta/labels"]
    assert "(8, 6, 4)" in rows["temperature"] and "(2, 3, 4)" in rows["temperature"]
    assert "(4, 6, 4)" in rows["temperature"]


def test_ls_of_an_array_and_over_http(sample: tuple[Path, dict], capsys: Any) -> None:
    path, _ = sample
    with http_server(path.parent) as server:
        assert main(["ls", f"{server.url}/{path.name}", "--path", "meta/labels"]) == 0
        assert server.request_count > 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].split()[:2] == ["meta/labels", "array"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["info", "{tmp}/missing.zarr"], "nothing at"),
        (["info", "{sample}", "--path", "nope"], "no array or group at path 'nope'"),
        (["ls", "{sample}", "-o", "novalue"], "KEY=VALUE"),
        (["tree", "{sample}", "--storage-options-file", "{tmp}/absent.json"], "cannot read storage options file"),
    ],
)
def test_errors_are_one_line_and_exit_1(sample: tuple[Path, dict], tmp_path: Path, capsys: Any,
                                        argv: list[str], message: str) -> None:
    argv = [a.format(tmp=tmp_path, sample=sample[0]) for a in argv]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("zarrlayer: error: ") and captured.err.count("\n") == 1
    assert message in captured.err and "Traceback" not in captured.err


def test_debug_shows_the_traceback(tmp_path: Path, capsys: Any) -> None:
    assert main(["info", str(tmp_path / "missing.zarr"), "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.rstrip().splitlines()[-1].startswith("zarrlayer: error:")


def test_usage_errors_exit_2(capsys: Any) -> None:
    assert main(["bogus"]) == 2
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and all(line.startswith("zarrlayer: error:") for line in err.splitlines())


def test_credentials_in_urls_are_never_printed(tmp_path: Path, capsys: Any) -> None:
    with http_server(tmp_path) as server:
        host = server.url.removeprefix("http://")
        assert main(["info", f"http://alice:hunter2-secret@{host}/missing.zarr", "--debug"]) == 1
    err = capsys.readouterr().err
    assert "hunter2-secret" not in err and "alice" not in err
    assert err.rstrip().splitlines()[-1].startswith("zarrlayer: error: no array or group")


def test_secret_options_echoed_by_a_backend_are_redacted(sample: tuple[Path, dict], capsys: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from zarrlayer._cli import commands

    def echoing_backend(url: str, path: str, options: dict[str, Any]) -> Any:
        raise RuntimeError(f"backend refused {url} with options {options}")

    monkeypatch.setattr(commands, "open_node", echoing_backend)
    argv = ["info", "s3://bucket/x.zarr", "-o", "key=AKIA0123456789", "-o", "anon=false",
            "-o", 'client_kwargs={"aws_session_token": "tok-0123456789"}']
    assert main(argv) == 1
    assert main([*argv, "--debug"]) == 1
    err = capsys.readouterr().err
    assert "AKIA0123456789" not in err and "tok-0123456789" not in err
    assert "'anon': False" in err and err.count("***") >= 4


def _fill_disk_cache(directory: Path) -> int:
    from zarrlayer.cache import DiskCacheStore
    from zarrlayer.core.sync import sync
    from zarrlayer.storage import MemoryStore

    upstream = MemoryStore({f"c/{i}": bytes([i]) * 100 for i in range(5)})
    cache = DiskCacheStore(upstream, directory, "10 MiB")
    for i in range(5):
        assert sync(cache.get(f"c/{i}")) == bytes([i]) * 100
    entries = cache.stats()["entries"]
    cache.close()
    return entries


def test_cache_stats_and_clear(tmp_path: Path, capsys: Any) -> None:
    directory = tmp_path / "cache"
    entries = _fill_disk_cache(directory)
    assert entries >= 5
    assert main(["cache", "stats", "--dir", str(directory)]) == 0
    stats = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert stats["directory"] == str(directory) and int(stats["entries"]) == entries
    assert stats["stores"] == "1" and stats["budget"] == "10.0 MiB"
    assert main(["cache", "clear", "--dir", str(directory)]) == 0
    assert f"cleared {entries} entries" in capsys.readouterr().out
    assert main(["cache", "stats", "--dir", str(directory)]) == 0
    assert dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())["entries"] == "0"


def _info_rows(out: str) -> dict[str, str]:
    return {key.strip(): value.strip() for key, value in (line.split(" : ", 1) for line in out.splitlines())}


@pytest.mark.parametrize("action", ["stats", "clear"])
@pytest.mark.parametrize("exists", [False, True])
def test_cache_commands_without_a_cache_exit_0_and_say_so(tmp_path: Path, capsys: Any, action: str,
                                                          exists: bool) -> None:
    directory = tmp_path / "no-cache-here"
    if exists:
        directory.mkdir()
    assert main(["cache", action, "--dir", str(directory)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and f"no zarrlayer disk cache in {directory}" in captured.out
    assert ("nothing to clear" if action == "clear" else "nothing is cached there yet") in captured.out
    assert directory.exists() == exists and (not exists or not any(directory.iterdir())), "nothing is created"


def test_cache_sizes_are_the_bytes_of_the_cached_values(tmp_path: Path, capsys: Any) -> None:
    directory = tmp_path / "cache"
    _fill_disk_cache(directory)  # 5 values of 100 bytes (SQLite's file is tens of KiB)
    assert main(["cache", "stats", "--dir", str(directory)]) == 0
    stats = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert stats["size"] == "500 B (500 bytes of cached values)"
    on_disk = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    assert stats["files"].endswith("on disk (database and value files)") and on_disk > 10_000
    assert main(["cache", "clear", "--dir", str(directory)]) == 0
    assert "(500 B of cached values)" in capsys.readouterr().out


def test_cache_sizes_count_values_kept_in_files(tmp_path: Path, capsys: Any) -> None:
    from zarrlayer.cache import DiskCacheStore
    from zarrlayer.core.sync import sync
    from zarrlayer.storage import MemoryStore

    big = bytes(range(256)) * 400  # 102400 bytes: diskcache keeps it in a file of its own
    cache = DiskCacheStore(MemoryStore({"c/0": big, "c/1": b"x" * 10}), tmp_path / "cache", "10 MiB")
    assert sync(cache.get("c/0")) == big and sync(cache.get("c/1")) == b"x" * 10
    assert cache.stats()["bytes"] == 102410 and cache.stats()["disk_bytes"] > 102410
    cache.close()
    assert main(["cache", "stats", "--dir", str(tmp_path / "cache")]) == 0
    assert "(102410 bytes of cached values)" in capsys.readouterr().out


def test_info_of_a_sharded_array_shows_inner_chunks_codecs_and_counts(sample: tuple[Path, dict],
                                                                       capsys: Any) -> None:
    path, _ = sample  # temperature: shape (8, 6, 4), shards (4, 6, 4), chunks (2, 3, 4), fully written
    assert main(["info", str(path), "--path", "temperature", "--complete"]) == 0
    rows = _info_rows(capsys.readouterr().out)
    assert rows["Chunk shape"] == "(2, 3, 4)" and rows["Shard shape"] == "(4, 6, 4)"
    assert "sharding" not in rows["Serializer"] and "'bytes'" in rows["Serializer"]
    assert "zstd" in rows["Compressors"]
    assert rows["Shards Initialized"] == "2" and rows["Chunks Initialized"] == "8"


def test_info_of_a_partly_written_sharded_array_counts_both(tmp_path: Path, capsys: Any) -> None:
    a = zarrlayer.create_array(store=tmp_path / "a.zarr", shape=(100, 100), chunks=(10, 10), shards=(50, 50),
                               dtype="float32", compressors=[{"name": "gzip", "configuration": {"level": 1}}])
    a[:60, :60] = 1  # touches all 4 shards, 36 inner chunks
    assert main(["info", str(tmp_path / "a.zarr"), "--complete"]) == 0
    rows = _info_rows(capsys.readouterr().out)
    assert rows["Shards Initialized"] == "4" and rows["Chunks Initialized"] == "36"
    assert "gzip" in rows["Compressors"] and rows["Chunk shape"] == "(10, 10)"


def test_cache_commands_default_to_the_user_cache_directory(tmp_path: Path, capsys: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import zarrlayer.cache._spec as spec

    monkeypatch.setattr(spec, "default_cache_directory", lambda: str(tmp_path / "default"))
    _fill_disk_cache(tmp_path / "default")
    assert main(["cache", "stats"]) == 0
    assert str(tmp_path / "default") in capsys.readouterr().out


def test_subprocess_console_entry(sample: tuple[Path, dict]) -> None:
    path, expected = sample
    ok = subprocess.run([sys.executable, "-m", "zarrlayer", "ls", str(path)], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "temperature" in ok.stdout and str(expected["temperature"].shape) in ok.stdout
    script = Path(sys.executable).parent / "zarrlayer"
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.strip() == f"zarrlayer {zarrlayer.__version__}"
    bad = subprocess.run([sys.executable, "-m", "zarrlayer", "info", str(path / "nope")], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("zarrlayer: error:") and bad.stderr.count("\n") == 1


def test_demo_quick_runs_and_reports(tmp_path: Path, capsys: Any) -> None:
    assert main(["demo", "--quick", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for expected in ("] wrote climate.zarr", "] xr.open_dataset", "<xarray.Dataset>", "cold (HTTP)", "warm (memory cache)",
                     "warm (disk cache, fresh open)", "global mean temperature", "-> OK"):
        assert expected in out, expected
    assert (tmp_path / "climate.zarr" / "zarr.json").is_file()
    back = zarrlayer.open_group(tmp_path / "climate.zarr", mode="r")
    assert back["temperature"].shape == (48, 36, 72) and np.isfinite(back["temperature"][0]).all()


def test_demo_measures_cold_and_warm_passes(tmp_path: Path) -> None:
    import io

    from zarrlayer.demo import run_demo

    out = io.StringIO()
    result = run_demo(tmp_path, quick=True, latency_ms=1, out=out)
    assert result.ok and result.max_error < 1e-3
    cold, warm_memory, warm_disk = result.passes
    assert cold.traffic.requests > 0 and cold.traffic.nbytes >= result.stored_bytes // 2
    assert cold.cache["memory_misses"] > 0 and cold.cache["disk_misses"] > 0
    assert warm_memory.traffic.requests == 0 and warm_memory.cache["memory_hits"] > 0
    assert warm_memory.cache.get("disk_hits", 0) == 0 and warm_memory.cache.get("disk_misses", 0) == 0
    assert warm_disk.traffic.requests == 0 and warm_disk.cache["disk_hits"] > 0
    assert warm_disk.cache["disk_misses"] == 0
    assert cold.results == pytest.approx(warm_memory.results)
    assert cold.results == pytest.approx(warm_disk.results)
    assert f"{cold.traffic.requests:>10}" in out.getvalue()


def test_demo_refuses_a_negative_latency(tmp_path: Path, capsys: Any) -> None:
    from zarrlayer._cli.options import CLIUsageError
    from zarrlayer.demo import run_demo

    assert main(["demo", "--quick", "--dir", str(tmp_path), "--latency-ms", "-1"]) == 2
    assert "argument --latency-ms" in capsys.readouterr().err
    with pytest.raises(CLIUsageError, match="latency"):
        run_demo(tmp_path, quick=True, latency_ms=-1)
    assert list(tmp_path.iterdir()) == []
