"""The bridge: xarray's own zarr engine reading through zarrlayer's cache stack, beside zarrlayer's engine.

    python benchmarks/bench_bridge.py [--quick] [--runs N] [--chunks N] [--latency S]

A dataset of one float32 variable in `--chunks` (128) chunks of 16x64x64 (256 KiB) plus its
coordinates, written by xarray (zarr-python, v3, consolidated), is served from 127.0.0.1
with `--latency` (30 ms) added to every request. Each run opens the dataset and loads all of
it through the same cache stack, `MemoryCacheStore(DiskCacheStore(FsspecStore(http)))`:

- "bridge":           xr.open_zarr(zarrlayer.as_zarr_store(stack)).load()
- "zarrlayer engine": xr.open_dataset(stack, engine="zarrlayer", chunks={}).load()

(the same dask chunks, one task per stored chunk, as open_zarr's default) in three cases:
cold (a new, empty cache directory every run); warm from disk (a separate process per
contestant, a new stack over the filled directory every run, nothing cached in memory);
warm from memory (the same stack object again). Runs are interleaved; figures are medians.
Target: the bridge costs at most 10% over the engine (speedup >= 0.91). Warm reads must
make no HTTP request (the script fails otherwise).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
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
ENGINE = "zarrlayer engine"
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


def _load(contestant: str, stack: Any) -> Any:
    import xarray as xr

    import zarrlayer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if contestant == BRIDGE:
            return xr.open_zarr(zarrlayer.as_zarr_store(stack), consolidated=True).load()
        return xr.open_dataset(stack, engine="zarrlayer", chunks={}).load()


def _digest(ds: Any) -> str:
    h = hashlib.sha256()
    for name in sorted(ds.variables):
        h.update(name.encode())
        h.update(np.ascontiguousarray(ds[name].values).tobytes())
    return h.hexdigest()


def _warm_disk_worker(connection: Any, contestant: str, url: str, cache_dir: str) -> None:
    """A separate process that loads the dataset through a new stack over the filled directory each time."""
    while command := connection.recv():
        ds = _load(contestant, _stack(url, cache_dir))
        connection.send(_digest(ds) if command == "check" else len(ds.variables))
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

    def run(self) -> Any:
        self._connection.send("read")
        return self._connection.recv()

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

    def fresh(name: str) -> None:
        if name in dirs:
            shutil.rmtree(dirs[name], ignore_errors=True)
        dirs[name] = tempfile.mkdtemp(dir=work, prefix="cache-")

    for name in (BRIDGE, ENGINE):
        fresh(name)
        if _digest(_load(name, _stack(url, dirs[name]))) != expected:
            raise SystemExit(f"{name} cold read wrong data")
        fresh(name)
    cold = [Contestant(name, (lambda n=name: _load(n, _stack(url, dirs[n]))), setup=(lambda n=name: fresh(n)))
            for name in (BRIDGE, ENGINE)]
    results = [CaseResult(NAME, f"cold: {chunks} chunks over HTTP +{latency}", time_interleaved(cold, runs=runs, warmup=warmup), **options)]
    print_progress(results[-1])

    filled = {name: dirs[name] for name in (BRIDGE, ENGINE)}
    workers = {name: _WarmDiskProcess(name, url, filled[name]) for name in (BRIDGE, ENGINE)}
    requests: dict[str, int] = {}
    try:
        for name, worker in workers.items():
            server.reset_counts()
            if worker.check() != expected:
                raise SystemExit(f"the {name} warm-from-disk worker read wrong data")
            requests[name] = server.request_count
        if any(requests.values()):
            raise SystemExit(f"warm reads from disk made HTTP requests: {requests}")
        disk = [Contestant(name, worker.run) for name, worker in workers.items()]
        samples = time_interleaved(disk, runs=runs, warmup=warmup)
    finally:
        for worker in workers.values():
            worker.close()
    results.append(CaseResult(NAME, "warm from disk (new process)", samples, notes={"http_requests": requests}, **options))
    print_progress(results[-1])

    stacks = {name: _stack(url, tempfile.mkdtemp(dir=work, prefix="mem-")) for name in (BRIDGE, ENGINE)}
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
    memory = [Contestant(name, (lambda n=name: _load(n, stacks[n]))) for name in (BRIDGE, ENGINE)]
    samples = time_interleaved(memory, runs=runs, warmup=warmup)
    results.append(CaseResult(NAME, "warm from memory", samples, notes={"http_requests": requests}, **options))
    print_progress(results[-1])
    return results


def _overhead_lines(results: list[CaseResult]) -> list[str]:
    lines = []
    for r in results:
        bridge, engine = r.median(BRIDGE), r.median(ENGINE)
        if bridge and engine:
            verdict = "ok" if bridge <= engine * 1.10 else "over the 10% target"
            lines.append(f"bridge overhead over the engine, {r.case}: {100 * (bridge / engine - 1):+.1f}% ({verdict})")
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
