"""Issue 14.3, 14.8, 14.9 and the short-range half of 14.1, against a fault server in its own process.

Both backends (FsspecStore over HTTP and S3, ObjectStore over HTTP and S3) meet short
ranges, ignored Range headers, stalls before and after the headers, and 503s; backend
errors (no credentials, bad parameters, refused connections) arrive as RemoteStoreError.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zarrlayer import config
from zarrlayer.core.sync import sync
from zarrlayer.errors import RemoteStoreError, ZarrlayerError
from zarrlayer.storage._base import RangeByteRequest, SuffixByteRequest
from zarrlayer.storage.fsspec import FsspecStore
from zarrlayer.storage.obstore import ObjectStore
from zarrlayer.testing.servers import FaultServer, fault_server, obstore_s3_options, s3fs_options, write_files

from hostile_helpers import BACKENDS, remote

BLOB = bytes(range(256)) * 4
BUCKET = "bkt"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    root = write_files(tmp_path_factory.mktemp("hostile"), {"blob": BLOB, f"{BUCKET}/blob": BLOB})
    with fault_server(root) as server:
        yield server


@pytest.fixture
def server(served: FaultServer) -> Iterator[FaultServer]:
    served.clear_faults()
    served.reset_counts()
    yield served
    served.clear_faults()


def _s3(backend: str, url: str, **options: Any) -> Any:
    """A store for the bucket directory of the fault server, spoken to as S3 (path-style GETs)."""
    if backend == "fsspec":
        return FsspecStore.from_url(f"s3://{BUCKET}", storage_options={**s3fs_options(url), **options})
    return ObjectStore.from_url(f"s3://{BUCKET}", **{**obstore_s3_options(url), **options})


# -- short ranges and ignored ranges (14.1) -------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_short_range_answer_is_retried(server: FaultServer, backend: str) -> None:
    store = remote(backend, server.url)
    server.short_next(1)  # 200 bytes asked, 100 answered (Content-Range says so)
    assert bytes(sync(store.get("blob", RangeByteRequest(0, 200)))) == BLOB[:200]
    assert server.counts["GET"] == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_short_range_answer_in_a_batch_is_retried(server: FaultServer, backend: str) -> None:
    store = remote(backend, server.url)
    server.short_next(1)
    got = sync(store.get_partial_values([("blob", RangeByteRequest(0, 200)), ("blob", RangeByteRequest(300, 310))]))
    assert [bytes(v) for v in got] == [BLOB[:200], BLOB[300:310]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_range_past_the_end_is_not_a_short_answer(server: FaultServer, backend: str) -> None:
    store = remote(backend, server.url)
    assert bytes(sync(store.get("blob", RangeByteRequest(1000, 2000)))) == BLOB[1000:]


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_ranges_every_time_end_in_remote_store_error(server: FaultServer, backend: str) -> None:
    store = remote(backend, server.url, retries=2)
    server.short_next(None)
    with pytest.raises(RemoteStoreError, match="blob"):
        sync(store.get("blob", RangeByteRequest(0, 200)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("request_", [RangeByteRequest(10, 30), SuffixByteRequest(16)], ids=["range", "suffix"])
def test_a_server_ignoring_ranges_still_gives_the_range(server: FaultServer, backend: str, request_: Any) -> None:
    store = remote(backend, server.url)
    server.ignore_ranges(True)
    expected = BLOB[10:30] if isinstance(request_, RangeByteRequest) else BLOB[-16:]
    assert bytes(sync(store.get("blob", request_))) == expected


# -- timeouts (14.3) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "batch, before_headers", [(False, False), (False, True), (True, False)], ids=["after-headers", "no-answer", "batch"]
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stalled_server_ends_in_remote_store_error_within_timeout_times_attempts(
    server: FaultServer, backend: str, batch: bool, before_headers: bool
) -> None:
    server.stall_next(None, 10.0, before_headers=before_headers)
    store = FsspecStore.from_url(server.url) if backend == "fsspec" else ObjectStore.from_url(server.url)
    timeout, retries = 0.2, 1
    with config.override(request_timeout=timeout, retries=retries):
        started = time.monotonic()
        with pytest.raises(RemoteStoreError) as info:
            if batch:
                sync(store.get_partial_values([("blob", None), ("blob", RangeByteRequest(0, 10))]))
            else:
                sync(store.get("blob"))
        elapsed = time.monotonic() - started
    backoff = 0.1  # the most the default policy sleeps between 2 attempts
    assert elapsed < timeout * (retries + 1) + backoff + 1.0
    assert server.url in str(info.value) and "'blob'" in str(info.value)
    assert "request_timeout" in str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_read_deadline_bounds_all_attempts(server: FaultServer, backend: str) -> None:
    server.stall_next(None, 10.0)
    store = FsspecStore.from_url(server.url) if backend == "fsspec" else ObjectStore.from_url(server.url)
    with config.override(request_timeout=0.2, retries=50, read_deadline=0.5):
        started = time.monotonic()
        with pytest.raises(RemoteStoreError, match="read_deadline"):
            sync(store.get("blob"))
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stalled_listing_ends_in_remote_store_error(server: FaultServer, backend: str) -> None:
    store = _s3(backend, server.url)
    server.stall_next(None, 10.0, before_headers=True)

    async def names() -> list[str]:
        return [name async for name in store.list_prefix("")]

    with config.override(request_timeout=0.2, retries=1):
        started = time.monotonic()
        with pytest.raises(RemoteStoreError, match=f"s3://{BUCKET}"):
            sync(names())
    assert time.monotonic() - started < 3.0  # 2 attempts of 0.2 s, plus creating the S3 client


def test_timeout_settings_are_checked() -> None:
    for bad in (0, -1, "5", True):
        with pytest.raises(ValueError, match="request_timeout"):
            config.set(request_timeout=bad)
    assert config.get().request_timeout > 0 and config.get().read_deadline >= config.get().request_timeout


# -- one retry policy (14.8) --------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("protocol", ["http", "s3"])
def test_only_our_retries_run_under_injected_503s(server: FaultServer, backend: str, protocol: str) -> None:
    store = remote(backend, server.url) if protocol == "http" else _s3(backend, server.url)
    store._policy = type(store._policy)(retries=3, base_delay=0.005, max_delay=0.02)
    server.fail_next(2, 503)
    assert bytes(sync(store.get("blob"))) == BLOB
    assert server.counts == {"GET": 3}
    server.reset_counts()
    server.fail_next(None, 503)
    with pytest.raises(RemoteStoreError, match="after 4 attempts"):
        sync(store.get("blob"))
    assert server.counts == {"GET": 4}, "each of our 4 attempts is one request: no retries below ours"


# -- backend errors are ours (14.9) ---------------------------------------------------------------


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_no_credentials_is_a_remote_store_error(server: FaultServer, no_credentials: None) -> None:
    import zarrlayer

    store = FsspecStore.from_url(f"s3://{BUCKET}", storage_options={"client_kwargs": {"endpoint_url": server.url}})
    for call in (lambda: sync(store.get("blob")), lambda: zarrlayer.open_group(store, mode="r")):
        with pytest.raises(RemoteStoreError, match="NoCredentialsError") as info:
            call()
        assert f"s3://{BUCKET}" in str(info.value) and "credentials" in str(info.value)


def test_obstore_without_credentials_is_a_remote_store_error(server: FaultServer, no_credentials: None) -> None:
    options = {k: v for k, v in obstore_s3_options(server.url).items() if k not in ("access_key_id", "secret_access_key")}
    store = ObjectStore.from_url(f"s3://{BUCKET}", metadata_endpoint="http://127.0.0.1:9", **options)
    with pytest.raises(RemoteStoreError, match="credentials") as info:
        sync(store.get("blob"))
    assert "'blob'" in str(info.value)


def test_parameter_validation_is_a_remote_store_error(server: FaultServer) -> None:
    store = FsspecStore.from_url("s3://bad_bucket!name", storage_options=s3fs_options(server.url))
    with pytest.raises(RemoteStoreError, match="ParamValidationError") as info:
        sync(store.get("zarr.json"))
    assert "s3://bad_bucket!name" in str(info.value) and "'zarr.json'" in str(info.value)
    assert "testing" not in str(info.value).replace("zarrlayer-testing", "")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_refused_connection_is_a_remote_store_error(backend: str) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = remote(backend, f"http://127.0.0.1:{port}/data.zarr", retries=0)
    with pytest.raises(ZarrlayerError, match="zarr.json"):
        sync(store.get("zarr.json"))


def test_the_cli_prints_one_line_for_a_backend_error(server: FaultServer) -> None:
    options = json.dumps({"endpoint_url": server.url, "region_name": "us-east-1"})
    done = subprocess.run(
        [sys.executable, "-m", "zarrlayer", "info", "s3://bad_bucket!name/data.zarr",
         "-o", "key=AKIDSECRETKEY", "-o", "secret=supersecretvalue", "-o", f"client_kwargs={options}"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "ParamValidationError" in lines[0] and "Traceback" not in done.stderr
    assert "s3://bad_bucket!name/data.zarr" in lines[0] and "'zarr.json'" in lines[0], "names the URL and the key"
    assert "supersecretvalue" not in done.stderr and "AKIDSECRETKEY" not in done.stderr
