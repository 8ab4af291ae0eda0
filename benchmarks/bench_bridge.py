"""The bridge: xarray's own zarr engine reading through zarrlayer's cache stack, beside zarrlayer's engine.

    python benchmarks/bench_bridge.py [--quick] [--runs N] [--chunks N] [--latency S]

A dataset of one float32 variable in `--chunks` (128) chunks of 16x64x64 (256 KiB) plus its
coordinates, written by xarray (zarr-python, v3, consolidated), is served from 127.0.0.1
with `--latency` (30 ms) added to every request. Each run opens the dataset and loads all of
it through the same cache stack, `MemoryCacheStore(DiskCacheStore(FsspecStore(http)))`:

- "bridge":           xr.open_zarr(zarrlayer.as_zarr_store(stack)).load(), zarr-python's
                      default config (async.concurrency 10)
- "bridge, matched":  the same inside zarr.config.set({"async.concurrency": N}), N being
                      zarrlayer's max_concurrency (64), the limit the engine reads under
- "zarrlayer engine": xr.open_dataset(stack, engine="zarrlayer", chunks={}).load()

(the same dask chunks, one task per stored chunk, as open_zarr's default) in three cases:
cold (a new, empty cache directory every run); warm from disk (a separate process per
contestant, a new stack over the filled directory every run, nothing cached in memory);
warm from memory (the same stack object again). A fourth case, cold without dask
(`chunks=None`: one read of the whole variable), shows where zarr-python's concurrency
limit does matter. Runs are interleaved; figures are medians. The cold cases also record
each contestant's HTTP requests and the most the server saw in flight at once.
Target: the bridge costs at most 10% over the engine (speedup >= 0.91). Warm reads must
make no HTTP request (the script fails otherwise).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    CaseResult,
    Contestant,
    add_common_args,
    format_table,
    print_flush,
    print_progress,
    resolve_runs,
    save_results,
    time_interleaved,
)

__all__ = ["main"]

NAME = "bridge"
BRIDGE = "bridge"
MATCHED = "bridge, matched"
ENGINE = "zarrlayer engine"
CONTESTANTS = (BRIDGE, MATCHED, ENGINE)
TARGET = 1 / 1.10  # the bridge may cost at most 10% over the engine


def _write_dataset(root: Path, chunks: int) -> Any:
    import xarray as xr

    time_chunks = max(1, chunks // 4)
    shape = (16 * time_chunks, 128, 128)
    rng = np.random.default_rng(3)
    values = (rng.standard_normal(shape) * 10).round(2).astype("f4")
    ds = xr.Dataset(
        {"t": (("time", "y", "x"), values, {"units": "K"})},
        coords={"time": np.arange(shape[0], dtype="i8"), "y": np.arange(128.0), "x": np.arange(128.0)},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(str(root / "ds.zarr"), zarr_format=3, consolidated=True,
                   encoding={"t": {"chunks": (16, 64, 64)}})
    return ds


def _stack(url: str, cache_dir: str) -> Any:
    from zarrlayer.cache import DiskCacheStore, MemoryCacheStore
    from zarrlayer.storage.fsspec import FsspecStore

    return MemoryCacheStore(DiskCacheStore(FsspecStore.from_url(url), cache_dir, "4 GiB"), "1 GiB")


def matched_concurrency() -> int:
    """zarrlayer's limit on requests in flight per remote store, the one the engine reads under."""
    import zarrlayer

    return int(zarrlayer.config.get("max_concurrency"))


def _load(contestant: str, stack: Any, *, use_dask: bool = True, opened: Callable[[], None] | None = None) -> Any:
    """Open and load the dataset as `contestant` does; `opened` is called between the two."""
    import xarray as xr
    import zarr

    import zarrlayer

    settings = {"async.concurrency": matched_concurrency()} if contestant == MATCHED else {}
    with warnings.catch_warnings(), zarr.config.set(settings):
        warnings.simplefilter("ignore")
        if contestant == ENGINE:
            ds = xr.open_dataset(stack, engine="zarrlayer", chunks={} if use_dask else None)
        else:  # open_zarr's default chunks: one dask task per stored chunk
            options: dict[str, Any] = {} if use_dask else {"chunks": None}
            ds = xr.open_zarr(zarrlayer.as_zarr_store(stack), consolidated=True, **options)
        if opened is not None:
            opened()
        return ds.load()


