"""Caching: a memory cache over a disk cache in front of a slow HTTP server.

The first read goes to the server; the second comes from memory; a fresh open (a new
process, say) finds the chunks in the disk cache. `stats()` shows each tier's counters.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

import zarrlayer
from zarrlayer.testing.servers import http_server


def _timed_read(array: zarrlayer.Array) -> float:
    start = time.perf_counter()
    array[:]
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        source = zarrlayer.create_array(store=tmp_path / "data.zarr", shape=(64, 64), chunks=(16, 16),
                                        dtype="float64")
        source[:] = np.random.default_rng(0).random((64, 64))
        cache = {"memory": "64 MiB", "disk": {"directory": str(tmp_path / "cache"), "max_bytes": "256 MiB"}}

        with http_server(tmp_path, latency=0.02) as server:
            url = f"{server.url}/data.zarr"
            array = zarrlayer.open_array(url, mode="r", cache=cache)
            print(f"open: {server.request_count} requests to the server (metadata)")
            before = server.request_count
            cold = _timed_read(array)
            cold_requests = server.request_count - before
            warm = _timed_read(array)
            print(f"cold read: {cold:.3f} s, {cold_requests} requests to the server ({array.nchunks} chunks)")
            print(f"warm read (memory): {warm:.3f} s, {server.request_count - before - cold_requests} more requests")

            memory_stats = array.store.stats()
            print(f"memory tier: {memory_stats['hits']} hits, {memory_stats['misses']} misses")
            print(f"disk tier:   {memory_stats['inner']['hits']} hits, {memory_stats['inner']['misses']} misses")

            before = server.request_count
            fresh = zarrlayer.open_array(url, mode="r", cache=cache)   # new memory tier, same disk tier
            np.testing.assert_array_equal(fresh[:], source[:])
            print(f"fresh open, read from the disk cache: {server.request_count - before} requests to the server")
            disk = fresh.store.stats()["inner"]
            print(f"disk tier of the fresh open: {disk['hits']} hits, {disk['misses']} misses")
    print("caching: OK")


if __name__ == "__main__":
    main()
