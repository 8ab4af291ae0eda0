"""Run every benchmark (`benchmarks/bench_*.py`), then print one summary table and draw the plot.

    python benchmarks/run_all.py            # full runs; results in benchmarks/results/, plot in benchmarks/results.png
    python benchmarks/run_all.py --quick    # tiny sizes, 1-2 runs, every script at once; plot stays in the results dir
    python benchmarks/run_all.py --quick --runs 1   # the smoke test: each script once, tiny
    python benchmarks/run_all.py --only engine,cache

Each script runs in its own process (so one's imports, threads and memory never colour
another's figures) with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed from its environment.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BENCH_DIR,
    PLOT_PATH,
    CaseResult,
    add_common_args,
    format_table,
    load_results,
    plot_peers,
    plot_results,
)

__all__ = ["benchmark_scripts", "main"]

_DROPPED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def benchmark_scripts(only: set[str] | None = None) -> list[Path]:
    """The benchmark scripts, engine first; `only` keeps those named (`engine` for bench_engine.py)."""
    scripts = sorted(BENCH_DIR.glob("bench_*.py"), key=lambda p: (p.stem != "bench_engine", p.stem))
    if only:
        scripts = [p for p in scripts if p.stem.removeprefix("bench_") in only]
    return scripts


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    root = str(BENCH_DIR.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), root, env.get("PYTHONPATH")]))
    return env


def _script_args(args: argparse.Namespace) -> list[str]:
    out = ["--results-dir", str(args.results_dir)]
    if args.quick:
        out.append("--quick")
    if args.runs is not None:
        out += ["--runs", str(args.runs)]
    if args.warmup is not None:
        out += ["--warmup", str(args.warmup)]
    return out


def _run_scripts(scripts: list[Path], script_args: list[str], jobs: int) -> list[tuple[str, int]]:
    """Run every script (`jobs` at a time), printing each one's output as one section in order; (name, exit code)s.

    One at a time, output streams as it comes. Several at a time (the smoke run: figures
    do not matter there, only that everything runs), each script's output is held until
    it ends, so sections never interleave.
    """
    if jobs <= 1:
        codes = []
        for script in scripts:
            print(f"\n=== {script.name} ===", flush=True)
            codes.append((script.name, subprocess.call([sys.executable, str(script), *script_args], env=_child_env())))
        return codes
    with tempfile.TemporaryDirectory(prefix="zarrlayer-run-all-") as tmp:
        logs = [Path(tmp) / f"{script.stem}.log" for script in scripts]
        running: list[tuple[int, subprocess.Popen[bytes], Any]] = []
        codes_by_index: dict[int, int] = {}
        for i, (script, log) in enumerate(zip(scripts, logs)):
            while len(running) >= jobs:
                running = _reap(running, codes_by_index)
            out = log.open("wb")
            proc = subprocess.Popen([sys.executable, str(script), *script_args], env=_child_env(),
                                    stdout=out, stderr=subprocess.STDOUT)
            running.append((i, proc, out))
        while running:
            running = _reap(running, codes_by_index)
        for i, (script, log) in enumerate(zip(scripts, logs)):
            print(f"\n=== {script.name} ===", flush=True)
            sys.stdout.write(log.read_text(errors="replace"))
            sys.stdout.flush()
    return [(script.name, codes_by_index[i]) for i, script in enumerate(scripts)]


def _reap(running: list[tuple[int, subprocess.Popen[bytes], Any]], codes: dict[int, int]) -> list[tuple[int, subprocess.Popen[bytes], Any]]:
    """Wait a moment for any running script to end; record the ended ones' exit codes."""
    time.sleep(0.05)
    still = []
    for i, proc, out in running:
        code = proc.poll()
        if code is None:
            still.append((i, proc, out))
        else:
            out.close()
            codes[i] = code
    return still


def _summary(documents: list[dict]) -> str:
    results = []
    for document in documents:
        for case in document["cases"]:
            results.append(
                CaseResult(
                    benchmark=case["benchmark"],
                    case=f"{case['benchmark']}: {case['case']}",
                    samples=case["samples"],
                    subject=case.get("subject", "zarrlayer"),
                    peer=case.get("peer"),
                    floor=case.get("floor"),
                    target=case.get("target"),
                    floor_target=case.get("floor_target"),
                    units=case.get("units"),
                    unit_name=case.get("unit_name", "chunk"),
                    cpu_samples=case.get("cpu_samples") or {},
                )
            )
    return format_table(results)


def main(argv: list[str] | None = None) -> int:
    """Run the scripts one after another; exit 1 if any failed (the others still run)."""
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--only", default="", help="comma-separated names, e.g. engine,cache")
    parser.add_argument("--plot", type=Path, default=None, help="where the plot goes")
    parser.add_argument("--jobs", type=int, default=None,
                        help="scripts run at once (default: 1, so timings do not disturb each other; --quick: all)")
    args = parser.parse_args(argv)
    only = {name.strip() for name in args.only.split(",") if name.strip()} or None
    scripts = benchmark_scripts(only)
    if not scripts:
        print(f"no benchmark scripts matched --only {args.only!r} in {BENCH_DIR}", file=sys.stderr)
        return 2
    args.results_dir.mkdir(parents=True, exist_ok=True)
    jobs = args.jobs if args.jobs is not None else (len(scripts) if args.quick else 1)
    failed = [f"{name} (exit {code})" for name, code in _run_scripts(scripts, _script_args(args), jobs) if code != 0]
    names = {p.stem.removeprefix("bench_") for p in scripts}
    documents = [d for d in load_results(args.results_dir) if d.get("benchmark") in names]
    if documents:
        print("\n=== summary ===")
        print(_summary(documents))
        for document in documents:
            for line in document.get("summary_lines", []):
                print(f"{document['benchmark']}: {line}")
        plot = args.plot or (args.results_dir / "results-quick.png" if args.quick else PLOT_PATH)
        peers = [d for d in documents if d.get("benchmark") in ("peers", "xarray_dask")]
        if peers:  # every peer in one picture; the zarr-python-only plot of the other scripts beside it
            print(f"\nplot: {plot_peers(peers, plot)}")
            others = [d for d in documents if d not in peers and d.get("benchmark") != "bridge"]  # bridge: vs our engine
            if others:
                print(f"plot (against zarr-python): {plot_results(others, plot.with_name(plot.stem + '-zarr-python.png'))}")
        else:
            print(f"\nplot: {plot_results([d for d in documents if d.get('benchmark') != 'bridge'] or documents, plot)}")
        print(f"results: {args.results_dir}")
    if failed:
        print("\nFAILED: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