def _digest(ds: Any) -> str:
    h = hashlib.sha256()
    for name in sorted(ds.variables):
        h.update(name.encode())
        h.update(np.ascontiguousarray(ds[name].values).tobytes())
    return h.hexdigest()


def _warm_disk_worker(connection: Any, contestant: str, url: str, cache_dir: str) -> None:
    """A separate process that loads the dataset through a new stack over the filled directory each time."""
    while command := connection.recv():
        started = time.process_time()
        ds = _load(contestant, _stack(url, cache_dir))
        connection.send(_digest(ds) if command == "check" else time.process_time() - started)
    connection.close()


class _WarmDiskProcess:
    def __init__(self, contestant: str, url: str, cache_dir: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_warm_disk_worker, args=(child, contestant, url, cache_dir), daemon=True)
        self._process.start()

    def check(self) -> str:
        self._connection.send("check")
        return self._connection.recv()  # type: ignore[no-any-return]

    def run(self) -> float:
        """Load once; the worker's CPU seconds for it."""
        self._connection.send("read")
        return float(self._connection.recv())

    def close(self) -> None:
        self._connection.send(False)
        self._process.join(30)


def run(args: argparse.Namespace) -> list[CaseResult]:
    from zarrlayer.testing.servers import http_server

    runs, warmup = resolve_runs(args)
    chunks = 8 if args.quick else args.chunks
    work = Path(tempfile.mkdtemp(prefix="bench-bridge-"))
    try:
        expected = _digest(_write_dataset(work, chunks))
        with http_server(work, latency=args.latency) as server:
            return _run_cases(f"{server.url}/ds.zarr", server, work, expected, chunks, runs, warmup)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_cases(url: str, server: Any, work: Path, expected: str, chunks: int, runs: int, warmup: int) -> list[CaseResult]:
    latency = f"{server.latency * 1000:.0f} ms"
    options = {"subject": BRIDGE, "peer": ENGINE, "target": TARGET, "units": chunks}
    dirs: dict[str, str] = {}
    warm_runs = 3 * runs  # a warm run is short, and the shared machine's load swings more than it
    notes = {"async.concurrency": {BRIDGE: _zarr_default_concurrency(), MATCHED: matched_concurrency()}}

    def fresh(name: str) -> None:
        if name in dirs:
            shutil.rmtree(dirs[name], ignore_errors=True)
        dirs[name] = tempfile.mkdtemp(dir=work, prefix="cache-")

    def cold_case(title: str, use_dask: bool) -> CaseResult:
        traffic: dict[str, dict[str, int]] = {}
        for name in CONTESTANTS:
            fresh(name)
            counts = traffic[name] = {}

            def opened(counts: dict[str, int] = counts) -> None:
                counts.update(open_requests=server.request_count, open_in_flight=server.max_in_flight)
                server.reset_counts()

            server.reset_counts()
            if _digest(_load(name, _stack(url, dirs[name]), use_dask=use_dask, opened=opened)) != expected:
                raise SystemExit(f"{name} cold read wrong data ({title})")
            counts.update(load_requests=server.request_count, load_in_flight=server.max_in_flight)
            fresh(name)
        cold = [Contestant(name, (lambda n=name: _load(n, _stack(url, dirs[n]), use_dask=use_dask)),
                           setup=(lambda n=name: fresh(n))) for name in CONTESTANTS]
        cpu: dict[str, list[float]] = {}
        samples = time_interleaved(cold, runs=runs, warmup=warmup, cpu=cpu)
        return CaseResult(NAME, title, samples, cpu_samples=cpu, notes={**notes, "http": traffic}, **options)

    results = [cold_case(f"cold: {chunks} chunks over HTTP +{latency}", True)]
    print_progress(results[-1])

    workers = {name: _WarmDiskProcess(name, url, dirs[name]) for name in CONTESTANTS}
    for name in CONTESTANTS:  # the workers own these filled directories now
        dirs.pop(name)
    requests: dict[str, int] = {}
    try:
        for name, worker in workers.items():
            server.reset_counts()
            if worker.check() != expected:
                raise SystemExit(f"the {name} warm-from-disk worker read wrong data")
            requests[name] = server.request_count
        if any(requests.values()):
            raise SystemExit(f"warm reads from disk made HTTP requests: {requests}")
        worker_cpu: dict[str, list[float]] = {name: [] for name in workers}
        disk = [Contestant(name, (lambda n=name, w=worker: worker_cpu[n].append(w.run())))
                for name, worker in workers.items()]
        samples = time_interleaved(disk, runs=warm_runs, warmup=warmup)
        cpu = {name: values[warmup:] for name, values in worker_cpu.items()}
    finally:
        for worker in workers.values():
            worker.close()
    results.append(CaseResult(NAME, "warm from disk (new process)", samples, cpu_samples=cpu,
                              notes={**notes, "http_requests": requests}, **options))
    print_progress(results[-1])

    stacks = {name: _stack(url, tempfile.mkdtemp(dir=work, prefix="mem-")) for name in CONTESTANTS}
    for name, stack in stacks.items():
        _load(name, stack)
    requests = {}
    for name, stack in stacks.items():
        server.reset_counts()
        if _digest(_load(name, stack)) != expected:
            raise SystemExit(f"{name} warm read from memory read wrong data")
        requests[name] = server.request_count
    if any(requests.values()):
        raise SystemExit(f"warm reads from memory made HTTP requests: {requests}")
    memory = [Contestant(name, (lambda n=name: _load(n, stacks[n]))) for name in CONTESTANTS]
    cpu = {}
    samples = time_interleaved(memory, runs=warm_runs, warmup=warmup, cpu=cpu)
    results.append(CaseResult(NAME, "warm from memory", samples, cpu_samples=cpu,
                              notes={**notes, "http_requests": requests}, **options))
    print_progress(results[-1])

    results.append(cold_case("cold, no dask (chunks=None: one read)", False))
    print_progress(results[-1])
    return results


