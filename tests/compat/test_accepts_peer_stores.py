"""Everywhere zarrlayer takes a store it also takes a zarr-python store and an fsspec mapper.

Entry points: the open/create functions (storage/resolve.py), the caches, the xarray engine
and to_zarrlayer, and the dask entry points. Anything else is an UnsupportedStoreError
(a TypeError and a ZarrlayerError) naming the type passed and what is accepted.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import dask.array as da
import fsspec
import numpy as np
import pytest
import xarray as xr
import zarr

import zarrlayer
from zarrlayer.cache import DiskCacheStore, MemoryCacheStore
from zarrlayer.compat import ZarrPythonStore
from zarrlayer.errors import ReadOnlyError, ZarrlayerError
from zarrlayer.integrations.dask import from_zarrlayer
from zarrlayer.integrations.dask import to_zarrlayer as dask_to_zarrlayer
from zarrlayer.integrations.xarray import to_zarrlayer
from zarrlayer.storage import LocalStore, MemoryStore
from zarrlayer.storage.fsspec import FsspecStore
from zarrlayer.storage.resolve import UnsupportedStoreError, make_store

DATA = np.arange(48, dtype="i4").reshape(6, 8)


def _peer_array(store: Any) -> None:
    """zarr-python writes array 'a' (DATA, chunks 4x3) into `store`."""
    zarr.create_array(store, name="a", shape=DATA.shape, chunks=(4, 3), dtype=DATA.dtype)[:] = DATA


def _peer_stores(tmp_path: Path) -> dict[str, Any]:
    return {
        "zarr.storage.LocalStore": zarr.storage.LocalStore(tmp_path / "local.zarr"),
        "zarr.storage.MemoryStore": zarr.storage.MemoryStore(),
        "zarr.storage.FsspecStore": zarr.storage.FsspecStore.from_url(
            f"file://{tmp_path}/fsspec.zarr", storage_options={"auto_mkdir": True}
        ),
        "fsspec mapper (local)": fsspec.get_mapper(str(tmp_path / "mapper.zarr"), auto_mkdir=True),
        "fsspec mapper (memory)": fsspec.get_mapper(f"memory://compat-{tmp_path.name}/m.zarr"),
    }


@pytest.fixture(params=list(_peer_stores(Path("/unused"))))
def peer(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Each kind of peer store object, fresh and writable."""
    store = _peer_stores(tmp_path)[request.param]
    if isinstance(store, fsspec.FSMap):
        store.fs.mkdirs(store.root, exist_ok=True)
    return store


def _peer_zarr_view(peer: Any) -> Any:
    """What zarr-python itself opens for `peer` (a mapper becomes zarr's FsspecStore, as zarr does)."""
    return zarr.storage.FsspecStore.from_mapper(peer) if isinstance(peer, fsspec.FSMap) else peer


def test_open_functions_read_what_zarr_python_wrote(peer: Any) -> None:
    _peer_array(_peer_zarr_view(peer))
    np.testing.assert_array_equal(zarrlayer.open_array(peer, path="a", mode="r")[:], DATA)
    np.testing.assert_array_equal(zarrlayer.open_group(peer, mode="r")["a"][2:5, 1:7], DATA[2:5, 1:7])


def test_create_functions_write_what_zarr_python_reads(peer: Any) -> None:
    array = zarrlayer.create_array(peer, name="b", shape=(5,), chunks=(2,), dtype="f8")
    array[:] = [0.5, 1.5, 2.5, 3.5, 4.5]
    got = zarr.open_array(_peer_zarr_view(peer), path="b", mode="r")[:]
    np.testing.assert_array_equal(got, [0.5, 1.5, 2.5, 3.5, 4.5])


def test_mode_r_on_a_peer_store_refuses_writes(tmp_path: Path) -> None:
    peer = zarr.storage.LocalStore(tmp_path / "d.zarr")
    _peer_array(peer)
    array = zarrlayer.open_array(peer, path="a", mode="r")
    with pytest.raises(ReadOnlyError):
        array[0, 0] = 5
    assert zarr.open_array(peer, path="a", mode="r")[0, 0] == 0


def test_make_store_adapts_each_kind(tmp_path: Path) -> None:
    peer = zarr.storage.LocalStore(tmp_path / "d.zarr")
    adapted = make_store(peer)
    assert isinstance(adapted, ZarrPythonStore) and adapted.zarr_store is peer
    assert adapted.url == f"file://{tmp_path / 'd.zarr'}"
    mapper = make_store(fsspec.get_mapper(str(tmp_path / "m.zarr")), mode="r")
    assert isinstance(mapper, FsspecStore) and mapper.read_only
    ours = LocalStore(tmp_path / "x.zarr")
    assert make_store(zarrlayer.as_zarr_store(ours)) is ours  # the bridge unwrapped, not wrapped twice
    assert make_store(peer, mode="r").read_only


