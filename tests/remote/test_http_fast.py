"""The fast HTTP path: a connection pool sized to the request limit, batches on workers, zarr.json-first metadata probes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from zarrlayer.core.sync import sync
from zarrlayer.storage._fsspec_support import http_pool_size
from zarrlayer.storage.fsspec import FsspecStore
from zarrlayer.testing.servers import LoopbackHTTPServer, http_server, write_files

WIDE = 150  # above aiohttp's default pool of 100 connections
CHUNKS = {f"c/{i}": os.urandom(32) + i.to_bytes(4, "little") for i in range(WIDE)}


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackHTTPServer]:
    with http_server(write_files(tmp_path_factory.mktemp("wide"), CHUNKS), latency=0.4) as server:
        yield server


def _pool_limit(store: FsspecStore) -> int:
    async def limit() -> int:
        fs = store._async_fs()
        session = await fs.set_session()
        return int(session.connector.limit)

    return sync(limit())


def test_pool_follows_a_request_limit_above_aiohttps_default(slow_server: LoopbackHTTPServer) -> None:
    store = FsspecStore.from_url(slow_server.url, max_concurrency=WIDE)
    assert _pool_limit(store) == WIDE
    keys = list(CHUNKS)
    slow_server.reset_counts()
    values = sync(store.get_partial_values([(k, None) for k in keys]))
    assert [bytes(v) for v in values] == [CHUNKS[k] for k in keys]
    # aiohttp's default pool would have held this at 100 requests in flight
    assert 100 < slow_server.max_in_flight <= WIDE


def test_pool_never_below_aiohttps_default_and_limit_still_holds(slow_server: LoopbackHTTPServer) -> None:
    store = FsspecStore.from_url(slow_server.url, max_concurrency=7)
    assert _pool_limit(store) == 100
    keys = list(CHUNKS)[:14]
    slow_server.reset_counts()
    values = sync(store.get_partial_values([(k, None) for k in keys]))
    assert [bytes(v) for v in values] == [CHUNKS[k] for k in keys]
    assert slow_server.max_in_flight == 7


def test_a_client_the_user_chose_is_kept() -> None:
    from fsspec.implementations.http import HTTPFileSystem
    from fsspec.implementations.memory import MemoryFileSystem

    assert http_pool_size(HTTPFileSystem, {}, 64) == 100
    assert http_pool_size(HTTPFileSystem, {}, 300) == 300
    assert http_pool_size(HTTPFileSystem, {"get_client": object()}, 300) is None
    assert http_pool_size(HTTPFileSystem, {"client_kwargs": {"connector": object()}}, 300) is None
    assert http_pool_size(MemoryFileSystem, {}, 300) is None


# -- metadata probes: zarr.json alone where the location has served one --------------------------


@pytest.fixture
def mixed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackHTTPServer]:
    """A v3 array at 'v3', a v2 array at 'v2', and at 'both' a v3 array beside a stray .zarray."""
    import numpy as np

    import zarrlayer

    root = tmp_path_factory.mktemp("mixed") / "root.zarr"
    zarrlayer.create_array(str(root), path="v3", data=np.arange(12, dtype="<i4").reshape(3, 4), chunks=(2, 2), zarr_format=3)
    zarrlayer.create_array(str(root), path="v2", data=np.arange(6, dtype="<f8"), chunks=(4,), zarr_format=2)
    zarrlayer.create_array(str(root), path="both", data=np.full(5, 7, dtype="<u2"), chunks=(5,), zarr_format=3)
    (root / "both" / ".zarray").write_bytes((root / "v2" / ".zarray").read_bytes())
    with http_server(root.parent) as server:
        yield server


def _metadata_requests(server: LoopbackHTTPServer) -> list[str]:
    return sorted(path.rsplit("/", 1)[-1] for _, path, _ in server.requests if path.rsplit("/", 1)[-1].startswith((".z", "zarr.json")))


def test_a_location_that_served_zarr_json_is_asked_for_zarr_json_alone(mixed_server: LoopbackHTTPServer) -> None:
    import numpy as np

    import zarrlayer
    from zarrlayer.core import _doc_fetch

    url = f"{mixed_server.url}/root.zarr"
    store = FsspecStore.from_url(url)
    _doc_fetch._remember(store, False)
    mixed_server.reset_counts()
    first = zarrlayer.open_array(url, path="v3", mode="r")
    assert _metadata_requests(mixed_server) == [".zarray", ".zattrs", ".zgroup", "zarr.json"]
    assert _doc_fetch.v3_seen(store)
    mixed_server.reset_counts()
    again = zarrlayer.open_array(url, path="v3", mode="r")
    assert _metadata_requests(mixed_server) == ["zarr.json"]
    assert np.array_equal(again[...], first[...]) and np.array_equal(again[...], np.arange(12).reshape(3, 4))


def test_a_v2_node_still_opens_where_v3_was_seen_and_the_hint_goes(mixed_server: LoopbackHTTPServer) -> None:
    import numpy as np

    import zarrlayer
    from zarrlayer.core import _doc_fetch

    url = f"{mixed_server.url}/root.zarr"
    zarrlayer.open_array(url, path="v3", mode="r")
    assert _doc_fetch.v3_seen(FsspecStore.from_url(url))
    mixed_server.reset_counts()
    v2 = zarrlayer.open_array(url, path="v2", mode="r")
    assert v2.metadata.zarr_format == 2
    assert np.array_equal(v2[...], np.arange(6, dtype="<f8"))
    assert _metadata_requests(mixed_server) == [".zarray", ".zattrs", ".zgroup", "zarr.json"]
    order = [path.rsplit("/", 1)[-1] for _, path, _ in mixed_server.requests]
    assert order[0] == "zarr.json"  # asked alone first, the v2 documents after its 404
    assert not _doc_fetch.v3_seen(FsspecStore.from_url(url))


def test_zarr_json_wins_over_a_stray_zarray_with_and_without_the_hint(mixed_server: LoopbackHTTPServer) -> None:
    import numpy as np

    import zarrlayer
    from zarrlayer.core import _doc_fetch

    url = f"{mixed_server.url}/root.zarr"
    store = FsspecStore.from_url(url)
    for hinted in (False, True):
        _doc_fetch._remember(store, hinted)
        array = zarrlayer.open_array(url, path="both", mode="r")
        assert array.metadata.zarr_format == 3
        assert np.array_equal(array[...], np.full(5, 7, dtype="<u2"))


def test_local_stores_are_never_hinted(tmp_path: os.PathLike[str]) -> None:
    import numpy as np

    import zarrlayer
    from zarrlayer.core import _doc_fetch

    path = os.path.join(tmp_path, "a.zarr")
    zarrlayer.create_array(path, data=np.arange(3), chunks=(3,), zarr_format=3)
    array = zarrlayer.open_array(path, mode="r")
    assert not _doc_fetch.v3_seen(array.store)


# -- batches: width workers over _cat_file, not one task per key ----------------------------------


def test_a_batch_runs_on_workers_not_fsspecs_chunked_gather(
    slow_server: LoopbackHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec.asyn

    used: list[bool] = []

    def refuse(*args: object, **kwargs: object) -> None:
        used.append(True)  # the store would fall back to key-by-key reads: record it
        raise AssertionError("fsspec's _run_coros_in_chunks was used")

    monkeypatch.setattr(fsspec.asyn, "_run_coros_in_chunks", refuse)
    store = FsspecStore.from_url(slow_server.url, max_concurrency=8)
    keys = [*list(CHUNKS)[:20], "missing", "c/3"]
    slow_server.reset_counts()
    values = sync(store.get_partial_values([(k, None) for k in keys]))
    assert [None if v is None else bytes(v) for v in values] == [CHUNKS.get(k) for k in keys]
    assert slow_server.max_in_flight == 8
    assert not used


def test_a_filesystem_with_its_own_cat_ranges_keeps_it(slow_server: LoopbackHTTPServer) -> None:
    from fsspec.implementations.http import HTTPFileSystem

    from zarrlayer.storage._fsspec_support import cat_batch

    calls: list[int] = []

    class Merging(HTTPFileSystem):
        async def _cat_ranges(self, paths: list[str], starts: list, ends: list, **kwargs: object) -> list:  # type: ignore[override]
            calls.append(int(kwargs["batch_size"]))  # type: ignore[call-overload]
            return await super()._cat_ranges(paths, starts, ends, **kwargs)

    async def read() -> list:
        fs = Merging(asynchronous=True, skip_instance_cache=True)
        try:
            return await cat_batch(fs, [f"{slow_server.url}/c/1", f"{slow_server.url}/c/2"], [(None, None), (0, 4)], 3, {})
        finally:
            await (await fs.set_session()).close()

    assert [bytes(v) for v in sync(read())] == [CHUNKS["c/1"], CHUNKS["c/2"][:4]]
    assert calls == [3]


def test_caches_always_ask_for_every_document_so_a_warm_open_makes_no_request(mixed_server: LoopbackHTTPServer, tmp_path) -> None:
    import zarrlayer
    from zarrlayer.cache import DiskCacheStore
    from zarrlayer.core import _doc_fetch

    url = f"{mixed_server.url}/root.zarr"

    def cached() -> DiskCacheStore:
        return DiskCacheStore(FsspecStore.from_url(url), directory=str(tmp_path / "cache"), max_bytes=2**26)

    zarrlayer.open_array(cached(), path="v3", mode="r")  # the location serves a zarr.json
    assert not _doc_fetch.v3_seen(cached())
    mixed_server.reset_counts()
    zarrlayer.open_array(cached(), path="both", mode="r")  # a later cold open through the cache
    assert _metadata_requests(mixed_server) == [".zarray", ".zattrs", ".zgroup", "zarr.json"]  # every answer cached
    with _doc_fetch._seen_lock:
        _doc_fetch._seen.clear()  # as in another process sharing the disk cache
    mixed_server.reset_counts()
    for path in ("v3", "both"):
        zarrlayer.open_array(cached(), path=path, mode="r")
    assert _metadata_requests(mixed_server) == []
