"""resolve_cache and size parsing; a fill racing a write never leaves the old value cached."""

from __future__ import annotations

import asyncio

import pytest
from cache_helpers import CountingStore

import zarrlayer.cache._spec as spec
from zarrlayer.cache import DiskCacheStore, MemoryCacheStore, parse_size, resolve_cache
from zarrlayer.core.sync import sync
from zarrlayer.storage import MemoryStore


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0, 0), (4096, 4096), ("512 MiB", 512 * 2**20), ("2GB", 2 * 10**9), ("1.5 GiB", 3 * 2**29),
        ("10kb", 10_000), ("7", 7), ("3 B", 3), (" 1 TiB ", 2**40), ("2gi", 2 * 2**30),
    ],
)
def test_parse_size(text, expected) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(("bad", "error"), [("", ValueError), ("12 parsecs", ValueError), ("-1 GB", ValueError),
                                            (-5, ValueError), (True, TypeError), (1.5, TypeError), (None, TypeError)])
def test_parse_size_refuses_bad_sizes(bad, error) -> None:
    with pytest.raises(error, match="expected"):
        parse_size(bad)


def test_resolve_cache_specs(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(spec, "default_cache_directory", lambda: str(tmp_path / "default"))
    store = MemoryStore()
    assert resolve_cache(store, None) is store
    memory = resolve_cache(store, "memory")
    assert isinstance(memory, MemoryCacheStore) and memory.max_bytes == spec.DEFAULT_MEMORY_BYTES
    disk = resolve_cache(store, "disk")
    assert isinstance(disk, DiskCacheStore) and disk.directory == str(tmp_path / "default")
    assert disk.max_bytes == spec.DEFAULT_DISK_BYTES
    stacked = resolve_cache(
        store, {"memory": "2 GiB", "disk": {"directory": tmp_path / "d", "max_bytes": "20 GiB"}, "metadata_ttl": 60}
    )
    assert isinstance(stacked, MemoryCacheStore) and stacked.max_bytes == 2 * 2**30 and stacked.metadata_ttl == 60
    inner = stacked.store
    assert isinstance(inner, DiskCacheStore) and inner.store is store and inner.metadata_ttl == 60
    assert inner.directory == str(tmp_path / "d") and inner.max_bytes == 20 * 2**30
    only_disk = resolve_cache(store, {"disk": True})
    assert isinstance(only_disk, DiskCacheStore) and only_disk.store is store
    ready = MemoryCacheStore(store, 100)
    assert resolve_cache(store, ready) is ready


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ("redis", ValueError, "'memory', 'disk'"),
        (42, ValueError, "'memory', 'disk'"),
        ({"memroy": "1 GiB"}, ValueError, "memroy"),
        ({"metadata_ttl": 5}, ValueError, "tier"),
        ({"memory": "1 GiB", "metadata_ttl": "soon"}, ValueError, "metadata_ttl"),
        ({"memory": [1]}, TypeError, "memory cache"),
        ({"disk": {"size": 3}}, ValueError, "size"),
        ({"memory": "much"}, ValueError, "memory cache size"),
    ],
)
def test_resolve_cache_refuses_bad_specs(bad, error, match) -> None:
    with pytest.raises(error, match=match):
        resolve_cache(MemoryStore(), bad)


def test_resolve_cache_needs_a_store() -> None:
    with pytest.raises(TypeError, match="Store"):
        resolve_cache({"a": b"1"}, "memory")


class _ReadThenStall(CountingStore):
    """Reads the value, then stalls before answering: a read that a write overtakes."""

    async def get(self, key, byte_range=None):
        self._count("get")
        value = await self._store.get(key, byte_range)
        await asyncio.sleep(self.delay)
        return value


@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_a_read_overtaken_by_a_write_does_not_cache_the_old_value(kind, tmp_path) -> None:
    upstream = _ReadThenStall(MemoryStore({"zarr.json": b"old"}), delay=0.3)
    cache = MemoryCacheStore(upstream, "1 MiB") if kind == "memory" else DiskCacheStore(upstream, tmp_path, "16 MiB")

    async def scenario() -> bytes:
        read = asyncio.ensure_future(cache.get("zarr.json"))
        while upstream.counts["get"] < 1:
            await asyncio.sleep(0.005)
        await cache.set("zarr.json", b"new")
        return await read

    assert sync(scenario()) == b"old"
    assert sync(cache.get("zarr.json")) == b"new"
    assert upstream.counts["get"] == 2


def test_a_ready_cache_must_wrap_the_opened_data_and_follows_mode_r(tmp_path) -> None:
    import zarrlayer
    from zarrlayer.errors import ReadOnlyError
    from zarrlayer.storage import LocalStore

    data = LocalStore(tmp_path / "data")
    zarrlayer.create_array(data, shape=(4,), chunks=(2,), dtype="i1")[...] = 1
    elsewhere = MemoryCacheStore(LocalStore(tmp_path / "other"), "1 MiB")
    with pytest.raises(ValueError, match="other"):
        resolve_cache(data, elsewhere)
    assert not (tmp_path / "other").exists()
    ready = MemoryCacheStore(LocalStore(tmp_path / "data"), "1 MiB")
    assert resolve_cache(data, ready) is ready
    reader = zarrlayer.open_array(str(tmp_path / "data"), mode="r", cache=ready)
    assert reader.store.read_only and reader[...].tolist() == [1, 1, 1, 1]
    with pytest.raises(ReadOnlyError):
        reader[...] = 2
    assert zarrlayer.open_array(str(tmp_path / "data"), mode="r")[...].tolist() == [1, 1, 1, 1]
    assert not ready.read_only
