"""Fixtures for the remote-store tests: one moto S3 server and one bucket per test run, on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from zarrlayer.testing.servers import LoopbackHTTPServer, create_bucket, http_server, moto_server, write_files
from zarrlayer.testing.store_tests import STORE_DATA


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    """The moto S3 server's URL (started once per run on a free loopback port)."""
    return moto_server().endpoint_url


@pytest.fixture(scope="session")
def bucket(s3_endpoint: str) -> str:
    """A bucket shared by the run; tests isolate themselves with a fresh prefix (`s3_root`)."""
    return create_bucket(s3_endpoint, "zarrlayer-tests")


@pytest.fixture
def s3_root(bucket: str) -> str:
    """A fresh, empty location `bucket/<unique prefix>` for one test."""
    return f"{bucket}/{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def store_data_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackHTTPServer]:
    """An HTTP server over a directory holding exactly STORE_DATA (shared, never written)."""
    directory = write_files(tmp_path_factory.mktemp("http-store-data"), STORE_DATA)
    with http_server(directory) as server:
        yield server
