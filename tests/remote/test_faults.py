"""Retries, non-retries and error messages of both stores against a fault-injecting HTTP server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from zarrlayer.core.sync import sync
from zarrlayer.errors import RemoteStoreError
from zarrlayer.storage._base import RangeByteRequest, Store
from zarrlayer.storage.fsspec import FsspecStore
from zarrlayer.storage.obstore import ObjectStore
from zarrlayer.testing.servers import LoopbackHTTPServer, http_server, write_files

DATA = {"c/0": b"chunk zero", "c/1": b"chunk one!", "zarr.json": b"{}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackHTTPServer]:
    with http_server(write_files(tmp_path_factory.mktemp("faults"), DATA)) as srv:
        yield srv


@pytest.fixture
def fresh(server: LoopbackHTTPServer) -> Iterator[LoopbackHTTPServer]:
    server.clear_faults()
    server.reset_counts()
    yield server
    server.clear_faults()


def _make(kind: str, url: str, retries: int) -> Store:
    if kind == "fsspec":
        store = FsspecStore.from_url(url, retries=retries)
    else:
        store = ObjectStore.from_url(url, retries=retries)
    store._policy = type(store._policy)(retries=retries, base_delay=0.005, max_delay=0.05)  # fast tests
    return store


KINDS = ["fsspec", "obstore"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [503, 500, 429])
def test_transient_status_is_retried_until_success(fresh: LoopbackHTTPServer, kind: str, status: int) -> None:
    store = _make(kind, fresh.url, retries=4)
    fresh.fail_next(3, status)
    assert bytes(sync(store.get("c/0"))) == DATA["c/0"]
    assert fresh.request_count == 4


def test_retries_are_logged_without_credentials(fresh: LoopbackHTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    store = _make("fsspec", fresh.url.replace("http://", "http://carol:t0psecret@"), retries=3)
    fresh.fail_next(2, 503)
    with caplog.at_level(logging.DEBUG, logger="zarrlayer.storage"):
        assert bytes(sync(store.get("c/0"))) == DATA["c/0"]
    retries = [r for r in caplog.records if r.name.startswith("zarrlayer.storage") and "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert all("'c/0'" in r.getMessage() and "503" in r.getMessage() for r in retries)
    assert "t0psecret" not in caplog.text and "carol" not in caplog.text


@pytest.mark.parametrize("kind", KINDS)
def test_dropped_connections_are_retried(fresh: LoopbackHTTPServer, kind: str) -> None:
    store = _make(kind, fresh.url, retries=5)
    fresh.drop_next(3)
    assert bytes(sync(store.get("c/1"))) == DATA["c/1"]
    assert fresh.request_count == 4  # three dropped (whoever retried them), then the answer


@pytest.mark.parametrize("kind", KINDS)
def test_retries_inside_a_batch_read(fresh: LoopbackHTTPServer, kind: str) -> None:
    store = _make(kind, fresh.url, retries=4)
    fresh.fail_next(2, 503, path="/c/1")
    got = sync(store.get_partial_values([("c/0", None), ("c/1", RangeByteRequest(0, 5)), ("missing", None)]))
    assert [None if g is None else bytes(g) for g in got] == [DATA["c/0"], DATA["c/1"][:5], None]
    assert [p for _, p, _ in fresh.requests].count("/c/1") == 3


@pytest.mark.parametrize("kind", KINDS)
def test_forbidden_is_not_retried(fresh: LoopbackHTTPServer, kind: str) -> None:
    store = _make(kind, fresh.url, retries=5)
    fresh.fail_next(None, 403)
    with pytest.raises(RemoteStoreError) as info:
        sync(store.get("c/0"))
    assert fresh.request_count == 1
    assert fresh.url in str(info.value) and "'c/0'" in str(info.value)
    assert "not retried" in str(info.value)


@pytest.mark.parametrize("kind", KINDS)
def test_missing_key_is_none_and_not_retried(fresh: LoopbackHTTPServer, kind: str) -> None:
    store = _make(kind, fresh.url, retries=5)
    assert sync(store.get("c/9")) is None
    assert fresh.request_count == 1


@pytest.mark.parametrize("kind", KINDS)
def test_persistent_503_gives_remote_store_error_after_the_last_retry(fresh: LoopbackHTTPServer, kind: str) -> None:
    store = _make(kind, fresh.url, retries=2)
    fresh.fail_next(None, 503)
    with pytest.raises(RemoteStoreError) as info:
        sync(store.get("zarr.json"))
    assert fresh.request_count == 3
    message = str(info.value)
    assert "3 attempts" in message and fresh.url in message and "'zarr.json'" in message
    assert isinstance(info.value, OSError)


def test_retries_default_to_the_setting(fresh: LoopbackHTTPServer) -> None:
    from zarrlayer import config

    with config.override(retries=1):
        store = FsspecStore.from_url(fresh.url)
        store._policy = type(store._policy)(retries=None, base_delay=0.005, max_delay=0.05)
        fresh.fail_next(None, 503)
        with pytest.raises(RemoteStoreError):
            sync(store.get("c/0"))
    assert fresh.request_count == 2


@pytest.mark.parametrize("kind", KINDS)
def test_connection_refused_fails_fast_without_credentials(tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    with http_server(tmp_path) as dead:
        url = dead.url.replace("http://", "http://alice:pa55word@")
    # the server is closed now: the port refuses connections
    store = _make(kind, url, retries=3) if kind == "fsspec" else _make(kind, dead.url, retries=3)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RemoteStoreError) as info:
        sync(store.get("c/0"))
    text = str(info.value) + repr(store) + store.url + caplog.text
    assert "pa55word" not in text and "alice" not in text
    assert "not retried" in str(info.value)


def _chained(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


def _classification_cases() -> list[tuple[BaseException, str]]:
    import aiohttp
    import botocore.exceptions
    from yarl import URL

    def client_error(status: int, code: str) -> BaseException:
        response = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return botocore.exceptions.ClientError(response, "GetObject")

    url = URL("http://127.0.0.1/x")
    info = aiohttp.RequestInfo(url=url, method="GET", headers={}, real_url=url)  # type: ignore[call-arg]
    return [
        (FileNotFoundError("x"), "pass"),
        (PermissionError("AccessDenied"), "fatal"),
        (TimeoutError(), "transient"),
        (asyncio.TimeoutError(), "transient"),
        (ConnectionResetError(), "transient"),
        (ConnectionRefusedError(), "fatal"),
        (aiohttp.ServerDisconnectedError(), "transient"),
        (aiohttp.ServerTimeoutError(), "transient"),
        (aiohttp.ClientResponseError(info, (), status=503), "transient"),
        (aiohttp.ClientResponseError(info, (), status=429), "transient"),
        (aiohttp.ClientResponseError(info, (), status=403), "fatal"),
        (aiohttp.ClientResponseError(info, (), status=416), "pass"),
        (_chained(OSError(5, "SlowDown"), client_error(503, "SlowDown")), "transient"),  # as s3fs translates it
        (_chained(OSError(5, "InternalError"), client_error(500, "InternalError")), "transient"),
        (_chained(PermissionError("denied"), client_error(403, "AccessDenied")), "fatal"),
        (TypeError("a bug"), "pass"),
    ]


def test_fsspec_error_classification() -> None:
    from zarrlayer.storage._fsspec_support import classify_fsspec_error

    for exc, expected in _classification_cases():
        assert classify_fsspec_error(exc).value == expected, repr(exc)


def _impatient(kind: str, url: str, retries: int) -> Store:
    """A store whose requests time out after 0.2 s."""
    if kind == "fsspec":
        import aiohttp

        options = {"client_kwargs": {"timeout": aiohttp.ClientTimeout(total=0.2)}}
        store: Store = FsspecStore.from_url(url, storage_options=options, retries=retries)
    else:
        store = ObjectStore.from_url(url, retries=retries, client_options={"timeout": "200ms", "allow_http": True})
    store._policy = type(store._policy)(retries=retries, base_delay=0.005, max_delay=0.05)  # type: ignore[attr-defined]
    return store


@pytest.mark.parametrize("kind", KINDS)
def test_timeouts_are_retried_then_reported_with_url_and_key(fresh: LoopbackHTTPServer, kind: str) -> None:
    store = _impatient(kind, fresh.url, retries=2)
    fresh.latency = 1.0
    try:
        with pytest.raises(RemoteStoreError) as info:
            sync(store.get("c/1"))
    finally:
        fresh.latency = 0.0
    assert fresh.request_count == 3
    message = str(info.value)
    assert "3 attempts" in message and fresh.url in message and "'c/1'" in message
    assert sync(store.get("c/1")) == DATA["c/1"]
