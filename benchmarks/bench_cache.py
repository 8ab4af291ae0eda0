"""The caching tier: reading one array from a slow HTTP server cold, warm from disk, warm from memory.

    python benchmarks/bench_cache.py [--quick] [--runs N] [--chunks N] [--latency S]

An array of `--chunks` (256) chunks of `--chunk-side`^2 (64x64) float32, written by
zarr-python (zstd, its default), is served from 127.0.0.1 with `--latency` (30 ms) added
to every request. Every run opens the array
and reads all of it, as a user's `open_array(url, cache=...)[...]` does:

- cold: through an empty disk cache (a new cache directory every run);
- warm from disk: in a separate process, each run opening a new disk-cache store over the
  directory a first read filled (no memory tier, nothing cached in the process);
- warm from memory: the same Array object, read again through its memory cache;
- reference: the same array read from its local directory with no cache: the floor that
  decoding sets, which no cache can beat.

zarrlayer reads through `zarrlayer.open_array(url, cache=...)`; zarr-python through its
experimental `zarr.experimental.cache_store.CacheStore` over `FsspecStore`, with a
`LocalStore` (disk) or `MemoryStore` (memory) as its cache store. The warm cases are held
against zarrlayer's own cold read (the "cold" column; targets: disk >= 10x, memory >= 30x
faster). zarrlayer's warm reads must make no HTTP request (the script fails otherwise);
zarr-python's count is printed (its cache does not remember misses).
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
    format_seconds,
    format_table,
    print_flush,
    resolve_runs,
    save_results,
    time_interleaved,
)

__all__ = ["main"]

NAME = "cache"
COLD = "zarrlayer cold"


def _write_array(root: Path, chunks: int, chunk: int) -> np.ndarray:
    import zarr

    side = int(np.ceil(np.sqrt(chunks)))
    rows = -(-chunks // side)
    y, x = np.mgrid[0 : rows * chunk, 0 : side * chunk].astype("f4")
    data = np.sin(y / 37.0) * np.cos(x / 23.0) + (y * x) % 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        array = zarr.create_array(str(root / "arr"), shape=data.shape, chunks=(chunk, chunk), dtype="f4")
        array[:] = data
    return data


def _zarrlayer_read(url: str, cache: Any) -> np.ndarray:
    import zarrlayer

    return zarrlayer.open_array(url, mode="r", cache=cache)[...]


def _peer_array(url: str, cache_dir: str | None) -> Any:
    import zarr
    from zarr.experimental.cache_store import CacheStore
    from zarr.storage import FsspecStore, LocalStore, MemoryStore

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        remote = FsspecStore.from_url(url, read_only=True)
        cache_store = LocalStore(cache_dir) if cache_dir is not None else MemoryStore()
        return zarr.open_array(CacheStore(remote, cache_store=cache_store), mode="r")


def _peer_read(url: str, cache_dir: str | None) -> np.ndarray:
    return _peer_array(url, cache_dir)[...]


def _warm_disk_worker(connection: Any, library: str, url: str, cache_dir: str) -> None:
    """A separate process that reads the array from a filled disk cache each time it is asked."""
    spec = {"disk": {"directory": cache_dir, "max_bytes": "4 GiB"}}
    while command := connection.recv():
        data = _zarrlayer_read(url, spec) if library == "zarrlayer" else _peer_read(url, cache_dir)
        connection.send(hashlib.sha256(data.tobytes()).hexdigest() if command == "check" else data.shape)
    connection.close()


class _WarmDiskProcess:
    """A worker process per library; `run()` asks it for one read and waits for the answer."""

    def __init__(self, library: str, url: str, cache_dir: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_warm_disk_worker, args=(child, library, url, cache_dir), daemon=True)
        self._process.start()

    def check(self) -> str:
        """The SHA-256 of the array's bytes as the worker reads them (untimed)."""
        self._connection.send("check")
        return self._connection.recv()

    def run(self) -> Any:
        self._connection.send("read")
        return self._connection.recv()

    def close(self) -> None:
        self._connection.send(False)
        self._process.join(30)


def _fresh_dir(holder: dict[str, str], base: Path) -> None:
    old = holder.get("dir")
    if old:
        shutil.rmtree(old, ignore_errors=True)
    holder["dir"] = tempfile.mkdtemp(dir=base)


def _check(name: str, got: np.ndarray, expected: np.ndarray) -> None:
    if not np.array_equal(got, expected):
        raise SystemExit(f"{name} read wrong data")


