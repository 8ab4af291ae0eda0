"""Reads run concurrently within the store's request limit, from the sync API and from other loops."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator

import pytest

from zarrlayer.core.sync import sync
from zarrlayer.storage._base import Store
from zarrlayer.storage.fsspec import FsspecStore
from zarrlayer.storage.obstore import ObjectStore
from zarrlayer.testing.servers import LoopbackHTTPServer, http_server, write_files

N_CHUNKS = 256
LATENCY = 0.02
CHUNKS = {f"c/{i}": os.urandom(64) + i.to_bytes(4, "little") for i in range(N_CHUNKS)}


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackHTTPServer]:
    with http_server(write_files(tmp_path_factory.mktemp("slow"), CHUNKS), latency=LATENCY) as server:
        yield server


def _store(kind: str, url: str, limit: int | None) -> Store:
    return FsspecStore.from_url(url, max_concurrency=limit) if kind == "fsspec" else ObjectStore.from_url(url, max_concurrency=limit)


@pytest.mark.parametrize("kind", ["fsspec", "obstore"])
def test_256_chunks_at_20ms_take_far_less_than_serial(slow_server: LoopbackHTTPServer, kind: str) -> None:
    store = _store(kind, slow_server.url, 64)  # the default (128) is more than a loaded 2-core machine fills at once
    keys = list(CHUNKS)
    slow_server.reset_counts()
    start = time.perf_counter()
    values = sync(store.get_partial_values([(k, None) for k in keys]))
    elapsed = time.perf_counter() - start
    assert [bytes(v) for v in values] == [CHUNKS[k] for k in keys]
    assert slow_server.request_count == N_CHUNKS
    # the server saw the requests overlap, up to the limit (a loaded machine may not fill all 64 slots at once)
    assert store.max_concurrency // 2 <= slow_server.max_in_flight <= store.max_concurrency
    assert elapsed < N_CHUNKS * LATENCY / 4, f"{elapsed:.2f}s is not concurrent (serial would be {N_CHUNKS * LATENCY:.2f}s)"


@pytest.mark.parametrize("kind", ["fsspec", "obstore"])
def test_requests_in_flight_never_exceed_the_limit(slow_server: LoopbackHTTPServer, kind: str) -> None:
    store = _store(kind, slow_server.url, 5)
    keys = list(CHUNKS)[:60]
    slow_server.reset_counts()
    values = sync(store.get_partial_values([(k, None) for k in keys]))
    assert [bytes(v) for v in values] == [CHUNKS[k] for k in keys]
    assert slow_server.max_in_flight == 5


@pytest.mark.parametrize("kind", ["fsspec", "obstore"])
def test_limit_is_shared_by_threads_and_by_copies_of_the_store(slow_server: LoopbackHTTPServer, kind: str) -> None:
    stores = [_store(kind, slow_server.url, 4) for _ in range(3)]  # equal stores share one limit
    slow_server.reset_counts()
    errors: list[BaseException] = []

    def reader(n: int) -> None:
        try:
            store = stores[n % 3]
            keys = [f"c/{(n * 7 + i) % N_CHUNKS}" for i in range(6)]

            async def read_all() -> list:
                return list(await asyncio.gather(*(store.get(k) for k in keys)))

            got = sync(read_all())
            assert [bytes(v) for v in got] == [CHUNKS[k] for k in keys]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert slow_server.request_count == 36
    assert slow_server.max_in_flight <= 4


@pytest.mark.parametrize("kind", ["fsspec", "obstore"])
def test_store_works_from_another_event_loop(slow_server: LoopbackHTTPServer, kind: str) -> None:
    store = _store(kind, slow_server.url, 8)
    keys = list(CHUNKS)[:20]
    first = sync(store.get_partial_values([(k, None) for k in keys]))  # binds zarrlayer's loop

    async def on_my_loop() -> list:
        return await store.get_partial_values([(k, None) for k in keys])

    second = asyncio.run(on_my_loop())  # a different loop in this thread
    third = asyncio.run(on_my_loop())  # and a third one, after the second closed
    expected = [CHUNKS[k] for k in keys]
    assert [bytes(v) for v in first] == [bytes(v) for v in second] == [bytes(v) for v in third] == expected


@pytest.mark.parametrize("backend", ["fsspec", "obstore"])
def test_array_read_through_the_api_is_concurrent(tmp_path_factory: pytest.TempPathFactory, backend: str) -> None:
    import numpy as np

    import zarrlayer
    from zarrlayer import config

    directory = tmp_path_factory.mktemp("array")
    data = np.arange(64 * 64, dtype="<i4").reshape(64, 64)
    zarrlayer.create_array(str(directory / "a.zarr"), data=data, chunks=(4, 4))  # 16 x 16 = 256 chunks
    with http_server(directory, latency=LATENCY) as server, config.override(remote_backend=backend):
        array = zarrlayer.open_array(f"{server.url}/a.zarr", mode="r")
        server.reset_counts()
        start = time.perf_counter()
        got = array[...]
        elapsed = time.perf_counter() - start
    assert np.array_equal(got, data)
    assert server.request_count >= N_CHUNKS
    assert elapsed < N_CHUNKS * LATENCY / 4, f"{elapsed:.2f}s is not concurrent (serial would be {N_CHUNKS * LATENCY:.2f}s)"
