"""engine='zarrlayer' against engine='zarr' on stores zarr-python wrote: identical datasets, lazy opening."""

from __future__ import annotations

import asyncio
import pickle
import warnings

import numpy as np
import pytest

from integ_helpers import cf_dataset, open_with_zarr, write_with_zarr

xr = pytest.importorskip("xarray")
pytest.importorskip("zarr")

import zarrlayer  # noqa: E402
from zarrlayer.integrations._xarray_array import ZarrlayerBackendArray  # noqa: E402
from zarrlayer.integrations.xarray import ZarrlayerBackendEntrypoint  # noqa: E402
from zarrlayer.storage import LocalStore  # noqa: E402

FORMATS = [(2, True), (2, False), (3, True), (3, False)]


@pytest.fixture(params=FORMATS, ids=lambda p: f"v{p[0]}-{'consolidated' if p[1] else 'plain'}")
def zarr_written(request, tmp_path):
    zarr_format, consolidated = request.param
    path = str(tmp_path / "cf.zarr")
    write_with_zarr(cf_dataset(), path, zarr_format=zarr_format, consolidated=consolidated)
    return path, zarr_format


def test_identical_to_zarr_engine_lazy_and_loaded(zarr_written):
    path, _ = zarr_written
    theirs = open_with_zarr(path)
    ours = xr.open_dataset(path, engine="zarrlayer")
    xr.testing.assert_identical(ours, theirs)
    xr.testing.assert_identical(ours.load(), theirs.load())
    assert ours["temp"].attrs == {"units": "K", "long_name": "temperature"}
    assert np.isnan(ours["packed"].values[0, 1]) and ours["packed"].dtype == np.float64
    assert list(ours["name"].values) == ["a", "bb", "ccc", "dddd"]
    assert ours["time"].dtype.kind == "M"


def test_identical_without_decoding(zarr_written):
    path, _ = zarr_written
    kwargs = {"mask_and_scale": False, "decode_times": False, "decode_timedelta": False}
    theirs = open_with_zarr(path, **kwargs).load()
    ours = xr.open_dataset(path, engine="zarrlayer", **kwargs).load()
    xr.testing.assert_identical(ours, theirs)
    assert ours["packed"].dtype == np.int16


def test_encoding_matches_zarr_engine(zarr_written):
    path, zarr_format = zarr_written
    theirs = open_with_zarr(path)
    ours = xr.open_dataset(path, engine="zarrlayer")
    for name in theirs.variables:
        mine, ref = ours[name].encoding, theirs[name].encoding
        assert set(mine) == set(ref), name
        for key in ("chunks", "preferred_chunks", "shards", "dtype", "scale_factor", "add_offset", "units"):
            assert mine.get(key) == ref.get(key), (name, key)
        assert _same_scalar(mine.get("_FillValue"), ref.get("_FillValue")), name
        assert len(mine["compressors"]) == len(ref["compressors"]) and len(mine["filters"]) == len(ref["filters"])
        if zarr_format == 3:
            assert _same_scalar(mine["fill_value"], ref["fill_value"]), name
    assert ours["temp"].encoding["chunks"] == (3, 2)


def _same_scalar(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))


def test_v2_dimension_attribute_is_hidden(zarr_written):
    path, _ = zarr_written
    ours = xr.open_dataset(path, engine="zarrlayer")
    assert all("_ARRAY_DIMENSIONS" not in v.attrs for v in ours.variables.values())
    assert ours.attrs == {"title": "test dataset", "n": 3, "values": [1, 2, 3]}


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_use_zarr_fill_value_as_mask_is_honoured(tmp_path, zarr_format):
    import zarr

    path = str(tmp_path / "fill.zarr")
    group = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    dims = {"dimension_names": ["x"]} if zarr_format == 3 else {}
    arr = group.create_array("v", shape=(4,), dtype="i4", fill_value=7, chunks=(2,), **dims)
    if zarr_format == 2:
        arr.attrs["_ARRAY_DIMENSIONS"] = ["x"]
    arr[:] = [1, 7, 3, 7]
    masked = xr.open_dataset(path, engine="zarrlayer", use_zarr_fill_value_as_mask=True, consolidated=False)
    raw = xr.open_dataset(path, engine="zarrlayer", use_zarr_fill_value_as_mask=False, consolidated=False)
    assert np.isnan(masked["v"].values[[1, 3]]).all() and masked["v"].values[0] == 1
    assert raw["v"].dtype == np.int32 and list(raw["v"].values) == [1, 7, 3, 7]
    default = xr.open_dataset(path, engine="zarrlayer", consolidated=False)
    xr.testing.assert_identical(default.load(), open_with_zarr(path, consolidated=False).load())


