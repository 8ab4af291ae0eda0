"""Fixtures of the cache tests: each tier (memory, disk, memory over disk) over a counting upstream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cache_helpers import DATA, CountingStore

from zarrlayer.cache import DiskCacheStore, MemoryCacheStore
from zarrlayer.storage import MemoryStore



@pytest.fixture(params=["memory", "disk", "stacked"])
def tier(request: Any) -> str:
    return request.param


@pytest.fixture
def make_cache(tier: str, tmp_path: Any) -> Callable[..., tuple[Any, CountingStore]]:
    """`make_cache(data=None, **options)` -> (cache of the parametrized tier, its counting upstream)."""

    def make(data: dict[str, bytes] | None = None, *, delay: float = 0.0, **options: Any) -> tuple[Any, CountingStore]:
        upstream = CountingStore(MemoryStore(dict(DATA if data is None else data)), delay=delay)
        if tier == "memory":
            return MemoryCacheStore(upstream, options.pop("max_bytes", "8 MiB"), **options), upstream
        if tier == "disk":
            return DiskCacheStore(upstream, tmp_path / "cache", options.pop("max_bytes", "64 MiB"), **options), upstream
        disk = DiskCacheStore(upstream, tmp_path / "cache", "64 MiB", **options)
        return MemoryCacheStore(disk, options.pop("max_bytes", "8 MiB"), **options), upstream

    return make
