"""`zarrlayer demo`: the main job, end to end, on loopback only.

1. write a synthetic climate dataset (Zarr v3, sharded, consolidated) to a directory;
2. serve it over HTTP on 127.0.0.1 with a realistic latency per request;
3. open it lazily with `xr.open_dataset(url, engine="zarrlayer", chunks={}, store_cache=...)`
   through a memory cache in front of a disk cache;
4. compute a time mean and a regional average with dask, three times: cold (from HTTP),
   warm from memory (same dataset), and warm from the disk cache (a fresh open);
5. report timings, the server's requests and bytes, cache hit rates, and the results,
   checked against the exact values computed while writing.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from zarrlayer._cli.options import CLIUsageError
from zarrlayer._demo.caches import build_cache, cache_stats, stats_delta
from zarrlayer._demo.dataset import REGION, DatasetSpec, Expected, write_dataset
from zarrlayer._demo.report import Report
from zarrlayer._demo.traffic import Traffic, traffic_since
from zarrlayer.errors import missing_dependency

__all__ = ["DemoResult", "Pass", "run_demo"]

_DATASET = "climate.zarr"
TOLERANCE = 1e-3
"""Largest difference from the exact answers (float64, computed while writing) that counts as correct."""


@dataclass(frozen=True)
class Pass:
    """One timed computation: how long it took, what the server sent, what the caches saw."""

    name: str
    seconds: float
    traffic: Traffic
    cache: dict[str, Any]
    results: dict[str, float]


@dataclass(frozen=True)
class DemoResult:
    """Everything the demo measured, for callers (tests, benchmarks) that want numbers, not text."""

    spec: DatasetSpec
    write_seconds: float
    stored_bytes: int
    passes: list[Pass]
    max_error: float

    @property
    def ok(self) -> bool:
        """Whether every result matched the values written, within TOLERANCE."""
        return self.max_error < TOLERANCE


@contextlib.contextmanager
def _workdir(directory: str | Path | None) -> Iterator[Path]:
    if directory is not None:
        path = Path(directory).expanduser().absolute()
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="zarrlayer-demo-", ignore_cleanup_errors=True) as tmp:
        yield Path(tmp)


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def _stored_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def open_dataset(url: str, cache: Any) -> Any:
    """The dataset at `url`, lazily, with dask chunks from the stored layout, read through `cache`."""
    import xarray as xr

    return xr.open_dataset(url, engine="zarrlayer", chunks={}, store_cache=cache)


def compute(ds: Any) -> dict[str, Any]:
    """The time-mean temperature map and the daily area-weighted precipitation over the region."""
    import dask
    import numpy as np

    box = ds.precipitation.sel(lat=slice(*REGION["lat"]), lon=slice(*REGION["lon"]))
    weights = np.cos(np.deg2rad(box.lat))
    # explicit weights rather than .weighted(): its dot product keeps dask from reading
    # only the region's inner chunks, so it would fetch whole shards
    regional = (box * weights).sum(("lat", "lon")) / (weights.sum() * box.sizes["lon"])
    mean_map, regional = dask.compute(ds.temperature.mean("time"), regional)
    return {"mean_map": mean_map, "regional": regional}


def _summarize(values: dict[str, Any]) -> dict[str, float]:
    import numpy as np

    mean_map, regional = values["mean_map"], values["regional"]
    weights = np.cos(np.deg2rad(mean_map.lat))
    return {
        "global_mean_temperature_K": float(mean_map.weighted(weights).mean()),
        "warmest_K": float(mean_map.max()),
        "coldest_K": float(mean_map.min()),
        "regional_precip_mm_day": float(regional.mean()),
        "wettest_day_mm_day": float(regional.max()),
    }


def _max_error(values: dict[str, Any], expected: Expected, spec: DatasetSpec) -> float:
    import numpy as np

    map_error = np.abs(values["mean_map"].values - expected.mean_temperature_map(spec.ntime)).max()
    series_error = np.abs(values["regional"].values - np.asarray(expected.regional_precip)).max()
    return float(max(map_error, series_error))


def _run_pass(name: str, ds: Any, cache: Any, server: Any) -> tuple[Pass, dict[str, Any]]:
    mark = len(server.requests)
    before = cache_stats(cache)
    seconds, values = _timed(compute, ds)
    counters = stats_delta(before, cache_stats(cache))
    return Pass(name, seconds, traffic_since(server, mark), counters, _summarize(values)), values


def _serve_and_compute(work: Path, latency: float, report: Report, expected: Expected,
                       spec: DatasetSpec) -> tuple[list[Pass], float]:
    from zarrlayer.testing.servers import http_server

    cache_dir = work / "cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    with http_server(work, latency=latency) as server:
        url = f"{server.url}/{_DATASET}"
        report.serving(url, latency)
        cache = build_cache(url, cache_dir)
        open_seconds, ds = _timed(open_dataset, url, cache)
        report.dataset(ds, open_seconds, traffic_since(server))
        cold, values = _run_pass("cold (HTTP)", ds, cache, server)
        report.step(cold)
        warm_memory, _ = _run_pass("warm (memory cache)", ds, cache, server)
        report.step(warm_memory)
        ds.close()
        mark = len(server.requests)
        cache = build_cache(url, cache_dir)
        reopen_seconds, ds = _timed(open_dataset, url, cache)
        report.reopened(reopen_seconds, traffic_since(server, mark))
        warm_disk, _ = _run_pass("warm (disk cache, fresh open)", ds, cache, server)
        report.step(warm_disk)
        ds.close()
    return [cold, warm_memory, warm_disk], _max_error(values, expected, spec)


def _require(package: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(package) is None:
        raise missing_dependency(package, extra, "zarrlayer demo")


def run_demo(directory: str | Path | None = None, *, quick: bool = False, latency_ms: float | None = None,
             out: TextIO | None = None) -> DemoResult:
    """Run the demo, printing its report to `out` (stdout by default); returns the measurements."""
    _require("xarray", "xarray")
    _require("dask", "dask")
    _require("diskcache", "cache")
    if latency_ms is not None and not latency_ms >= 0:
        raise CLIUsageError(f"expected a latency of 0 ms or more, found {latency_ms}")
    spec = DatasetSpec.quick() if quick else DatasetSpec.full()
    latency = (latency_ms if latency_ms is not None else (5.0 if quick else 30.0)) / 1000.0
    report = Report(out or sys.stdout)
    with _workdir(directory) as work:
        report.start(spec, work)
        write_seconds, expected = _timed(write_dataset, work / _DATASET, spec)
        stored = _stored_bytes(work / _DATASET)
        report.written(spec, write_seconds, stored)
        passes, max_error = _serve_and_compute(work, latency, report, expected, spec)
        report.results(passes[0].results, max_error, TOLERANCE)
        report.summary(passes)
    return DemoResult(spec, write_seconds, stored, passes, max_error)
