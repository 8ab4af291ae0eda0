"""Shared helpers for every benchmark: interleaved timing, medians, tables, JSON results, the plot.

A benchmark script (`benchmarks/bench_*.py`) builds `Contestant`s per case, times them with
`run_case` (contestants interleaved run by run, so machine noise hits all of them alike),
prints `format_table(results)`, and writes `save_results(name, results)` to
`benchmarks/results/<name>.json`. `run_all.py` runs every script and draws `plot_results`.
Every script accepts the arguments of `add_common_args` (`--quick` above all).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH_DIR",
    "PLOT_PATH",
    "RESULTS_DIR",
    "CaseResult",
    "Contestant",
    "add_common_args",
    "environment_info",
    "format_seconds",
    "format_table",
    "load_results",
    "plot_peers",
    "plot_results",
    "print_flush",
    "print_progress",
    "resolve_runs",
    "run_case",
    "save_results",
    "time_interleaved",
]

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
PLOT_PATH = BENCH_DIR / "results.png"
SUBJECT = "zarrlayer"
PEER = "zarr-python"


@dataclass
class Contestant:
    """One implementation of a case: `run` is timed, `setup` (untimed) runs before every call of it."""

    name: str
    run: Callable[[], object]
    setup: Callable[[], object] | None = None


@dataclass
class CaseResult:
    """The samples of one case (seconds per run, per contestant) and what they are held against.

    `target` is the speedup the subject must reach over the peer; `floor_target` the most the
    subject may cost relative to the floor contestant (a raw loop), when there is one.
    """

    benchmark: str
    case: str
    samples: dict[str, list[float]]
    subject: str = SUBJECT
    peer: str | None = PEER
    floor: str | None = None
    target: float | None = None
    floor_target: float | None = None
    units: int | None = None
    unit_name: str = "chunk"
    notes: dict[str, Any] = field(default_factory=dict)
    cpu_samples: dict[str, list[float]] = field(default_factory=dict)
    """Process CPU seconds per run (all threads), when measured: steadier than wall time on a busy machine."""

    def median(self, name: str | None) -> float | None:
        """Median seconds of contestant `name` (None when it did not run)."""
        values = self.samples.get(name or "")
        return statistics.median(values) if values else None

    @property
    def speedup(self) -> float | None:
        """How many times faster the subject is than the peer (median over median)."""
        subject, peer = self.median(self.subject), self.median(self.peer)
        return peer / subject if subject and peer else None

    @property
    def cpu_speedup(self) -> float | None:
        """Peer CPU time over subject CPU time (medians), when CPU time was measured."""
        subject, peer = self.cpu_samples.get(self.subject), self.cpu_samples.get(self.peer or "")
        return statistics.median(peer) / statistics.median(subject) if subject and peer and min(subject) > 0 else None

    @property
    def floor_ratio(self) -> float | None:
        """Subject time over floor time: 1.0 means the subject is as fast as the raw loop."""
        subject, floor = self.median(self.subject), self.median(self.floor)
        return subject / floor if subject and floor else None

    @property
    def per_unit(self) -> float | None:
        """Subject median seconds per unit (per chunk), when the case counts units."""
        subject = self.median(self.subject)
        return subject / self.units if subject and self.units else None

    @property
    def met(self) -> bool | None:
        """Whether every target set for the case is reached (None when none is set)."""
        checks = []
        if self.target is not None and self.speedup is not None:
            checks.append(self.speedup >= self.target)
        if self.floor_target is not None and self.floor_ratio is not None:
            checks.append(self.floor_ratio <= self.floor_target)
        return all(checks) if checks else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record with the raw samples and the derived figures."""
        return {
            "benchmark": self.benchmark,
            "case": self.case,
            "subject": self.subject,
            "peer": self.peer,
            "floor": self.floor,
            "samples": self.samples,
            "medians": {name: self.median(name) for name in self.samples},
            "speedup": self.speedup,
            "target": self.target,
            "floor_ratio": self.floor_ratio,
            "floor_target": self.floor_target,
            "units": self.units,
            "unit_name": self.unit_name,
            "per_unit_s": self.per_unit,
            "cpu_samples": self.cpu_samples,
            "cpu_speedup": self.cpu_speedup,
            "met": self.met,
            "notes": self.notes,
        }


