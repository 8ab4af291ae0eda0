"""Both caches, alone and stacked, keep the whole Store contract (StoreTests) over MemoryStore and LocalStore."""

from __future__ import annotations

import pytest

from zarrlayer.cache import DiskCacheStore, MemoryCacheStore
from zarrlayer.storage import LocalStore, MemoryStore
from zarrlayer.testing import StoreTests


class TestMemoryCacheOverMemoryStore(StoreTests):
    pickle_shares_data = False

    @pytest.fixture
    def store(self) -> MemoryCacheStore:
        return MemoryCacheStore(MemoryStore(), "1 MiB")


class TestMemoryCacheOverLocalStore(StoreTests):
    @pytest.fixture
    def store(self, tmp_path) -> MemoryCacheStore:
        return MemoryCacheStore(LocalStore(tmp_path / "data"), "1 MiB")


class TestDiskCacheOverMemoryStore(StoreTests):
    pickle_shares_data = False

    @pytest.fixture
    def store(self, tmp_path) -> DiskCacheStore:
        return DiskCacheStore(MemoryStore(), tmp_path / "cache", "16 MiB")


class TestDiskCacheOverLocalStore(StoreTests):
    @pytest.fixture
    def store(self, tmp_path) -> DiskCacheStore:
        return DiskCacheStore(LocalStore(tmp_path / "data"), tmp_path / "cache", "16 MiB")


class TestStackedCachesOverLocalStore(StoreTests):
    @pytest.fixture
    def store(self, tmp_path) -> MemoryCacheStore:
        return MemoryCacheStore(DiskCacheStore(LocalStore(tmp_path / "data"), tmp_path / "cache", "16 MiB"), "1 MiB")
