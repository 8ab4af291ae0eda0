"""Remote reads, zarrlayer beside zarr-python: 256 chunks from moto S3 and from HTTP with 20 ms per request.

    python benchmarks/bench_remote.py [--runs 7] [--quick] [--latency 0.02]

The servers run in a child process (so their CPU does not share the GIL with the
readers) on 127.0.0.1. Each contender reads the whole array through its public API
(`zarrlayer.open_array(...)[...]`, `zarr.open_array(...)[...]`); contenders are
interleaved run by run and the median is reported, with ratios to zarr-python on the
same backend and to the concurrency bound (chunks / concurrency) x latency. A last case
sets zarr-python's concurrency to zarrlayer's, to show what the defaults contribute.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
from collections.abc import Callable
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

SHAPE = (1024, 1024)
CHUNKS = (64, 64)  # 16 x 16 = 256 chunks of 16 KiB
BUCKET = "bench"


def _serve(conn: Any, directory: str, latency: float) -> None:
    """Child process: start moto and the HTTP server, send their URLs, serve until told to stop."""
    from zarrlayer.testing.servers import create_bucket, http_server, moto_server

    endpoint = moto_server().endpoint_url
    create_bucket(endpoint, BUCKET)
    with http_server(directory, latency=latency) as server:
        conn.send((endpoint, server.url))
        conn.recv()


def _write_data(directory: Path, endpoint: str, shape: tuple[int, int]) -> np.ndarray:
    import zarr

    from zarrlayer.testing.servers import s3fs_options

    data = np.random.default_rng(0).normal(size=shape).astype("<f4")
    for store in (
        zarr.storage.LocalStore(directory / "a.zarr"),
        zarr.storage.FsspecStore.from_url(f"s3://{BUCKET}/a.zarr", storage_options=s3fs_options(endpoint)),
    ):
        array = zarr.create_array(store, shape=shape, chunks=CHUNKS, dtype=data.dtype, overwrite=True)
        array[...] = data
    return data


def _contenders(endpoint: str, http_url: str) -> dict[str, dict[str, Callable[[], Any]]]:
    """For each server, name -> a function opening the array read-only (called once, outside timing)."""
    import obstore.store
    import zarr

    import zarrlayer
    from zarrlayer.storage.fsspec import FsspecStore
    from zarrlayer.storage.obstore import ObjectStore
    from zarrlayer.testing.servers import obstore_s3_options, s3fs_options

    s3_url, web_url = f"s3://{BUCKET}/a.zarr", f"{http_url}/a.zarr"
    obs_opts = obstore_s3_options(endpoint)

    def obs_s3() -> Any:
        return obstore.store.from_url(s3_url, **obs_opts)

    def obs_http() -> Any:
        return obstore.store.from_url(web_url, client_options={"allow_http": True})

    return {
        "moto S3": {
            "zarrlayer FsspecStore": lambda: zarrlayer.open_array(
                FsspecStore.from_url(s3_url, storage_options=s3fs_options(endpoint), read_only=True), mode="r"
            ),
            "zarrlayer ObjectStore": lambda: zarrlayer.open_array(
                ObjectStore.from_url(s3_url, read_only=True, **obs_opts), mode="r"
            ),
            "zarr-python FsspecStore": lambda: zarr.open_array(
                zarr.storage.FsspecStore.from_url(s3_url, storage_options=s3fs_options(endpoint), read_only=True),
                mode="r",
            ),
            "zarr-python ObjectStore": lambda: zarr.open_array(
                zarr.storage.ObjectStore(obs_s3(), read_only=True), mode="r"
            ),
        },
        "HTTP +20 ms": {
            "zarrlayer FsspecStore": lambda: zarrlayer.open_array(FsspecStore.from_url(web_url), mode="r"),
            "zarrlayer ObjectStore": lambda: zarrlayer.open_array(ObjectStore.from_url(web_url, read_only=True), mode="r"),
            "zarr-python FsspecStore": lambda: zarr.open_array(
                zarr.storage.FsspecStore.from_url(web_url, read_only=True), mode="r"
            ),
            "zarr-python ObjectStore": lambda: zarr.open_array(
                zarr.storage.ObjectStore(obs_http(), read_only=True), mode="r"
            ),
        },
    }


def _check(arrays: dict[str, Any], expected: np.ndarray) -> None:
    for name, array in arrays.items():
        if not np.array_equal(array[...], expected):
            raise AssertionError(f"{name} read different values")


def _cases(
    server: str, arrays: dict[str, Any], runs: int, warmup: int, n_chunks: int, bound: float | None, target: float | None
) -> list[CaseResult]:
    """Time the four contestants interleaved; one CaseResult per store kind (zarrlayer vs zarr-python)."""
    contestants = [Contestant(name, (lambda a=array: a[...])) for name, array in arrays.items()]
    samples = time_interleaved(contestants, runs=runs, warmup=warmup)
    results = []
    for kind in ("FsspecStore", "ObjectStore"):
        subject, peer = f"zarrlayer {kind}", f"zarr-python {kind}"
        result = CaseResult(
            benchmark="remote", case=f"{server}, {kind}", samples={subject: samples[subject], peer: samples[peer]},
            subject=subject, peer=peer, target=target, units=n_chunks, unit_name="chunk",
        )
        if bound is not None:
            result.notes["bound_s"] = bound
            result.notes["vs_bound"] = statistics.median(samples[subject]) / bound
            result.notes["peer_vs_bound"] = statistics.median(samples[peer]) / bound
        results.append(result)
    return results


def _bound_table(results: list[CaseResult]) -> str:
    lines = [f"  {'case':60s} {'zarrlayer':>10s} {'zarr-python':>12s} {'bound':>8s} {'zl/bound':>9s} {'target':>7s}"]
    for r in results:
        if "bound_s" in r.notes:
            lines.append(
                f"  {r.case:60s} {format_seconds(r.median(r.subject)):>10s} {format_seconds(r.median(r.peer)):>12s} "
                f"{format_seconds(r.notes['bound_s']):>8s} {r.notes['vs_bound']:8.2f}x {'<=1.30x':>7s}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the HTTP server adds per request")
    args = parser.parse_args()
    runs, warmup = resolve_runs(args)

    import zarr

    from zarrlayer import config

    shape = (256, 256) if args.quick else SHAPE
    concurrency = config.get().max_concurrency
    n_chunks = (shape[0] // CHUNKS[0]) * (shape[1] // CHUNKS[1])
    bound = n_chunks / concurrency * args.latency
    results: list[CaseResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        server_process = context.Process(target=_serve, args=(child, tmp, args.latency), daemon=True)
        server_process.start()
        try:
            endpoint, http_url = parent.recv()
            expected = _write_data(Path(tmp), endpoint, shape)
            print_flush(
                f"{n_chunks} chunks of {CHUNKS[0] * CHUNKS[1] * 4 // 1024} KiB; zarrlayer max_concurrency={concurrency}, "
                f"zarr-python async.concurrency={zarr.config.get('async.concurrency')}; {runs} runs, interleaved"
            )
            for server, makers in _contenders(endpoint, http_url).items():
                arrays = {name: make() for name, make in makers.items()}
                _check(arrays, expected)
                latency_case = server.startswith("HTTP")
                results += _cases(
                    server, arrays, runs, warmup, n_chunks, bound if latency_case else None, 1.5 if latency_case and not args.quick else None
                )
            with zarr.config.set({"async.concurrency": concurrency}):
                arrays = {name: make() for name, make in _contenders(endpoint, http_url)["HTTP +20 ms"].items()}
                _check(arrays, expected)
                results += _cases(f"HTTP +20 ms, zarr-python at concurrency {concurrency}", arrays, runs, warmup, n_chunks, bound, None)
        finally:
            parent.send("stop")
            server_process.join(timeout=10)
    print_flush(format_table(results))
    print_flush(f"\nthe concurrency bound: (chunks / concurrency) x latency = {n_chunks} / {concurrency} x {args.latency * 1000:.0f} ms")
    print_flush(_bound_table(results))
    print_flush(f"results: {save_results('remote', results, directory=args.results_dir)}")


if __name__ == "__main__":
    main()
