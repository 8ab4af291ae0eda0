"""Every benchmark runs in --quick mode through run_all.py and prints and saves a full table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))
ENGINE_CASES = ("read ", "read ", "sharded full read", "sharded window", "write ", "write ", "open consolidated group")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One `run_all.py --quick --runs 1` over every script (all at once); (exit code, stdout, results dir)."""
    results = tmp_path_factory.mktemp("bench-results")
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / "run_all.py"), "--quick", "--runs", "1", "--results-dir", str(results)],
        capture_output=True, text=True, timeout=600,
    )
    return proc, results


def test_run_all_succeeds_and_draws_the_plot(quick_run):
    proc, results = quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "=== summary ===" in proc.stdout
    plot = results / "results-quick.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_benchmark_saves_timed_cases_and_prints_them(quick_run, name):
    proc, results = quick_run
    assert f"=== bench_{name}.py ===" in proc.stdout
    document = json.loads((results / f"{name}.json").read_text())
    assert document["benchmark"] == name and document["cases"], f"{name} saved no cases"
    section = proc.stdout.split(f"=== bench_{name}.py ===", 1)[1]
    for case in document["cases"]:
        subject_times = case["samples"][case["subject"]]
        assert subject_times and all(t > 0 for t in subject_times), case["case"]
        if case.get("peer"):
            assert case["samples"][case["peer"]] and case["speedup"] > 0, case["case"]
        assert case["case"] in section, f"case {case['case']!r} missing from the printed table"


def test_engine_covers_every_case_with_both_libraries_and_the_floor(quick_run):
    proc, results = quick_run
    document = json.loads((results / "engine.json").read_text())
    cases = document["cases"]
    assert [c["case"].startswith(prefix) for c, prefix in zip(cases, ENGINE_CASES)] == [True] * len(ENGINE_CASES)
    assert len(cases) == len(ENGINE_CASES)
    for case in cases:
        assert set(case["samples"]) >= {"zarrlayer", "zarr-python"}
        if not case["case"].startswith("open"):
            assert case["floor"] == "raw loop" and case["floor_ratio"] > 0
    memory = document["memory"]
    for library in ("zarrlayer", "zarr-python"):
        assert memory[library]["traced_peak_bytes"] >= memory["array_nbytes"]
    summary = proc.stdout.split("=== summary ===", 1)[1]
    assert "engine: peak memory of the big full read" in summary