def run(args: argparse.Namespace) -> list[CaseResult]:
    from zarrlayer.testing.servers import http_server

    runs, warmup = resolve_runs(args)
    chunks = 16 if args.quick else args.chunks
    work = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    try:
        expected = _write_array(work, chunks, args.chunk_side)
        with http_server(work, latency=args.latency) as server:
            url = f"{server.url}/arr"
            return _run_cases(url, server, work, expected, chunks, runs, warmup)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_cases(url: str, server: Any, work: Path, expected: np.ndarray, chunks: int, runs: int, warmup: int):
    results = []
    mine: dict[str, str] = {}
    theirs: dict[str, str] = {}
    cold = [
        Contestant("zarrlayer", lambda: _zarrlayer_read(url, {"disk": {"directory": mine["dir"]}}),
                   setup=lambda: _fresh_dir(mine, work)),
        Contestant("zarr-python", lambda: _peer_read(url, theirs["dir"]), setup=lambda: _fresh_dir(theirs, work)),
    ]
    _fresh_dir(mine, work), _fresh_dir(theirs, work)
    _check("zarrlayer cold", cold[0].run(), expected)
    _check("zarr-python cold", cold[1].run(), expected)
    cold_samples = time_interleaved(cold, runs=runs, warmup=warmup)
    results.append(CaseResult(NAME, f"cold: {chunks} chunks over HTTP +{args_latency(server)}", cold_samples,
                              units=chunks))

    filled_mine, filled_theirs = mine["dir"], theirs["dir"]
    workers = [_WarmDiskProcess("zarrlayer", url, filled_mine), _WarmDiskProcess("zarr-python", url, filled_theirs)]
    try:
        requests = {}
        for name, worker in zip(("zarrlayer", "zarr-python"), workers):
            server.reset_counts()
            if worker.check() != hashlib.sha256(expected.tobytes()).hexdigest():
                raise SystemExit(f"the {name} warm-from-disk worker read wrong data")
            requests[name] = server.request_count
        if requests["zarrlayer"]:
            raise SystemExit(f"zarrlayer's warm read from disk made {requests['zarrlayer']} HTTP requests")
        disk = [Contestant("zarrlayer", workers[0].run), Contestant("zarr-python", workers[1].run)]
        samples = time_interleaved(disk, runs=runs, warmup=warmup)
    finally:
        for worker in workers:
            worker.close()
    samples[COLD] = cold_samples["zarrlayer"]
    results.append(CaseResult(NAME, "warm from disk (new process)", samples, floor=COLD, floor_target=1 / 10,
                              units=chunks, notes={"http_requests_per_warm_read": requests}))

    import zarrlayer

    array = zarrlayer.open_array(url, mode="r", cache={"memory": "1 GiB"})
    peer = _peer_array(url, None)
    _check("zarrlayer memory", array[...], expected)
    _check("zarr-python memory", peer[...], expected)
    requests = {}
    for name, read in (("zarrlayer", lambda: array[...]), ("zarr-python", lambda: peer[...])):
        server.reset_counts()
        _check(f"{name} memory (warm)", read(), expected)
        requests[name] = server.request_count
    if requests["zarrlayer"]:
        raise SystemExit(f"zarrlayer's warm read from memory made {requests['zarrlayer']} HTTP requests")
    memory = [Contestant("zarrlayer", lambda: array[...]), Contestant("zarr-python", lambda: peer[...])]
    samples = time_interleaved(memory, runs=runs, warmup=warmup)
    samples[COLD] = cold_samples["zarrlayer"]
    results.append(CaseResult(NAME, "warm from memory", samples, floor=COLD, floor_target=1 / 30, units=chunks,
                              notes={"http_requests_per_warm_read": requests}))

    local = [Contestant("zarrlayer", lambda: zarrlayer.open_array(str(work / "arr"), mode="r")[...]),
             Contestant("zarr-python", lambda: _peer_local(work / "arr"))]
    samples = time_interleaved(local, runs=runs, warmup=warmup)
    results.append(CaseResult(NAME, "reference: local directory, no cache", samples, units=chunks))
    return results


def _peer_local(path: Path) -> np.ndarray:
    import zarr

    return zarr.open_array(str(path), mode="r")[...]


def args_latency(server: Any) -> str:
    return f"{server.latency * 1000:.0f} ms"


def _speedup_table(results: list[CaseResult]) -> str:
    cold = results[0].median("zarrlayer")
    lines = ["case                           zarrlayer   x cold   zarr-python   x cold   target"]
    targets = {"warm from disk (new process)": ">= 10x", "warm from memory": ">= 30x"}
    for r in results:
        if r.median("zarr-python") is None:
            continue
        mine, theirs = r.median("zarrlayer"), r.median("zarr-python")
        lines.append(
            f"{r.case[:30]:30} {format_seconds(mine):>10} {cold / mine:7.1f}x {format_seconds(theirs):>12} "
            f"{cold / theirs:7.1f}x   {targets.get(r.case, '-')}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--chunks", type=int, default=256, help="chunks in the array (quick: 16)")
    parser.add_argument("--chunk-side", type=int, default=64, help="chunks are SIDE x SIDE float32 (64: 16 KiB)")
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added to every HTTP request")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = run(args)
    print_flush(format_table(results))
    print_flush("\n(the 'raw loop' column of the warm cases is zarrlayer's cold read; 'max' is the target ratio)\n")
    print_flush(_speedup_table(results))
    for r in results[1:3]:
        print_flush(f"HTTP requests per warm read, {r.case}: {r.notes['http_requests_per_warm_read']}")
    path = save_results(NAME, results, directory=args.results_dir)
    print_flush(f"\nresults: {path} ({time.perf_counter() - started:.0f} s)")
    missed = [r.case for r in results if r.met is False]
    if missed and not args.quick:
        print_flush(f"targets missed: {missed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