def test_adapted_stores_pickle_and_compare_equal(tmp_path: Path) -> None:
    peer = zarr.storage.LocalStore(tmp_path / "d.zarr")
    _peer_array(peer)
    adapted = make_store(peer)
    copy = pickle.loads(pickle.dumps(adapted))
    assert copy == adapted
    np.testing.assert_array_equal(zarrlayer.open_array(copy, path="a", mode="r")[:], DATA)


def test_caches_wrap_zarr_python_stores_and_mappers(tmp_path: Path) -> None:
    peer = zarr.storage.LocalStore(tmp_path / "d.zarr")
    _peer_array(peer)
    memory = MemoryCacheStore(peer, "8 MiB")
    np.testing.assert_array_equal(zarrlayer.open_array(memory, path="a", mode="r")[:], DATA)
    np.testing.assert_array_equal(zarrlayer.open_array(memory, path="a", mode="r")[:], DATA)
    assert memory.stats()["hits"] > 0
    disk = DiskCacheStore(fsspec.get_mapper(str(tmp_path / "d.zarr")), tmp_path / "cache", "8 MiB")
    np.testing.assert_array_equal(zarrlayer.open_array(disk, path="a", mode="r")[:], DATA)
    np.testing.assert_array_equal(
        zarrlayer.open_array(peer, path="a", mode="r", cache="memory")[:], DATA
    )


def test_xarray_engine_and_to_zarrlayer_take_peer_stores(peer: Any) -> None:
    ds = xr.Dataset({"v": (("x", "y"), DATA.astype("f8"))}, coords={"x": np.arange(6)}, attrs={"a": 1})
    to_zarrlayer(ds, peer, mode="w", zarr_format=3)
    xr.testing.assert_identical(xr.open_dataset(peer, engine="zarrlayer").load(), ds)
    xr.testing.assert_identical(xr.open_zarr(_peer_zarr_view(peer), consolidated=False).load(), ds)


def test_dask_entry_points_take_peer_stores(peer: Any) -> None:
    _peer_array(_peer_zarr_view(peer))
    darr = from_zarrlayer(peer, component="a")
    np.testing.assert_array_equal(darr.compute(), DATA)
    dask_to_zarrlayer(da.from_array(DATA * 3, chunks=(3, 4)), peer, component="c", chunks=(3, 4))
    np.testing.assert_array_equal(zarr.open_array(_peer_zarr_view(peer), path="c", mode="r")[:], DATA * 3)


class _NotAStore:
    pass


@pytest.mark.parametrize("bad", [42, _NotAStore(), [b"x"], 3.5], ids=["int", "object", "list", "float"])
def test_anything_else_is_a_type_error_naming_it(bad: Any) -> None:
    for call in (
        lambda: zarrlayer.open_group(bad),
        lambda: zarrlayer.create_array(bad, name="a", shape=(1,), dtype="i1"),
        lambda: make_store(bad),
        lambda: MemoryCacheStore(bad, "1 MiB"),
        lambda: from_zarrlayer(bad, component="a"),
        lambda: xr.open_dataset(bad, engine="zarrlayer"),
    ):
        with pytest.raises(TypeError) as info:
            call()
        assert isinstance(info.value, UnsupportedStoreError) and isinstance(info.value, ZarrlayerError)
        message = str(info.value)
        assert type(bad).__qualname__ in message
        assert "zarr-python store" in message and "fsspec mapper" in message


def test_a_memory_store_is_still_ours(tmp_path: Path) -> None:
    store = MemoryStore()
    assert make_store(store) is store


def test_an_unopened_zarr_python_zip_store_is_opened_as_zarr_python_opens_it(tmp_path: Path) -> None:
    """zarr-python's open functions open a store they are given; an unopened ZipStore has no lock yet."""
    path = tmp_path / "peer.zip"
    with zarr.storage.ZipStore(path, mode="w") as zs:
        zarr.create_array(zs, name="a", shape=DATA.shape, chunks=(4, 3), dtype=DATA.dtype, dimension_names=("y", "x"))[:] = DATA
    np.testing.assert_array_equal(zarrlayer.open_array(zarr.storage.ZipStore(path, mode="r"), path="a")[:], DATA)
    with xr.open_dataset(zarr.storage.ZipStore(path, mode="r"), engine="zarrlayer", consolidated=False) as ds:
        assert set(ds.data_vars) == {"a"}
        np.testing.assert_array_equal(ds["a"].values, DATA)
