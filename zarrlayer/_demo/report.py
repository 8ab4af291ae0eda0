"""The demo's printed report: one short block per step, a summary table, the results."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from zarrlayer._cli._format import human_bytes

__all__ = ["Report"]


def _rate(hits: int, misses: int) -> str:
    total = hits + misses
    return f"{100.0 * hits / total:.0f}% of {total}" if total else "-"


class Report:
    """Writes the demo's progress and results to `out` as they happen."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._steps = 0

    def _step(self, text: str) -> None:
        self._steps += 1
        self._line(f"[{self._steps}] {text}")

    def _line(self, text: str = "") -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def start(self, spec: Any, work: Path) -> None:
        self._line("zarrlayer demo: write -> serve over HTTP -> xarray + dask through caches")
        self._line(f"  working directory: {work}")

    def written(self, spec: Any, seconds: float, stored: int) -> None:
        shape = f"{spec.ntime} days x {spec.nlat} lat x {spec.nlon} lon"
        self._step(f"wrote climate.zarr ({shape}, temperature + precipitation float32, "
                   f"{human_bytes(spec.nbytes)} in memory) in {seconds:.1f} s")
        self._line(f"    Zarr v3, sharded: shards {spec.shards}, inner chunks {spec.chunks}; "
                   f"{human_bytes(stored)} on disk (zstd)")

    def serving(self, url: str, latency: float) -> None:
        self._step(f"serving {url} on loopback, {latency * 1000:.0f} ms added per request")

    def dataset(self, ds: Any, seconds: float, traffic: Any) -> None:
        self._step(f"xr.open_dataset(url, engine='zarrlayer', chunks={{}}, store_cache=memory+disk) "
                   f"in {seconds:.2f} s ({traffic.requests} requests, {human_bytes(traffic.nbytes)}); lazy:")
        for line in str(ds).splitlines():
            self._line(f"      {line}")
        data = ds[next(iter(ds.data_vars))].data
        self._line(f"    dask: chunks={{}} gives one task per stored shard, {data.chunksize}: "
                   f"{data.npartitions} tasks per variable")

    def step(self, run: Any) -> None:
        self._step(f"time mean + regional mean, {run.name}: {run.seconds:.2f} s, {run.traffic.requests} requests, "
                   f"{human_bytes(run.traffic.nbytes)} from the server")

    def reopened(self, seconds: float, traffic: Any) -> None:
        self._step(f"closed and re-opened with a fresh memory cache, same disk cache: {seconds:.2f} s, "
                   f"{traffic.requests} requests")

    def summary(self, passes: list[Any]) -> None:
        self._line("")
        header = f"{'pass':<30}{'time':>8}{'requests':>10}{'fetched':>12}  {'memory hits':<13}{'disk hits':<13}"
        self._line(header.rstrip())
        self._line("-" * len(header.rstrip()))
        for run in passes:
            memory = _rate(run.cache.get("memory_hits", 0), run.cache.get("memory_misses", 0))
            disk = _rate(run.cache.get("disk_hits", 0), run.cache.get("disk_misses", 0))
            self._line(f"{run.name:<30}{run.seconds:>7.2f}s{run.traffic.requests:>10}"
                       f"{human_bytes(run.traffic.nbytes):>12}  {memory:<13}{disk:<13}".rstrip())
        cold, best = passes[0].seconds, min(p.seconds for p in passes[1:])
        self._line(f"warm is {cold / max(best, 1e-9):.1f}x faster than cold")

    def results(self, results: dict[str, float], max_error: float, tolerance: float) -> None:
        self._line("")
        self._line("results (time mean of temperature; area-weighted daily precipitation over 35-70N, 10W-40E):")
        g = results["global_mean_temperature_K"]
        self._line(f"  global mean temperature      {g:8.2f} K  ({g - 273.15:+.2f} degC)")
        self._line(f"  warmest / coldest grid cell  {results['warmest_K']:8.2f} K / {results['coldest_K']:.2f} K")
        self._line(f"  regional mean precipitation  {results['regional_precip_mm_day']:8.3f} mm/day "
                   f"(wettest day {results['wettest_day_mm_day']:.3f} mm/day)")
        verdict = "OK" if max_error < tolerance else f"MISMATCH (tolerance {tolerance:g})"
        self._line(f"  check against the values written: max |error| {max_error:.2e} -> {verdict}")
