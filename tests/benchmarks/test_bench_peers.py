"""bench_peers' pieces: the best peer, the all-peers table, the two-core raw loop, the HTTP server, the plot."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import raw_loop  # noqa: E402
from bench_peers import FLOOR, Spec, _raw_fetch, _Server, _write_zarr_python, best_peer, peer_table  # noqa: E402
from common import CaseResult, plot_peers  # noqa: E402


def _result() -> CaseResult:
    samples = {"zarrlayer": [2.0, 2.2, 1.8], "zarr-python": [9.0, 9.0, 9.0], "tensorstore": [1.0, 1.1, 0.9], FLOOR: [1.5, 1.5, 1.5]}
    return CaseResult(benchmark="peers", case="c", samples=samples, floor=FLOOR, target=1.0, floor_target=1.15)


def test_best_peer_is_the_fastest_that_ran_and_decides_the_target():
    result = best_peer(_result())
    assert result.peer == "tensorstore"
    assert result.speedup == pytest.approx(0.5)
    assert result.met is False  # slower than tensorstore and 1.33x the raw loop
    result.samples["tensorstore"] = [3.0]
    assert best_peer(result).peer == "tensorstore" and result.speedup == pytest.approx(1.5)
    assert result.met is False  # beats every peer, still above 1.15x the floor
    result.samples[FLOOR] = [1.9]
    assert result.met is True


def test_peer_table_shows_every_contestant_and_says_when_one_did_not_run():
    table = peer_table([best_peer(_result())], ["zarrlayer", "zarr-python", "zarrs", "tensorstore", FLOOR])
    header, rule, row = table.splitlines()
    assert "zarrs" in header and "best peer" in header
    assert "n/a" in row and "tensorstore" in row and "0.50x" in row and "MISS" in row
    assert "2.00 s ±10%" in row  # median and half the range


@pytest.mark.parametrize("shards", [None, (64, 64)])
def test_two_core_raw_loop_reads_what_zarr_python_wrote(tmp_path, shards):
    spec = Spec(tmp_path / "a.zarr", (128, 96), (16, 16), shards)
    data = np.arange(128 * 96, dtype="<f4").reshape(128, 96)
    _write_zarr_python(spec, data)
    np.testing.assert_array_equal(raw_loop.read_threads(spec.layout, Ellipsis, 2), data)
    window = (slice(5, 70), slice(17, 90))
    np.testing.assert_array_equal(raw_loop.read_threads(spec.layout, window, 2), data[window])


def test_two_core_raw_write_is_readable(tmp_path):
    import zarr

    spec = Spec(tmp_path / "w.zarr", (64, 64), (16, 16))
    _write_zarr_python(spec, np.zeros((64, 64), "<f4"))  # the metadata
    data = np.random.default_rng(0).random((64, 64)).astype("<f4")
    raw_loop.write_threads(spec.layout, data, 2)
    np.testing.assert_array_equal(zarr.open_array(str(spec.path), mode="r")[...], data)


def test_http_server_serves_files_ranges_and_misses(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_bytes(b"0123456789")
    server = _Server(tmp_path, 0.0)
    try:
        import urllib.error
        import urllib.request

        base = f"{server.url}/d/x"
        assert urllib.request.urlopen(base).read() == b"0123456789"
        request = urllib.request.Request(base, headers={"Range": "bytes=2-4"})
        assert urllib.request.urlopen(request).read() == b"234"
        request = urllib.request.Request(base, headers={"Range": "bytes=-3"})
        assert urllib.request.urlopen(request).read() == b"789"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{server.url}/d/missing")
        assert info.value.code == 404
        assert asyncio.run(_raw_fetch([base] * 8, 4)) == 80
    finally:
        server.close()


def test_plot_peers_draws_every_contestant(tmp_path):
    result = best_peer(_result())
    document = {"benchmark": "peers", "environment": {"cpu_count": 2}, "cases": [result.to_json()]}
    out = plot_peers([document], tmp_path / "p.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