@pytest.mark.parametrize(("zarr_format", "consolidated"), FORMATS)
def test_group_and_datatree_match_zarr_engine(tmp_path, cf_ds, zarr_format, consolidated):
    path = str(tmp_path / "tree.zarr")
    tree = xr.DataTree.from_dict({"/": cf_ds[["flag"]], "/child": cf_ds[["temp"]], "/child/leaf": cf_ds[["name"]]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree.to_zarr(path, zarr_format=zarr_format, consolidated=consolidated)
        theirs = xr.open_datatree(path, engine="zarr")
    ours = xr.open_datatree(path, engine="zarrlayer")
    xr.testing.assert_identical(ours, theirs)
    assert set(ours.groups) == {"/", "/child", "/child/leaf"}
    sub = xr.open_dataset(path, engine="zarrlayer", group="child/leaf")
    xr.testing.assert_identical(sub.load(), open_with_zarr(path, group="child/leaf").load())
    groups = ZarrlayerBackendEntrypoint().open_groups_as_dict(path, group="child")
    assert set(groups) == {"/", "/leaf"}


def test_opening_reads_metadata_only(tmp_path, counting_store):
    path = str(tmp_path / "cf.zarr")
    write_with_zarr(cf_dataset(), path, zarr_format=3, consolidated=False)
    store = counting_store(LocalStore(path, read_only=True))
    raw = {"create_default_indexes": False, "decode_times": False, "decode_timedelta": False}
    ds = xr.open_dataset(store, engine="zarrlayer", **raw)
    assert store.keys_read and store.chunk_keys() == []
    ds["temp"].isel(time=0).values
    assert store.chunk_keys() and all(k.startswith("temp/") for k in store.chunk_keys())


def test_time_decoding_peeks_only_at_time_chunks(tmp_path, counting_store):
    """xarray's time decoder reads a time variable's first and last values; nothing else is read."""
    path = str(tmp_path / "cf.zarr")
    write_with_zarr(cf_dataset(), path, zarr_format=3, consolidated=True)
    store = counting_store(LocalStore(path, read_only=True))
    xr.open_dataset(store, engine="zarrlayer", create_default_indexes=False)
    assert {k.split("/", 1)[0] for k in store.chunk_keys()} <= {"time", "lead"}


def test_index_building_reads_only_dimension_coordinates(tmp_path, counting_store):
    path = str(tmp_path / "cf.zarr")
    write_with_zarr(cf_dataset(), path, zarr_format=2, consolidated=True)
    store = counting_store(LocalStore(path, read_only=True))
    ds = xr.open_dataset(store, engine="zarrlayer")
    touched = {k.split("/", 1)[0] for k in store.chunk_keys()}
    assert touched == {"time", "x"}
    assert ds.indexes["x"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_backend_array_indexing_pickling_and_async(tmp_path):
    import zarr

    path = str(tmp_path / "a.zarr")
    data = np.arange(60, dtype="f8").reshape(6, 10)
    zarr.create_array(path, data=data, chunks=(4, 3), zarr_format=3, dimension_names=["a", "b"])
    wrapper = ZarrlayerBackendArray(zarrlayer.open_array(path, mode="r"))
    from xarray.core import indexing

    assert np.array_equal(wrapper[indexing.BasicIndexer((slice(1, 5), 3))], data[1:5, 3])
    outer = indexing.OuterIndexer((np.array([0, 2, 5]), np.array([1, 9])))
    assert np.array_equal(wrapper[outer], data[np.ix_([0, 2, 5], [1, 9])])
    vector = indexing.VectorizedIndexer((np.array([0, 5, 3]), np.array([9, 0, 4])))
    assert np.array_equal(wrapper[vector], data[[0, 5, 3], [9, 0, 4]])
    clone = pickle.loads(pickle.dumps(wrapper))
    assert clone.shape == (6, 10) and np.array_equal(clone[outer], data[np.ix_([0, 2, 5], [1, 9])])
    got = asyncio.run(wrapper.async_getitem(outer))
    assert np.array_equal(got, data[np.ix_([0, 2, 5], [1, 9])])


def test_sharded_preferred_chunks_and_dask_chunks(tmp_path):
    import zarr

    pytest.importorskip("dask")
    path = str(tmp_path / "s.zarr")
    group = zarr.open_group(path, mode="w", zarr_format=3)
    arr = group.create_array(
        "v", shape=(40, 12), dtype="f4", chunks=(5, 4), shards=(20, 12), dimension_names=["y", "x"]
    )
    arr[:] = np.arange(480, dtype="f4").reshape(40, 12)
    ours = xr.open_dataset(path, engine="zarrlayer", chunks={})
    assert ours["v"].encoding["preferred_chunks"] == {"y": 20, "x": 12}
    assert ours["v"].encoding["shards"] == (20, 12) and ours["v"].encoding["chunks"] == (5, 4)
    assert ours["v"].chunks == ((20, 20), (12,))
    assert xr.open_dataset(path, engine="zarrlayer", chunks={"y": 40})["v"].chunks == ((40,), (12,))
    auto = xr.open_dataset(path, engine="zarrlayer", chunks="auto")["v"]
    assert all(c % 20 == 0 for c in auto.chunks[0][:-1])
    assert float(ours["v"].mean().compute()) == pytest.approx(239.5)
    xr.testing.assert_identical(ours.load(), open_with_zarr(path).load())


def test_guess_can_open(tmp_path):
    path = str(tmp_path / "cf.zarr")
    write_with_zarr(cf_dataset(), path, zarr_format=3, consolidated=False)
    entry = ZarrlayerBackendEntrypoint()
    assert entry.guess_can_open(path) and entry.guess_can_open(path + "/")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert not entry.guess_can_open(str(plain))
    (plain / ".zgroup").write_text('{"zarr_format": 2}')
    assert entry.guess_can_open(plain)
    assert entry.guess_can_open(LocalStore(path))
    from zarrlayer.storage.resolve import make_store_path

    store_path = make_store_path(path, mode="r")
    assert entry.guess_can_open(store_path)
    xr.testing.assert_identical(
        xr.open_dataset(store_path, engine="zarrlayer").load(), open_with_zarr(path).load()
    )
    assert not entry.guess_can_open(str(tmp_path / "data.nc"))
    assert "store_cache" in entry.open_dataset_parameters and "decode_times" in entry.open_dataset_parameters


def test_missing_dimension_names_is_a_clear_error(tmp_path):
    import zarr

    path = str(tmp_path / "nodims.zarr")
    group = zarr.open_group(path, mode="w", zarr_format=3)
    group.create_array("v", shape=(3,), dtype="i1")
    with pytest.raises(zarrlayer.errors.MetadataError, match="dimension_names"):
        xr.open_dataset(path, engine="zarrlayer", consolidated=False)


def test_dimension_coordinates_are_read_together_in_parallel():
    import threading

    from zarrlayer.integrations._xarray_array import CoordinatePrefetch

    barrier = threading.Barrier(3, timeout=10)
    reads = []

    class Slow:
        def __init__(self, name):
            self.name = name

        def __getitem__(self, key):
            reads.append(self.name)
            barrier.wait()
            return np.arange(3) + len(self.name)

    prefetch = CoordinatePrefetch({"a": Slow("a"), "bb": Slow("bb"), "ccc": Slow("ccc")})
    assert list(prefetch.take("bb")) == [2, 3, 4]
    assert sorted(reads) == ["a", "bb", "ccc"]
    assert list(prefetch.take("a")) == [1, 2, 3] and prefetch.take("a") is None
    assert prefetch.take("not-a-coordinate") is None and len(reads) == 3


def test_missing_store_or_group_is_a_clear_error_and_creates_nothing(tmp_path):
    missing = tmp_path / "missing.zarr"
    with pytest.raises(zarrlayer.errors.NodeNotFoundError):
        xr.open_dataset(str(missing), engine="zarrlayer")
    assert not missing.exists()
    path = str(tmp_path / "cf.zarr")
    write_with_zarr(cf_dataset(), path, zarr_format=3, consolidated=True)
    before = sorted(p.name for p in (tmp_path / "cf.zarr").rglob("*"))
    with pytest.raises(zarrlayer.errors.NodeNotFoundError, match="nope"):
        xr.open_dataset(path, engine="zarrlayer", group="nope")
    with pytest.raises(zarrlayer.errors.ContainsArrayError, match="found an array"):
        xr.open_dataset(path, engine="zarrlayer", group="temp")
    assert sorted(p.name for p in (tmp_path / "cf.zarr").rglob("*")) == before


def test_load_async_matches_zarr_engine(tmp_path):
    path = str(tmp_path / "cf.zarr")
    write_with_zarr(cf_dataset(), path, zarr_format=3, consolidated=True)
    ours = xr.open_dataset(path, engine="zarrlayer")
    got = asyncio.run(ours.load_async())
    xr.testing.assert_identical(got, open_with_zarr(path).load())
    part = asyncio.run(ours["temp"].isel(time=[0, 2], x=[1, 3]).load_async())
    np.testing.assert_array_equal(part.values, cf_dataset()["temp"].values[np.ix_([0, 2], [1, 3])])


def test_backend_array_is_thread_safe(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    import zarr
    from xarray.core import indexing

    from zarrlayer.integrations._xarray_array import CoordinatePrefetch

    path = str(tmp_path / "t.zarr")
    data = np.arange(64 * 48, dtype="i4").reshape(64, 48)
    zarr.create_array(path, data=data, chunks=(8, 8), zarr_format=3, dimension_names=["a", "b"])
    array = zarrlayer.open_array(path, mode="r")
    prefetch = CoordinatePrefetch({"a": array})
    wrapper = ZarrlayerBackendArray(array, name="a", prefetch=prefetch)
    rng = np.random.default_rng(0)
    keys = [(np.sort(rng.choice(64, 9, replace=False)), np.sort(rng.choice(48, 5, replace=False))) for _ in range(64)]

    def read(key):
        if key is None:
            return wrapper[indexing.BasicIndexer((slice(None), slice(None)))], data
        return wrapper[indexing.OuterIndexer(key)], data[np.ix_(*key)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(read, [None] * 4 + keys))
    for got, expected in results:
        np.testing.assert_array_equal(got, expected)