def time_interleaved(
    contestants: Sequence[Contestant], *, runs: int, warmup: int = 1, cpu: dict[str, list[float]] | None = None
) -> dict[str, list[float]]:
    """Seconds per run of each contestant; run i starts at contestant i mod n, so order effects cancel.

    When `cpu` is given, it receives the process CPU seconds of each timed run too.
    """
    if runs < 1:
        raise ValueError(f"runs must be >= 1, found {runs}")
    samples: dict[str, list[float]] = {c.name: [] for c in contestants}
    n = len(contestants)
    for i in range(warmup + runs):
        for j in range(n):
            contestant = contestants[(i + j) % n]
            if contestant.setup is not None:
                contestant.setup()
            gc.collect()
            cpu_start = time.process_time()
            start = time.perf_counter()
            contestant.run()
            elapsed = time.perf_counter() - start
            cpu_elapsed = time.process_time() - cpu_start
            if i >= warmup:
                samples[contestant.name].append(elapsed)
                if cpu is not None:
                    cpu.setdefault(contestant.name, []).append(cpu_elapsed)
    return samples


def run_case(
    benchmark: str,
    case: str,
    contestants: Sequence[Contestant],
    *,
    runs: int,
    warmup: int = 1,
    **result_options: Any,
) -> CaseResult:
    """Time `contestants` interleaved and wrap the samples in a CaseResult (options as its fields)."""
    names = {c.name for c in contestants}
    floor = result_options.get("floor")
    if floor is not None and floor not in names:
        result_options = {**result_options, "floor": None, "floor_target": None}
    cpu: dict[str, list[float]] = {}
    samples = time_interleaved(contestants, runs=runs, warmup=warmup, cpu=cpu)
    return CaseResult(benchmark=benchmark, case=case, samples=samples, cpu_samples=cpu, **result_options)


def format_seconds(seconds: float | None) -> str:
    """A short human time: `12.3 ms`, `45.6 µs`, `1.23 s`."""
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _ratio(value: float | None, suffix: str = "x") -> str:
    return "-" if value is None else f"{value:.2f}{suffix}"


def format_table(results: Iterable[CaseResult]) -> str:
    """A plain-text table: medians per contestant, speedup over the peer, distance to the floor, targets."""
    rows = [
        ("case", SUBJECT, "peer", "speedup", "target", "raw loop", "vs raw", "max", "per unit", "cpu x", "met")
    ]
    for r in results:
        met = {True: "yes", False: "MISS", None: ""}[r.met]
        per_unit = f"{format_seconds(r.per_unit)}/{r.unit_name}" if r.per_unit else "-"
        rows.append(
            (
                r.case,
                format_seconds(r.median(r.subject)),
                f"{format_seconds(r.median(r.peer))}" + (f" ({r.peer})" if r.peer and r.peer != PEER else ""),
                _ratio(r.speedup),
                ">=" + _ratio(r.target) if r.target else "-",
                format_seconds(r.median(r.floor)),
                _ratio(r.floor_ratio),
                "<=" + _ratio(r.floor_target) if r.floor_target else "-",
                per_unit,
                _ratio(r.cpu_speedup),
                met,
            )
        )
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def environment_info() -> dict[str, Any]:
    """What the figures depend on: versions, cores, load; recorded next to every result."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        info["loadavg"] = os.getloadavg()
    except OSError:
        pass
    for module in ("numpy", "numcodecs", "zarr", "zarrlayer"):
        try:
            info[module] = __import__(module).__version__
        except Exception:  # a missing peer is recorded, not fatal
            info[module] = None
    return info


def save_results(
    benchmark: str,
    results: Sequence[CaseResult],
    *,
    extra: Mapping[str, Any] | None = None,
    directory: Path | None = None,
) -> Path:
    """Write `<directory>/<benchmark>.json` (default benchmarks/results/) and return its path.

    `extra` is merged into the document; a `summary_lines` list of strings there is printed
    under run_all's summary table.
    """
    directory = Path(directory) if directory is not None else RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": benchmark,
        "environment": environment_info(),
        "cases": [r.to_json() for r in results],
        **(dict(extra) if extra else {}),
    }
    path = directory / f"{benchmark}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, default=_json_default))
    tmp.replace(path)
    return path


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def load_results(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every results document in `directory` (default benchmarks/results/), by benchmark name."""
    directory = Path(directory) if directory is not None else RESULTS_DIR
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


