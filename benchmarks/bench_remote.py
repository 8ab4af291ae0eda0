"""Remote reads, zarrlayer beside zarr-python: 256 chunks from moto S3 and from HTTP with 20 ms per request.

    python benchmarks/bench_remote.py [--runs 7] [--latency 0.02]

The servers run in a child process (so their CPU does not share the GIL with the
readers) on 127.0.0.1. Each contender reads the whole array through its public API
(`zarrlayer.open_array(...)[...]`, `zarr.open_array(...)[...]`); contenders are
interleaved run by run and the median is reported, with ratios to zarr-python on the
same backend and to the concurrency bound (chunks / concurrency) x latency.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

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


def _write_data(directory: Path, endpoint: str) -> np.ndarray:
    import zarr

    from zarrlayer.testing.servers import s3fs_options

    data = np.random.default_rng(0).normal(size=SHAPE).astype("<f4")
    for store in (
        zarr.storage.LocalStore(directory / "a.zarr"),
        zarr.storage.FsspecStore.from_url(f"s3://{BUCKET}/a.zarr", storage_options=s3fs_options(endpoint)),
    ):
        array = zarr.create_array(store, shape=SHAPE, chunks=CHUNKS, dtype=data.dtype, overwrite=True)
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
        "HTTP +latency": {
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


def _measure(arrays: dict[str, Any], expected: np.ndarray, runs: int) -> dict[str, list[float]]:
    """Interleaved timings of `array[...]` per contender (one untimed warm-up read each)."""
    for name, array in arrays.items():
        if not np.array_equal(array[...], expected):
            raise AssertionError(f"{name} read different values")
    times: dict[str, list[float]] = {name: [] for name in arrays}
    for run in range(runs):
        order = list(arrays) if run % 2 == 0 else list(reversed(arrays))
        for name in order:
            start = time.perf_counter()
            arrays[name][...]
            times[name].append(time.perf_counter() - start)
    return times


def _report(server: str, times: dict[str, list[float]], bound: float | None) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"\n{server}" + (f"   (bound = chunks / concurrency x latency = {bound * 1000:.0f} ms)" if bound else ""))
    print(f"  {'contender':26s} {'median ms':>10s} {'min ms':>8s} {'vs zarr-python':>15s} {'vs bound':>9s}")
    for name, median in medians.items():
        peer = medians.get(name.replace("zarrlayer", "zarr-python"))
        ratio = f"{peer / median:6.2f}x faster" if name.startswith("zarrlayer") and peer else ""
        versus_bound = f"{median / bound:8.2f}x" if bound else ""
        print(f"  {name:26s} {median * 1000:10.1f} {min(times[name]) * 1000:8.1f} {ratio:>15s} {versus_bound:>9s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per contender (median reported)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the HTTP server adds per request")
    args = parser.parse_args()

    import zarr

    from zarrlayer import config

    concurrency = config.get().max_concurrency
    n_chunks = (SHAPE[0] // CHUNKS[0]) * (SHAPE[1] // CHUNKS[1])
    with tempfile.TemporaryDirectory() as tmp:
        parent, child = multiprocessing.get_context("spawn").Pipe()
        server_process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(child, tmp, args.latency), daemon=True
        )
        server_process.start()
        try:
            endpoint, http_url = parent.recv()
            expected = _write_data(Path(tmp), endpoint)
            print(
                f"{n_chunks} chunks of {np.prod(CHUNKS) * 4 // 1024} KiB; zarrlayer max_concurrency={concurrency}, "
                f"zarr-python async.concurrency={zarr.config.get('async.concurrency')}; {args.runs} runs, interleaved"
            )
            for server, makers in _contenders(endpoint, http_url).items():
                arrays = {name: make() for name, make in makers.items()}
                bound = n_chunks / concurrency * args.latency if server.startswith("HTTP") else None
                _report(server, _measure(arrays, expected, args.runs), bound)
            with zarr.config.set({"async.concurrency": concurrency}):
                makers = _contenders(endpoint, http_url)["HTTP +latency"]
                arrays = {name: make() for name, make in makers.items()}
                times = _measure(arrays, expected, args.runs)
            _report(f"HTTP +latency, zarr-python also at concurrency {concurrency}", times, n_chunks / concurrency * args.latency)
        finally:
            parent.send("stop")
            server_process.join(timeout=10)


if __name__ == "__main__":
    main()
