"""zarrlayer against every peer in one run: zarr-python, zarr-python + zarrs, tensorstore, a two-core raw loop.

    python benchmarks/bench_peers.py [--quick] [--runs N] [--cases read,small,1d,sharded,series,write,http,mem]

The matrix of issue 15: local reads and writes (blosc lz4, float32, written by zarr-python),
per-chunk cost of 1-D arrays, sharded reads, a time series, HTTP reads at 5/20/100 ms per
request against a server in its own process, and the peak memory of a 1 GiB read (each
library in a fresh process). Contestants are interleaved run by run (rotating who goes
first); medians, spread and process CPU time are recorded. The ratio is the best peer's
median over zarrlayer's (>= 1.0 is the target); local cases are also held against the raw
loop on two threads (<= 1.15x). A peer that cannot run a case is listed with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import raw_loop  # noqa: E402
from common import (  # noqa: E402
    CaseResult,
    Contestant,
    add_common_args,
    format_seconds,
    print_flush,
    resolve_runs,
    run_case,
    save_results,
)

__all__ = ["main", "PEERS", "best_peer", "peer_table"]

NAME = "peers"
SUBJECT = "zarrlayer"
FLOOR = "raw loop x2"
PEERS = ("zarr-python", "zarrs", "tensorstore")
BLOSC = {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4, "blocksize": 0}}
ZARRS = {"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"}
LOCAL_FLOOR_TARGET = 1.15


def best_peer(result: CaseResult, peers: tuple[str, ...] = PEERS + ("zarr-python (equal concurrency)",)) -> CaseResult:
    """Point `result.peer` at the fastest peer that ran (by median)."""
    ran = [name for name in peers if result.samples.get(name)]
    result.peer = min(ran, key=lambda n: statistics.median(result.samples[n])) if ran else None
    return result


def _cell(result: CaseResult, name: str) -> str:
    values = result.samples.get(name)
    if not values:
        return "n/a"
    median = statistics.median(values)
    spread = (max(values) - min(values)) / 2 / median * 100 if median else 0
    text = format_seconds(median)
    if result.units and result.unit_name == "chunk" and result.units >= 1000:
        text = f"{format_seconds(median / result.units)}/ch"
    return f"{text} ±{spread:.0f}%"


def peer_table(results: list[CaseResult], contestants: list[str]) -> str:
    """Median ±half-range per contestant, best peer, ratio, distance to the raw loop, CPU time of zarrlayer."""
    header = ["case", *contestants, "best peer", "ratio", "vs raw", "cpu zl/peer", "met"]
    rows = [header]
    for r in results:
        cpu_zl = r.cpu_samples.get(SUBJECT)
        cpu_peer = r.cpu_samples.get(r.peer or "")
        cpu = f"{format_seconds(statistics.median(cpu_zl))}/{format_seconds(statistics.median(cpu_peer))}" if cpu_zl and cpu_peer else "-"
        rows.append([
            r.case,
            *[_cell(r, c) for c in contestants],
            r.peer or "-",
            f"{r.speedup:.2f}x" if r.speedup else "-",
            f"{r.floor_ratio:.2f}x" if r.floor_ratio else "-",
            cpu,
            {True: "yes", False: "MISS", None: ""}[r.met],
        ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# -- arrays and contestants ----------------------------------------------------------------------


@dataclass
class Spec:
    """One local array: where, shape, chunks, shards."""

    path: Path
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None = None

    @property
    def layout(self) -> raw_loop.Layout:
        return raw_loop.Layout(self.path, self.shape, self.chunks, self.shards, np.dtype("<f4"))


def _data(shape: tuple[int, ...]) -> np.ndarray:
    """Smooth values with a little noise, rounded: compresses about like measured data (2-3x)."""
    n = math.prod(shape)
    base = np.sin(np.arange(n, dtype="f4") * np.float32(0.001)) * 10
    noise = np.random.default_rng(0).integers(0, 100, n).astype("f4") / 100
    return np.round(base + noise, 2).astype("<f4").reshape(shape)


def _write_zarr_python(spec: Spec, data: np.ndarray) -> None:
    import zarr

    kwargs: dict[str, Any] = {"shards": spec.shards} if spec.shards else {}
    arr = zarr.create_array(str(spec.path), shape=spec.shape, chunks=spec.chunks, dtype="<f4",
                            compressors=[BLOSC], fill_value=0, overwrite=True, **kwargs)
    arr[...] = data


def _write_zarrlayer(spec: Spec, data: np.ndarray) -> None:
    import zarrlayer

    kwargs: dict[str, Any] = {"shards": spec.shards} if spec.shards else {}
    arr = zarrlayer.create_array(store=str(spec.path), shape=spec.shape, chunks=spec.chunks, dtype="<f4",
                                 compressors=[BLOSC], fill_value=0, zarr_format=3, **kwargs)
    arr[...] = data


def _ts_spec(path: Path | str, *, http: bool = False) -> dict[str, Any]:
    kv = {"driver": "http", "base_url": str(path)} if http else {"driver": "file", "path": str(path)}
    return {"driver": "zarr3", "kvstore": kv}


def _ts_read(spec: dict[str, Any], sel: Any) -> np.ndarray:
    import tensorstore as ts

    store = ts.open(spec, read=True).result()
    return store[sel].read().result()


def _zarr_read(path: Any, sel: Any, config: dict[str, Any] | None = None) -> np.ndarray:
    import zarr

    if config is None:
        return zarr.open_array(path, mode="r")[sel]
    with zarr.config.set(config):
        return zarr.open_array(path, mode="r")[sel]


def read_contestants(spec: Spec, sel: Any) -> list[Contestant]:
    """The five readers of `array[sel]` on a local array (each opens the array, as a user would)."""
    import zarrlayer

    path = str(spec.path)
    layout = spec.layout
    ts_sel = sel if sel is not Ellipsis else ...
    return [
        Contestant(SUBJECT, lambda: zarrlayer.open_array(path, mode="r")[sel]),
        Contestant("zarr-python", lambda: _zarr_read(path, sel)),
        Contestant("zarrs", lambda: _zarr_read(path, sel, ZARRS)),
        Contestant("tensorstore", lambda: _ts_read(_ts_spec(path), ts_sel)),
        Contestant(FLOOR, lambda: _raw_read(layout, sel)),
    ]


def _raw_read(layout: raw_loop.Layout, sel: Any) -> np.ndarray:
    if sel is Ellipsis:
        return raw_loop.read_threads(layout, Ellipsis, 2)
    as_slices = tuple(slice(s, s + 1) if isinstance(s, int) else s for s in sel)
    out = raw_loop.read_threads(layout, as_slices, 2)
    return out[tuple(0 if isinstance(s, int) else slice(None) for s in sel)]


_SLOW_FACTOR = 5
_SLOW_SECONDS = 2.0


def _check(contestants: list[Contestant], expected: np.ndarray) -> dict[str, float]:
    """Run each contestant once and compare its answer; the seconds each took."""
    took: dict[str, float] = {}
    for c in contestants:
        start = time.perf_counter()
        got = np.asarray(c.run())
        took[c.name] = time.perf_counter() - start
        if got.shape != expected.shape or not np.array_equal(got, expected):
            raise AssertionError(f"{c.name} read different values (shape {got.shape}, expected {expected.shape})")
    return took


def _timed_once(result: CaseResult, took: dict[str, float], slow: set[str]) -> CaseResult:
    """Record the contestants too slow to interleave with their one checked run, and say so."""
    for name in slow:
        result.samples[name] = [took[name]]
        result.notes.setdefault("cannot", {})[name] = (
            f"timed once ({format_seconds(took[name])}): over {_SLOW_FACTOR}x zarrlayer and {_SLOW_SECONDS:g} s, not interleaved")
    return result


def _slow(took: dict[str, float]) -> set[str]:
    subject = took.get(SUBJECT, float("inf"))
    return {n for n, t in took.items() if n != SUBJECT and t > _SLOW_FACTOR * subject and t > _SLOW_SECONDS}


def _read_case(label: str, spec: Spec, data: np.ndarray, sel: Any, runs: int, warmup: int, units: int | None = None) -> CaseResult:
    contestants = read_contestants(spec, sel)
    took = _check(contestants, data[sel])
    slow = _slow(took)
    result = run_case(NAME, label, [c for c in contestants if c.name not in slow], runs=runs, warmup=warmup, floor=FLOOR,
                      target=1.0, floor_target=LOCAL_FLOOR_TARGET, units=units)
    return best_peer(_timed_once(result, took, slow))


def _write_contestants(spec: Spec, data: np.ndarray, root: Path) -> list[Contestant]:
    import tensorstore as ts
    import zarr

    import zarrlayer

    def fresh(name: str) -> Spec:
        path = root / f"w-{name}.zarr"
        return Spec(path, spec.shape, spec.chunks)

    def clear(name: str) -> Callable[[], None]:
        return lambda: shutil.rmtree(fresh(name).path, ignore_errors=True)

    def zl() -> None:
        arr = zarrlayer.create_array(store=str(fresh(SUBJECT).path), shape=spec.shape, chunks=spec.chunks,
                                     dtype="<f4", compressors=[BLOSC], fill_value=0, zarr_format=3)
        arr[...] = data

    def zp(config: dict[str, Any] | None, name: str) -> Callable[[], None]:
        def run() -> None:
            with zarr.config.set(config or {}):
                arr = zarr.create_array(str(fresh(name).path), shape=spec.shape, chunks=spec.chunks,
                                        dtype="<f4", compressors=[BLOSC], fill_value=0)
                arr[...] = data
        return run

    def tstore() -> None:
        metadata = {
            "shape": list(spec.shape), "data_type": "float32", "fill_value": 0,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(spec.chunks)}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, BLOSC],
        }
        store = ts.open({**_ts_spec(fresh("tensorstore").path), "metadata": metadata}, create=True).result()
        store.write(data).result()

    def raw() -> None:
        raw_loop.write_threads(fresh(FLOOR).layout, data, 2)

    return [
        Contestant(SUBJECT, zl, clear(SUBJECT)),
        Contestant("zarr-python", zp(None, "zarr-python"), clear("zarr-python")),
        Contestant("zarrs", zp(ZARRS, "zarrs"), clear("zarrs")),
        Contestant("tensorstore", tstore, clear("tensorstore")),
        Contestant(FLOOR, raw, clear(FLOOR)),
    ]


def _write_case(label: str, spec: Spec, data: np.ndarray, root: Path, runs: int, warmup: int) -> CaseResult:
    contestants = _write_contestants(spec, data, root)
    took: dict[str, float] = {}
    for c in contestants:  # every writer's output reads back right (zarr-python reads each)
        c.setup()
        start = time.perf_counter()
        c.run()
        took[c.name] = time.perf_counter() - start
        path = root / f"w-{c.name}.zarr"
        if c.name == FLOOR:
            got = raw_loop.read(Spec(path, spec.shape, spec.chunks).layout, Ellipsis)
        else:
            got = _zarr_read(str(path), Ellipsis)
        if not np.array_equal(got, data):
            raise AssertionError(f"{c.name} wrote different values")
    slow = _slow(took)
    result = run_case(NAME, label, [c for c in contestants if c.name not in slow], runs=runs, warmup=warmup, floor=FLOOR,
                      target=1.0, floor_target=LOCAL_FLOOR_TARGET)
    return best_peer(_timed_once(result, took, slow))


# -- HTTP ------------------------------------------------------------------------------------------


class _Server:
    """benchmarks/_http_server.py in its own process (its CPU never shares the readers' GIL)."""

    def __init__(self, root: Path, latency: float) -> None:
        script = Path(__file__).resolve().parent / "_http_server.py"
        self.process = subprocess.Popen([sys.executable, str(script), str(root), str(latency)], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def _raw_fetch(urls: list[str], concurrency: int) -> int:
    import aiohttp

    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def one(url: str) -> int:
            async with limit, session.get(url) as response:
                return len(await response.read())
        return sum(await asyncio.gather(*(one(u) for u in urls)))


def _http_contestants(url: str, spec: Spec, sel: Any, concurrency: int, raw_urls: list[str]) -> tuple[list[Contestant], dict[str, str]]:
    import zarr

    import zarrlayer

    def zp(config: dict[str, Any] | None) -> Callable[[], Any]:
        def run() -> Any:
            store = zarr.storage.FsspecStore.from_url(url, read_only=True)
            with zarr.config.set(config or {}):
                return zarr.open_array(store, mode="r")[sel]
        return run

    cannot: dict[str, str] = {}
    contestants = [
        Contestant(SUBJECT, lambda: zarrlayer.open_array(url, mode="r")[sel]),
        Contestant("zarr-python", zp(None)),
        Contestant("zarr-python (equal concurrency)", zp({"async.concurrency": concurrency})),
        Contestant("zarrs", zp(ZARRS)),
        Contestant("tensorstore", lambda: _ts_read(_ts_spec(url + "/", http=True), sel)),
        Contestant("raw client", lambda: asyncio.run(_raw_fetch(raw_urls, concurrency))),
    ]
    return contestants, cannot


def _http_cases(root: Path, latencies: list[float], runs: int, warmup: int, quick: bool) -> tuple[list[CaseResult], list[str]]:
    import zarr

    from zarrlayer import config

    concurrency = config.get().max_concurrency
    results: list[CaseResult] = []
    lines: list[str] = []
    flat = Spec(root / "http" / "flat.zarr", (1024, 1024) if not quick else (256, 256), (64, 64))
    shard = Spec(root / "http" / "shard.zarr", (1024, 1024) if not quick else (256, 256), (64 if not quick else 16,) * 2,
                 (1024, 1024) if not quick else (256, 256))
    for spec in (flat, shard):
        data = _data(spec.shape)
        _write_zarr_python(spec, data)
    for latency in latencies:
        server = _Server(root / "http", latency)
        try:
            for spec, what in ((flat, f"{math.prod(spec.shape) // math.prod(flat.chunks)} objects"), (shard, "one shard of 16x16 inner chunks")):
                url = f"{server.url}/{spec.path.name}"
                n = math.prod(s // c for s, c in zip(spec.shape, spec.shards or spec.chunks))
                raw_urls = [f"{url}/c/{i}/{j}" for i in range(spec.shape[0] // (spec.shards or spec.chunks)[0])
                            for j in range(spec.shape[1] // (spec.shards or spec.chunks)[1])]
                contestants, cannot = _http_contestants(url, spec, Ellipsis, concurrency, raw_urls)
                expected = _data(spec.shape)
                usable = [contestants[-1]]
                checked: dict[str, float] = {}
                for c in contestants[:-1]:
                    try:
                        start = time.perf_counter()
                        got = np.asarray(c.run())
                        checked[c.name] = time.perf_counter() - start
                        if not np.array_equal(got, expected):
                            raise AssertionError("different values")
                        usable.insert(len(usable) - 1, c)
                    except Exception as exc:  # a peer that cannot run the case says why
                        cannot[c.name] = f"{type(exc).__name__}: {str(exc)[:120]}"
                # a peer 20x slower than zarrlayer in its checked run is timed once, not interleaved
                slow = {c.name for c in usable if c.name != SUBJECT and checked.get(c.name, 0) > 20 * checked.get(SUBJECT, 1e9)}
                label = f"HTTP {latency * 1000:.0f} ms, {what}"
                result = run_case(NAME, label, [c for c in usable if c.name not in slow], runs=runs, warmup=warmup,
                                  floor="raw client", target=1.0, units=n)
                for name in slow:
                    result.samples[name] = [checked[name]]
                    cannot[name] = f"timed once ({format_seconds(checked[name])}): over 20x zarrlayer's time, not interleaved"
                result.notes["cannot"] = cannot
                bound = math.ceil(n / concurrency) * latency
                result.notes["bound_s"] = bound
                best_peer(result)
                results.append(result)
                raw = result.median("raw client")
                fastest = min((k for k in result.samples if result.samples[k]), key=lambda k: result.median(k) or float("inf"))
                best = result.median(fastest) or float("inf")
                reached = best <= bound * 1.3 + 0.002  # 2 ms for connecting and moving the bytes
                verdict = (f"the bound is reached ({fastest}, {best / bound:.2f}x the bound): the server keeps up" if reached else
                           f"no client reached the bound (fastest: {fastest} {format_seconds(best)}, {best / bound:.2f}x): "
                           "per-request cost or transfer (server or clients) limits every contestant")
                lines.append(f"{label}: bound ceil({n}/{concurrency}) x {latency * 1000:.0f} ms = {format_seconds(bound)}; "
                             f"raw client at concurrency {concurrency}: {format_seconds(raw)}; {verdict}; "
                             f"zarr-python default async.concurrency={zarr.config.get('async.concurrency')}"
                             + (f"; cannot run: {cannot}" if cannot else ""))
        finally:
            server.close()
    return results, lines


# -- peak memory -----------------------------------------------------------------------------------

_MEM_CODE = """
import json, resource, sys, numpy as np, psutil
name, path = sys.argv[1], sys.argv[2]
proc = psutil.Process()
if name == "zarrlayer":
    import zarrlayer
    arr = zarrlayer.open_array(path, mode="r"); read = lambda: arr[...]
elif name in ("zarr-python", "zarrs"):
    import zarr
    if name == "zarrs":
        zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"})
    arr = zarr.open_array(path, mode="r"); read = lambda: arr[...]
else:
    import tensorstore as ts
    arr = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": path}}, read=True).result()
    read = lambda: arr.read().result()
import threading, time
base = proc.memory_info().rss
peak = [base]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.0005)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
out = read()
stop.set(); sampler.join()
peak[0] = max(peak[0], proc.memory_info().rss)
print(json.dumps({"nbytes": out.nbytes, "growth": peak[0] - base}))
"""


def _memory(root: Path, quick: bool) -> tuple[dict[str, float], list[str]]:
    side = 1024 if quick else 16384
    spec = Spec(root / "mem.zarr", (side, side), (256, 256) if not quick else (128, 128))
    _write_zarrlayer(spec, _data(spec.shape))
    ratios: dict[str, float] = {}
    for name in (SUBJECT, *PEERS):
        out = subprocess.run([sys.executable, "-c", _MEM_CODE, name, str(spec.path)], capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            ratios[name] = float("nan")
            continue
        doc = json.loads(out.stdout.strip().splitlines()[-1])
        ratios[name] = doc["growth"] / doc["nbytes"]
    shutil.rmtree(spec.path, ignore_errors=True)
    mib = side * side * 4 / 2**20
    target = "--quick: too small an array to judge the target" if quick else "target <= 1.05x for zarrlayer"
    line = f"peak memory of a {mib:.0f} MiB full read (peak RSS growth, sampled every 0.5 ms, over the array size; {target}): " + ", ".join(
        f"{k} {v:.3f}x" for k, v in ratios.items())
    return ratios, [line]


# -- main ------------------------------------------------------------------------------------------


ALL_CASES = ("read", "small", "1d", "sharded", "series", "write", "http", "mem")


def main(argv: list[str] | None = None) -> int:
    """Write the arrays, check every contestant's answer, time the cases, print and save."""
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--cases", default=",".join(ALL_CASES), help=f"comma-separated subset of {','.join(ALL_CASES)}")
    parser.add_argument("--root", default=None, help="where the arrays are written (default: the system temp dir; /dev/shm takes the disk out)")
    parser.add_argument("--latencies", default="0.005,0.02,0.1", help="seconds added per HTTP request, comma-separated")
    args = parser.parse_args(argv)
    runs, warmup = resolve_runs(args)
    if args.quick and args.runs is None:
        runs = 1  # quick mode checks that every contestant runs every case; figures need the full run
    wanted = {c.strip() for c in args.cases.split(",") if c.strip()}
    quick = args.quick
    results: list[CaseResult] = []
    lines: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="zarrlayer-bench-peers-", dir=args.root))

    def done(result: CaseResult) -> None:
        results.append(result)
        load = os.getloadavg()[0]
        result.notes["load_1min"] = round(load, 2)
        print_flush(f"  {result.case}: " + ", ".join(f"{k} {format_seconds(result.median(k))}" for k in result.samples)
                    + f"  -> best peer {result.peer}, ratio {result.speedup or 0:.2f}x  (load {load:.1f})")

    try:
        print_flush(f"bench_peers: {runs} runs + {warmup} warm-up, interleaved; {os.cpu_count()} CPUs; root {root}")
        if "read" in wanted:
            spec = Spec(root / "big.zarr", (1024, 1024) if quick else (4096, 4096), (256, 256))
            data = _data(spec.shape)
            _write_zarr_python(spec, data)
            done(_read_case(f"read {spec.shape[0]}² f32 in 256² chunks (blosc lz4)", spec, data, Ellipsis, runs, warmup))
        if "small" in wanted:
            spec = Spec(root / "small.zarr", (256, 256) if quick else (1024, 1024), (32, 32))
            data = _data(spec.shape)
            _write_zarr_python(spec, data)
            done(_read_case(f"read {spec.shape[0]}² in 32² chunks", spec, data, Ellipsis, runs, warmup,
                            units=math.prod(s // c for s, c in zip(spec.shape, spec.chunks))))
        if "1d" in wanted:
            for count in ((1000,) if quick else (1000, 10_000, 100_000)):
                spec = Spec(root / f"one-d-{count}.zarr", (count * 256,), (256,))
                data = _data(spec.shape)
                _write_zarrlayer(spec, data)
                done(_read_case(f"1-D, {count} chunks of 1 KiB (per chunk)", spec, data, Ellipsis, runs, min(warmup, 1), units=count))
                shutil.rmtree(spec.path, ignore_errors=True)
        if "sharded" in wanted:
            side, shard, inner = (1024, 512, 64) if quick else (4096, 1024, 64)
            spec = Spec(root / "sharded.zarr", (side, side), (inner, inner), (shard, shard))
            data = _data(spec.shape)
            _write_zarr_python(spec, data)
            done(_read_case(f"sharded {side}², {shard}² shards of {inner}², full read", spec, data, Ellipsis, runs, warmup))
            window = (slice(1000 % side, 1100 % side or 100), slice(2000 % side, 2300 % side or 300)) if not quick else (slice(100, 200), slice(200, 500))
            done(_read_case(f"sharded window [{window[0].start}:{window[0].stop}, {window[1].start}:{window[1].stop}]",
                            spec, data, window, max(runs, 11), warmup))
        if "series" in wanted:
            steps, side = (16, 256) if quick else (64, 512)
            spec = Spec(root / "series.zarr", (steps, side, side), (1, side, side))
            data = _data(spec.shape)
            _write_zarr_python(spec, data)
            done(_read_case(f"time series [:, 100, 100] of {steps}x{side}x{side} in 1x{side}² chunks", spec, data,
                            (slice(None), 100, 100), max(runs, 11), warmup))
        if "write" in wanted:
            for side, chunk in (((1024, 256), (256, 32)) if quick else ((4096, 256), (1024, 32))):
                spec = Spec(root / "unused", (side, side), (chunk, chunk))
                done(best_peer(_write_case(f"write {side}² in {chunk}² chunks", spec, _data(spec.shape), root, runs, warmup)))
        if "http" in wanted:
            latencies = [0.02] if quick else [float(x) for x in args.latencies.split(",")]
            http_results, http_lines = _http_cases(root, latencies, runs, warmup, quick)
            for r in http_results:
                done(r)
            lines += http_lines
        if "mem" in wanted:
            ratios, mem_lines = _memory(root, quick)
            lines += mem_lines
        else:
            ratios = {}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    contestants = [SUBJECT, *PEERS, "zarr-python (equal concurrency)", FLOOR, "raw client"]
    contestants = [c for c in contestants if any(r.samples.get(c) for r in results)]
    print_flush("\n" + peer_table(results, contestants))
    for r in results:
        for name, why in r.notes.get("cannot", {}).items():
            if not r.case.startswith("HTTP"):
                lines.append(f"{r.case}: {name} {why}")
    for line in lines:
        print_flush(line)
    extra = {"summary_lines": lines, "memory": ratios, "contestants": contestants}
    print_flush(f"results: {save_results(NAME, results, extra=extra, directory=args.results_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