def _zarr_default_concurrency() -> int:
    import zarr

    return int(zarr.config.get("async.concurrency"))


def _overhead_lines(results: list[CaseResult]) -> list[str]:
    """Each bridge contestant's median over the engine's, per case, with CPU and traffic where measured."""
    lines = []
    for r in results:
        engine = r.median(ENGINE)
        for name in (BRIDGE, MATCHED):
            bridge = r.median(name)
            if not (bridge and engine):
                continue
            verdict = "ok" if bridge <= engine * 1.10 else "over the 10% target"
            line = f"{name} over the engine, {r.case}: {100 * (bridge / engine - 1):+.1f}% ({verdict})"
            if r.cpu_samples.get(name) and r.cpu_samples.get(ENGINE):
                cpu_b, cpu_e = statistics.median(r.cpu_samples[name]), statistics.median(r.cpu_samples[ENGINE])
                line += f"; process CPU {cpu_b:.2f} s vs {cpu_e:.2f} s"
            lines.append(line)
        traffic = r.notes.get("http")
        if traffic:
            lines.append("  http requests (most in flight at once), open + load: " + ", ".join(
                f"{name} {t['open_requests']} ({t['open_in_flight']}) + {t['load_requests']} ({t['load_in_flight']})"
                for name, t in traffic.items()))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--chunks", type=int, default=128, help="chunks of the data variable (quick: 8)")
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added to every HTTP request")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = run(args)
    print_flush(format_table(results))
    lines = _overhead_lines(results)
    for line in lines:
        print_flush(line)
    path = save_results(NAME, results, directory=args.results_dir, extra={"summary_lines": lines})
    print_flush(f"\nresults: {path} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
