"""FsspecStore and ObjectStore pass the StoreTests conformance suite against real loopback servers."""

from __future__ import annotations

import pytest

from zarrlayer.storage.fsspec import FsspecStore
from zarrlayer.storage.obstore import ObjectStore
from zarrlayer.testing import ReadOnlyStoreTests, StoreTests
from zarrlayer.testing.servers import LoopbackHTTPServer, obstore_s3_options, s3fs_options


class TestFsspecStoreOnS3(StoreTests):
    @pytest.fixture
    def store(self, s3_endpoint: str, s3_root: str) -> FsspecStore:
        return FsspecStore.from_url(f"s3://{s3_root}", storage_options=s3fs_options(s3_endpoint))


class TestObjectStoreOnS3(StoreTests):
    @pytest.fixture
    def store(self, s3_endpoint: str, s3_root: str) -> ObjectStore:
        return ObjectStore.from_url(f"s3://{s3_root}", **obstore_s3_options(s3_endpoint))


class TestFsspecStoreOnHTTP(ReadOnlyStoreTests):
    @pytest.fixture
    def populated_store(self, store_data_server: LoopbackHTTPServer) -> FsspecStore:
        return FsspecStore.from_url(store_data_server.url)


class TestFsspecStoreOnSyncMemoryFS(StoreTests):
    """A synchronous fsspec filesystem, run in threads through the async wrapper."""

    @pytest.fixture
    def store(self, request: pytest.FixtureRequest) -> FsspecStore:
        import uuid

        return FsspecStore.from_url(f"memory://zarrlayer-tests/{uuid.uuid4().hex[:12]}")
