"""The shared benchmark helpers: interleaving, medians and ratios, the table, JSON and the plot."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from common import (  # noqa: E402
    CaseResult,
    Contestant,
    format_seconds,
    format_table,
    load_results,
    plot_results,
    run_case,
    save_results,
    time_interleaved,
)


def test_interleaving_rotates_the_order_and_runs_setup_before_each_call():
    calls: list[str] = []
    contestants = [
        Contestant(name, (lambda n=name: calls.append(n)), (lambda n=name: calls.append("setup-" + n)))
        for name in ("a", "b", "c")
    ]
    samples = time_interleaved(contestants, runs=3, warmup=1)
    runs = [name for name in calls if not name.startswith("setup-")]
    assert runs == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
    assert all(calls[i] == "setup-" + calls[i + 1] for i in range(0, len(calls), 2))
    assert {name: len(times) for name, times in samples.items()} == {"a": 3, "b": 3, "c": 3}
    assert all(t >= 0 for times in samples.values() for t in times)


def test_runs_must_be_positive():
    with pytest.raises(ValueError, match="runs must be >= 1"):
        time_interleaved([Contestant("a", lambda: None)], runs=0)


def test_case_result_medians_ratios_and_targets():
    result = CaseResult(
        benchmark="b", case="c",
        samples={"zarrlayer": [1.0, 3.0, 2.0], "zarr-python": [9.0, 5.0, 6.0], "raw loop": [1.0, 1.5, 2.0]},
        floor="raw loop", target=2.5, floor_target=1.5, units=4,
    )
    assert result.median("zarrlayer") == 2.0
    assert result.speedup == pytest.approx(3.0)
    assert result.floor_ratio == pytest.approx(2.0 / 1.5)
    assert result.per_unit == pytest.approx(0.5)
    assert result.met is True
    result.floor_target = 1.2
    assert result.met is False
    assert CaseResult(benchmark="b", case="c", samples={"zarrlayer": [1.0]}).met is None


def test_run_case_drops_a_floor_that_did_not_run():
    result = run_case("b", "c", [Contestant("zarrlayer", lambda: None)], runs=1, warmup=0,
                      floor="raw loop", floor_target=1.5)
    assert result.floor is None and result.floor_target is None and result.floor_ratio is None


def test_table_shows_each_case_with_its_figures():
    result = CaseResult(benchmark="b", case="read big", samples={"zarrlayer": [0.002], "zarr-python": [0.010]},
                        target=8.0)
    table = format_table([result]).splitlines()
    assert table[0].split()[:4] == ["case", "zarrlayer", "peer", "speedup"]
    assert table[2].startswith("read big")
    assert "2.0 ms" in table[2] and "10.0 ms" in table[2] and "5.00x" in table[2] and "MISS" in table[2]
    result.samples["zarrs"], result.peer = [0.001], "zarrs"  # a peer other than zarr-python is named
    assert "1.0 ms (zarrs)" in format_table([result]).splitlines()[2]


def test_format_seconds_picks_a_unit():
    assert [format_seconds(s) for s in (2.5, 0.0123, 4.5e-5, None)] == ["2.50 s", "12.3 ms", "45.0 µs", "-"]


def test_results_round_trip_through_json_and_plot(tmp_path):
    result = CaseResult(benchmark="demo", case="c1", samples={"zarrlayer": [1.0], "zarr-python": [4.0]}, target=2.0)
    path = save_results("demo", [result], extra={"memory": {"ratio": 1.1}}, directory=tmp_path)
    document = json.loads(path.read_text())
    assert path.name == "demo.json"
    assert document["cases"][0]["speedup"] == 4.0 and document["cases"][0]["met"] is True
    assert document["memory"] == {"ratio": 1.1} and document["environment"]["cpu_count"] >= 1
    assert load_results(tmp_path) == [document]
    png = plot_results([document], tmp_path / "plot.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cpu_time_is_recorded_and_compared():
    def spin(seconds: float) -> None:
        import time

        end = time.process_time() + seconds
        while time.process_time() < end:
            pass

    contestants = [Contestant("zarrlayer", lambda: spin(0.002)), Contestant("zarr-python", lambda: spin(0.008))]
    result = run_case("b", "c", contestants, runs=3, warmup=0)
    assert {name: len(v) for name, v in result.cpu_samples.items()} == {"zarrlayer": 3, "zarr-python": 3}
    assert min(result.cpu_samples["zarrlayer"]) >= 0.002 and min(result.cpu_samples["zarr-python"]) >= 0.008
    assert 2.0 < result.cpu_speedup < 6.0
    assert result.to_json()["cpu_speedup"] == result.cpu_speedup
    assert f"{result.cpu_speedup:.2f}x" in format_table([result])
