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
    assert out == f"{zarrlayer.open_group(path, mode='r').tree()}\n"
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
        (["cache", "stats", "--dir", "{tmp}/no-cache-here"], "expected a zarrlayer disk cache"),
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