def plot_results(documents: Sequence[Mapping[str, Any]], out: Path | None = None) -> Path:
    """A bar chart of zarrlayer's speedup over zarr-python per case, with the targets marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c for d in documents for c in d["cases"] if c.get("speedup")]
    out = Path(out) if out is not None else PLOT_PATH
    height = max(2.5, 0.42 * len(cases) + 1.4)
    fig, ax = plt.subplots(figsize=(10, height))
    labels = [f"{c['benchmark']}: {c['case']}" for c in cases]
    speedups = [c["speedup"] for c in cases]
    colors = ["#3a7d44" if c.get("met") is not False else "#c0392b" for c in cases]
    y = list(range(len(cases)))
    ax.barh(y, speedups, color=colors)
    for yi, c in zip(y, cases):
        if c.get("target"):
            ax.plot([c["target"]] * 2, [yi - 0.4, yi + 0.4], color="black", linewidth=2)
        ax.text(c["speedup"] * 1.03, yi, f"{c['speedup']:.1f}x", va="center", fontsize=8)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("speedup over zarr-python (median; black tick = target; red = target missed)")
    env = documents[0].get("environment", {}) if documents else {}
    ax.set_title(
        f"zarrlayer vs zarr-python {env.get('zarr', '?')} on {env.get('cpu_count', '?')} cores "
        f"({env.get('time_utc', '')})",
        fontsize=10,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def add_common_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments every benchmark script takes: --quick, --runs, --warmup, --results-dir."""
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 1-2 runs (smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per contestant (default 7, quick 2)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed runs first (default 1, quick 0)")
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON results go"
    )
    return parser


def resolve_runs(args: argparse.Namespace) -> tuple[int, int]:
    """(runs, warmup) from parsed common args, with the quick-mode defaults."""
    runs = args.runs if args.runs is not None else (2 if args.quick else 7)
    warmup = args.warmup if args.warmup is not None else (0 if args.quick else 1)
    return runs, warmup


def print_flush(*parts: object) -> None:
    """print() that shows up at once when stdout is a pipe (run_all streams it)."""
    print(*parts, flush=True, file=sys.stdout)


def print_progress(result: CaseResult) -> None:
    """One line per finished case, its median per contestant, so a long run shows where it is."""
    medians = ", ".join(f"{name} {format_seconds(result.median(name))}" for name in result.samples)
    print_flush(f"  {result.case}: {medians}")



_PEER_COLORS = {
    "zarr-python": "#1f77b4",
    "zarr-python (equal concurrency)": "#6baed6",
    "zarrs": "#d62728",
    "tensorstore": "#2ca02c",
    "raw loop x2": "#7f7f7f",
    "raw client": "#bdbdbd",
}


def plot_peers(documents: Sequence[Mapping[str, Any]], out: Path | None = None) -> Path:
    """One row per case, one dot per contestant at (its median / zarrlayer's median): right of 1 = zarrlayer faster.

    Every contestant that ran is drawn, so the cases zarrlayer loses show as dots left of 1.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c for d in documents for c in d["cases"] if c["medians"].get(c.get("subject", SUBJECT))]
    out = Path(out) if out is not None else PLOT_PATH
    fig, ax = plt.subplots(figsize=(11, max(3.0, 0.38 * len(cases) + 1.6)))
    seen: set[str] = set()
    for y, case in enumerate(cases):
        subject = case["medians"][case.get("subject", SUBJECT)]
        best = case.get("speedup")
        for name, median in case["medians"].items():
            if name == case.get("subject", SUBJECT) or not median:
                continue
            color = _PEER_COLORS.get(name, "#9467bd")
            ax.scatter(median / subject, y, color=color, s=28, zorder=3, label=None if name in seen else name,
                       marker="s" if name.startswith("raw") else "o")
            seen.add(name)
        if best:
            ax.text(ax.get_xlim()[0] if False else 1.0, y - 0.32, f" best peer {best:.2f}x", fontsize=7,
                    color="#c0392b" if best < 1 else "#3a7d44")
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(cases)), [f"{c['benchmark']}: {c['case']}" for c in cases], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("contestant's median time / zarrlayer's (right of 1: zarrlayer faster; red label: the best peer is faster)")
    env = documents[0].get("environment", {}) if documents else {}
    ax.set_title(f"zarrlayer against every peer, {env.get('cpu_count', '?')} cores ({env.get('time_utc', '')})", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
