"""zarr-python's own conformance suite (`zarr.testing.store.StoreTests`) on bridged zarrlayer stores.

Each built-in zarrlayer store, and a `MemoryCacheStore(DiskCacheStore(LocalStore))` stack,
is handed to zarr-python through `as_zarr_store` and must keep zarr-python's store contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from zarr.core.buffer import cpu
from zarr.testing.store import StoreTests
from compat_helpers import run

from zarrlayer.cache import DiskCacheStore, MemoryCacheStore
from zarrlayer.compat import BridgeStore
from zarrlayer.storage import LocalStore, MemoryStore, Store, ZipStore
from zarrlayer.testing.servers import obstore_s3_options, s3fs_options


class _BridgeTests(StoreTests[BridgeStore, cpu.Buffer]):
    """StoreTests with the bridge as the store class; the helpers read and write the zarrlayer store directly."""

    store_cls = BridgeStore
    buffer_cls = cpu.Buffer

    @pytest.fixture
    def store(self, open_kwargs: dict[str, Any]) -> BridgeStore:
        return run(self.store_cls.open(**open_kwargs))  # type: ignore[no-any-return]

    @pytest.fixture
    def store_not_open(self, store_kwargs: dict[str, Any]) -> BridgeStore:
        return self.store_cls(**store_kwargs)

    async def set(self, store: BridgeStore, key: str, value: cpu.Buffer) -> None:
        await store.store.set(key, value.to_bytes())

    async def get(self, store: BridgeStore, key: str) -> cpu.Buffer:
        value = await store.store.get(key)
        assert value is not None, f"no value at {key!r}"
        return self.buffer_cls.from_bytes(bytes(value))

    def test_store_repr(self, store: BridgeStore) -> None:
        assert store.store.url in repr(store)
        assert type(store.store).__name__ in repr(store)

    def test_store_supports_writes(self, store: BridgeStore) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: BridgeStore) -> None:
        assert store.supports_listing


class TestBridgedMemoryStore(_BridgeTests):
    @pytest.fixture
    def store_kwargs(self) -> dict[str, Any]:
        return {"store": MemoryStore()}


class TestBridgedLocalStore(_BridgeTests):
    @pytest.fixture
    def store_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        (tmp_path / "root").mkdir()  # as zarr-python's LocalStore, a read-only store opens an existing directory
        return {"store": LocalStore(tmp_path / "root")}


class TestBridgedZipStore(_BridgeTests):
    @pytest.fixture
    def store_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        return {"store": ZipStore(tmp_path / "data.zip", mode="w")}


class TestBridgedFsspecStoreOnS3(_BridgeTests):
    @pytest.fixture
    def store_kwargs(self, s3_endpoint: str, s3_root: str) -> dict[str, Any]:
        from zarrlayer.storage.fsspec import FsspecStore

        return {"store": FsspecStore.from_url(f"s3://{s3_root}", storage_options=s3fs_options(s3_endpoint))}


class TestBridgedObjectStoreOnS3(_BridgeTests):
    @pytest.fixture
    def store_kwargs(self, s3_endpoint: str, s3_root: str) -> dict[str, Any]:
        from zarrlayer.storage.obstore import ObjectStore

        return {"store": ObjectStore.from_url(f"s3://{s3_root}", **obstore_s3_options(s3_endpoint))}


class TestBridgedCacheStack(_BridgeTests):
    """MemoryCacheStore(DiskCacheStore(LocalStore)): what zarr-python sees must be the store's truth."""

    @pytest.fixture(scope="class")
    @classmethod
    def cache_directory(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        """One disk-cache directory for the class (each test's store has its own namespace in it)."""
        return tmp_path_factory.mktemp("bridge-disk-cache")

    @pytest.fixture
    def store_kwargs(self, tmp_path: Path, cache_directory: Path) -> dict[str, Any]:
        (tmp_path / "root").mkdir()
        cache: Store = MemoryCacheStore(
            DiskCacheStore(LocalStore(tmp_path / "root"), cache_directory, "64 MiB"), "16 MiB"
        )
        return {"store": cache}
