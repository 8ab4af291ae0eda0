"""The tools users already have read and write through zarrlayer stores and caches via `as_zarr_store`.

zarr.open_group, xr.open_zarr, xr.open_dataset(engine="zarr"), Dataset.to_zarr and
dask.array.from_zarr/to_zarr, each compared exactly against the data, and through a cache
stack whose warm reads must not reach the upstream store.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr
import zarr
from compat_helpers import ReadCounter, run
from zarr.core.buffer import cpu

import zarrlayer
from zarrlayer.cache import DiskCacheStore, MemoryCacheStore
from zarrlayer.compat import BridgeReadOnlyError, BridgeStore
from zarrlayer.errors import ReadOnlyError, ZarrlayerError
from zarrlayer.storage import LocalStore, MemoryStore, ZipStore

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part:UserWarning")


def _dataset() -> xr.Dataset:
    rng = np.random.default_rng(7)
    return xr.Dataset(
        {
            "t": (("time", "y", "x"), rng.standard_normal((6, 5, 4)).astype("f4"), {"units": "K"}),
            "n": (("y",), np.arange(5, dtype="i8")),
        },
        coords={"time": np.arange(6, dtype="i4"), "y": np.linspace(0, 1, 5), "x": np.array([10.0, 20.0, 30.0, 40.0])},
        attrs={"title": "bridge"},
    )


def _write_with_zarrlayer(store: zarrlayer.storage.Store) -> np.ndarray:
    data = np.arange(120, dtype="u2").reshape(10, 12)
    root = zarrlayer.open_group(store, mode="w")
    array = root.create_array("a", shape=data.shape, chunks=(4, 5), dtype=data.dtype)
    array[:] = data
    root.attrs["who"] = "zarrlayer"
    return data


def test_as_zarr_store_is_a_zarr_store() -> None:
    bridge = zarrlayer.as_zarr_store(MemoryStore())
    assert isinstance(bridge, zarr.abc.store.Store)
    assert isinstance(bridge, BridgeStore)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_open_group_reads_what_zarrlayer_wrote(tmp_path: Path, zarr_format: int) -> None:
    store = LocalStore(tmp_path / "d.zarr")
    data = np.arange(60, dtype="f8").reshape(6, 10)
    root = zarrlayer.open_group(store, mode="w", zarr_format=zarr_format)
    root.create_array("a", shape=data.shape, chunks=(4, 3), dtype=data.dtype)[:] = data
    group = zarr.open_group(store=zarrlayer.as_zarr_store(store), mode="r")
    np.testing.assert_array_equal(group["a"][:], data)
    np.testing.assert_array_equal(group["a"][1:5, 2:9], data[1:5, 2:9])
    assert group.metadata.zarr_format == zarr_format


def test_zarr_writes_through_the_bridge_and_zarrlayer_reads(tmp_path: Path) -> None:
    store = ZipStore(tmp_path / "d.zip", mode="w")
    data = np.arange(100, dtype="i4").reshape(10, 10)
    with zarrlayer.as_zarr_store(store) as bridge:
        group = zarr.open_group(store=bridge, mode="w")
        group.create_array("a", shape=data.shape, chunks=(3, 3), dtype="i4")[:] = data
        group.attrs["k"] = [1, 2]
    # closing the bridge closed the ZipStore: the archive is complete for any reader
    reread = zarr.open_group(store=zarr.storage.ZipStore(tmp_path / "d.zip", mode="r"), mode="r")
    np.testing.assert_array_equal(reread["a"][:], data)
    ours = zarrlayer.open_group(ZipStore(tmp_path / "d.zip", mode="r"), mode="r")
    np.testing.assert_array_equal(ours["a"][:], data)
    assert ours.attrs["k"] == [1, 2]


@pytest.mark.parametrize("opener", ["open_zarr", "open_dataset"])
def test_xarray_reads_through_the_bridge(tmp_path: Path, opener: str) -> None:
    ds = _dataset()
    ds.to_zarr(zarr.storage.LocalStore(tmp_path / "d.zarr"), zarr_format=3, consolidated=True)
    bridge = zarrlayer.as_zarr_store(LocalStore(tmp_path / "d.zarr", read_only=True))
    if opener == "open_zarr":
        got = xr.open_zarr(bridge, consolidated=True)
    else:
        got = xr.open_dataset(bridge, engine="zarr", chunks=None)
    xr.testing.assert_identical(got.load(), ds)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_to_zarr_writes_through_the_bridge(tmp_path: Path, zarr_format: int) -> None:
    ds = _dataset()
    store = LocalStore(tmp_path / "d.zarr")
    ds.chunk({"time": 2}).to_zarr(zarrlayer.as_zarr_store(store), zarr_format=zarr_format, consolidated=True)
    xr.testing.assert_identical(xr.open_zarr(zarr.storage.LocalStore(tmp_path / "d.zarr")).load(), ds)
    xr.testing.assert_identical(xr.open_dataset(store, engine="zarrlayer").load(), ds)
    # append through the bridge too
    more = ds.isel(time=slice(0, 2)).assign_coords(time=[6, 7])
    more.to_zarr(zarrlayer.as_zarr_store(store), append_dim="time")
    both = xr.open_zarr(zarrlayer.as_zarr_store(store)).load()
    xr.testing.assert_identical(both, xr.concat([ds, more], dim="time", data_vars="minimal"))


def test_dask_from_zarr_and_to_zarr_through_the_bridge(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "d.zarr")
    data = _write_with_zarrlayer(store)
    bridge = zarrlayer.as_zarr_store(store)
    darr = da.from_zarr(bridge, component="a")
    assert darr.chunks == ((4, 4, 2), (5, 5, 2))
    np.testing.assert_array_equal(darr.compute(), data)
    (darr * 2).to_zarr(bridge, component="b", overwrite=True)
    np.testing.assert_array_equal(zarrlayer.open_array(store, path="b", mode="r")[:], data * 2)
    np.testing.assert_array_equal(da.from_zarr(bridge, component="b").compute(), data * 2)


def test_the_bridge_pickles_to_its_store_configuration(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "d.zarr")
    data = _write_with_zarrlayer(store)
    bridge = zarrlayer.as_zarr_store(store)
    copy = pickle.loads(pickle.dumps(bridge))
    assert copy == bridge and copy.store == store and copy is not bridge
    np.testing.assert_array_equal(zarr.open_array(store=copy, path="a", mode="r")[:], data)
    # dask ships the bridge to workers in other processes: the pickled graph must compute there
    shipped = pickle.loads(pickle.dumps(da.from_zarr(bridge, component="a")))
    np.testing.assert_array_equal(shipped.compute(scheduler="sync"), data)


def test_a_cache_stack_through_the_bridge_serves_warm_reads_without_upstream_reads(tmp_path: Path) -> None:
    _dataset().to_zarr(zarr.storage.LocalStore(tmp_path / "d.zarr"), zarr_format=3, consolidated=True)
    upstream = ReadCounter(LocalStore(tmp_path / "d.zarr", read_only=True))
    disk = DiskCacheStore(upstream, tmp_path / "cache", "64 MiB")
    stack = MemoryCacheStore(disk, "16 MiB")
    expected = _dataset()

    cold = xr.open_zarr(zarrlayer.as_zarr_store(stack), consolidated=True).load()
    xr.testing.assert_identical(cold, expected)
    assert upstream.reads > 0
    upstream.counts.clear()

    warm = xr.open_zarr(zarrlayer.as_zarr_store(stack), consolidated=True).load()
    xr.testing.assert_identical(warm, expected)
    assert upstream.reads == 0, f"warm read from memory reached upstream: {dict(upstream.counts)}"

    # a new memory tier over the same disk cache: warm from disk, still no upstream read
    fresh = MemoryCacheStore(DiskCacheStore(upstream, tmp_path / "cache", "64 MiB"), "16 MiB")
    from_disk = xr.open_zarr(zarrlayer.as_zarr_store(fresh), consolidated=True).load()
    xr.testing.assert_identical(from_disk, expected)
    assert upstream.reads == 0, f"warm read from disk reached upstream: {dict(upstream.counts)}"
    assert stack.stats()["hits"] > 0


def test_dask_from_zarr_through_a_cache_stack(tmp_path: Path) -> None:
    base = LocalStore(tmp_path / "d.zarr")
    data = _write_with_zarrlayer(base)
    upstream = ReadCounter(base.with_read_only(True))
    stack = MemoryCacheStore(DiskCacheStore(upstream, tmp_path / "cache", "64 MiB"), "16 MiB")
    np.testing.assert_array_equal(da.from_zarr(zarrlayer.as_zarr_store(stack), component="a").compute(), data)
    upstream.counts.clear()
    np.testing.assert_array_equal(da.from_zarr(zarrlayer.as_zarr_store(stack), component="a").compute(), data)
    assert upstream.reads == 0, dict(upstream.counts)


def test_writes_through_a_cache_stack_are_seen_by_later_reads(tmp_path: Path) -> None:
    stack = MemoryCacheStore(DiskCacheStore(LocalStore(tmp_path / "d.zarr"), tmp_path / "cache", "64 MiB"), "16 MiB")
    bridge = zarrlayer.as_zarr_store(stack)
    array = zarr.create_array(bridge, name="a", shape=(8,), chunks=(4,), dtype="i2", fill_value=0)
    assert array[:].tolist() == [0] * 8  # misses are cached now
    array[2:6] = 7
    assert zarr.open_array(bridge, path="a", mode="r")[:].tolist() == [0, 0, 7, 7, 7, 7, 0, 0]
    assert zarrlayer.open_array(LocalStore(tmp_path / "d.zarr"), path="a", mode="r")[:].tolist() == [0, 0, 7, 7, 7, 7, 0, 0]


def test_a_read_only_bridge_refuses_writes_as_zarr_python_does(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "d.zarr")
    _write_with_zarrlayer(store)
    bridge = zarrlayer.as_zarr_store(store, read_only=True)
    assert bridge.read_only and not store.read_only
    with pytest.raises(ValueError, match="read-only"):
        _dataset().to_zarr(bridge, mode="w")
    with pytest.raises(BridgeReadOnlyError, match="store was opened in read-only mode") as info:
        run(bridge.set("a/c/0/0", cpu.Buffer.from_bytes(b"x")))
    assert isinstance(info.value, ValueError) and isinstance(info.value, ReadOnlyError)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(BridgeReadOnlyError):
        run(bridge.delete_dir("a"))
    assert zarrlayer.open_array(store, path="a", mode="r")[0, 0] == 0 and (tmp_path / "d.zarr" / "zarr.json").exists()
    assert bridge.with_read_only().read_only is False  # zarr-python's default


def test_as_zarr_store_refuses_what_is_not_a_store() -> None:
    with pytest.raises(TypeError, match="found builtins.int|found int") as info:
        zarrlayer.as_zarr_store(42)
    assert isinstance(info.value, ZarrlayerError)
    assert "zarrlayer Store" in str(info.value)


def test_a_zarr_python_store_comes_back_as_itself() -> None:
    peer = zarr.storage.MemoryStore()
    assert zarrlayer.as_zarr_store(peer) is peer
    assert zarrlayer.as_zarr_store(peer, read_only=True).read_only


def test_one_line_gives_open_zarr_a_cache_over_a_url(tmp_path: Path) -> None:
    _dataset().to_zarr(zarr.storage.LocalStore(tmp_path / "d.zarr"), zarr_format=3, consolidated=True)
    url = (tmp_path / "d.zarr").as_uri()
    spec = {"memory": "16 MiB", "disk": {"directory": str(tmp_path / "cache"), "max_bytes": "64 MiB"}}
    bridge = zarrlayer.as_zarr_store(url, cache=spec, read_only=True)
    assert isinstance(bridge.store, MemoryCacheStore) and bridge.read_only
    xr.testing.assert_identical(xr.open_zarr(bridge).load(), _dataset())
    xr.testing.assert_identical(xr.open_zarr(bridge).load(), _dataset())
    assert bridge.store.stats()["hits"] > 0
    assert any((tmp_path / "cache").iterdir())
    peer = zarr.storage.LocalStore(tmp_path / "d.zarr")
    cached_peer = zarrlayer.as_zarr_store(peer, cache="memory")  # a cache in front of a zarr-python store
    xr.testing.assert_identical(xr.open_zarr(cached_peer).load(), _dataset())
    assert cached_peer.store.stats()["misses"] > 0
