"""Issue 12's defects, each on its smallest input, for both Zarr formats and for a directory and an in-memory store.

A refused write must leave every byte of the store as it was: each refusal compares the
store's full contents before and after.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")

from zarrlayer.integrations.xarray import InvalidWriteError, to_zarrlayer  # noqa: E402
from zarrlayer.storage import MemoryStore  # noqa: E402

FORMATS = [2, 3]


def _contents(target: Any) -> dict[str, bytes]:
    """Every key of the store and its bytes (a directory walked, or a MemoryStore's dict)."""
    if isinstance(target, str):
        out = {}
        for root, _, files in os.walk(target):
            for name in files:
                path = os.path.join(root, name)
                out[os.path.relpath(path, target)] = Path(path).read_bytes()
        return out
    return {k: bytes(v) for k, v in target._data.items()} if hasattr(target, "_data") else dict(target)


@pytest.fixture(params=["dir", "memory"])
def target(request, tmp_path):
    """A place to write: a directory path, or a zarrlayer MemoryStore over a dict."""
    if request.param == "dir":
        return str(tmp_path / "t.zarr")
    return MemoryStore({})


def _snapshot(target: Any) -> dict[str, bytes]:
    if isinstance(target, str):
        return _contents(target)
    return {k: bytes(v) for k, v in _store_dict(target).items()}


def _store_dict(store: Any) -> dict[str, Any]:
    for name in ("_data", "_store_dict", "data"):
        value = getattr(store, name, None)
        if isinstance(value, dict):
            return value
    raise AssertionError(f"cannot read the contents of {store!r}")


def _refused(target: Any, write: Any, *words: str) -> InvalidWriteError:
    before = _snapshot(target)
    with pytest.raises(InvalidWriteError) as info:
        write()
    assert _snapshot(target) == before, "a refused write changed the store"
    for word in words:
        assert word in str(info.value)
    return info.value


def _read(target: Any, **kwargs: Any) -> Any:
    return xr.open_dataset(target, engine="zarrlayer", **kwargs).load()


# -- appends that cannot be done exactly are refused before anything changes --------------


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_append_missing_variable_refused_naming_it(target, zarr_format):
    to_zarrlayer(xr.Dataset({"a": ("x", [1]), "b": ("x", [10])}), target, zarr_format=zarr_format)
    append = xr.Dataset({"a": ("x", [2])})
    _refused(target, lambda: to_zarrlayer(append, target, append_dim="x"), "'b'", "missing")
    back = _read(target)
    assert back.sizes["x"] == 1 and back["b"].values.tolist() == [10]


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_append_time_units_read_back_exactly_or_refused(target, zarr_format):
    first = xr.Dataset({"time": ("time", np.array(["2000-01-01T00:35"], dtype="datetime64[ns]"))})
    later = xr.Dataset({"time": ("time", np.array(["2000-01-01T06:35"], dtype="datetime64[ns]"))})
    to_zarrlayer(first, target, zarr_format=zarr_format)
    before = _snapshot(target)
    try:
        to_zarrlayer(later, target, append_dim="time")
    except InvalidWriteError as err:
        assert "'time'" in str(err)
        assert _snapshot(target) == before
        return
    expected = np.array(["2000-01-01T00:35", "2000-01-01T06:35"], dtype="datetime64[ns]")
    np.testing.assert_array_equal(_read(target)["time"].values, expected)


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_append_time_with_stored_units_reads_back_exactly(target, zarr_format):
    """Times the stored units can hold are appended with those units and read back exactly."""
    first = xr.Dataset({"time": ("time", np.array(["2000-01-01T00:35"], dtype="datetime64[ns]"))})
    later = xr.Dataset({"time": ("time", np.array(["2000-01-02T00:35"], dtype="datetime64[ns]"))})
    to_zarrlayer(first, target, zarr_format=zarr_format)
    to_zarrlayer(later, target, append_dim="time")
    expected = np.array(["2000-01-01T00:35", "2000-01-02T00:35"], dtype="datetime64[ns]")
    np.testing.assert_array_equal(_read(target)["time"].values, expected)


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_append_mismatched_dtype_refused(target, zarr_format):
    to_zarrlayer(xr.Dataset({"s": ("x", np.array(["ab"], dtype="U2"))}), target, zarr_format=zarr_format)
    append = xr.Dataset({"s": ("x", np.array(["abcde"], dtype="U5"))})
    _refused(target, lambda: to_zarrlayer(append, target, append_dim="x"), "'s'", "dtype")


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_unaligned_region_refused(target, zarr_format):
    to_zarrlayer(xr.Dataset({"u": ("x", np.zeros(8))}), target, zarr_format=zarr_format, encoding={"u": {"chunks": (4,)}})
    part = xr.Dataset({"u": ("x", da.ones(4, chunks=2))})
    _refused(target, lambda: to_zarrlayer(part, target, region={"x": slice(2, 6)}), "'u'", "overlap")


@pytest.mark.parametrize("zarr_format", FORMATS)
@pytest.mark.parametrize("encoding", [{"a": "foo"}, {"a": 3}, ["a"]], ids=["str", "int", "list"])
def test_invalid_encoding_is_invalid_write_error(target, zarr_format, encoding):
    to_zarrlayer(xr.Dataset({"a": ("x", [1])}), target, zarr_format=zarr_format)
    ds = xr.Dataset({"a": ("x", [1])})
    err = _refused(target, lambda: to_zarrlayer(ds, target, mode="w", encoding=encoding), "encoding")
    assert "dictionary update sequence" not in str(err)


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_encoding_for_unknown_variable_is_a_key_error(target, zarr_format):
    to_zarrlayer(xr.Dataset({"a": ("x", [1])}), target, zarr_format=zarr_format)
    err = _refused(target, lambda: to_zarrlayer(xr.Dataset({"a": ("x", [2])}), target, mode="w", encoding={"b": {}}))
    assert isinstance(err, KeyError) and "'b'" in str(err)


# -- valid input that was refused --------------------------------------------------------


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_zero_length_dimension_with_dask_chunks(target, zarr_format):
    ds = xr.Dataset({"a": (("x", "y"), da.zeros((5, 0), chunks=(5, 0)))})
    to_zarrlayer(ds, target, zarr_format=zarr_format)
    back = _read(target)
    assert back["a"].shape == (5, 0)


def test_shards_auto(target):
    ds = xr.Dataset({"a": ("x", np.arange(100))})
    to_zarrlayer(ds, target, zarr_format=3, encoding={"a": {"chunks": (10,), "shards": "auto"}})
    back = xr.open_dataset(target, engine="zarrlayer")
    assert back["a"].encoding["chunks"] == (10,)
    assert back["a"].encoding["shards"] == (20,)
    np.testing.assert_array_equal(back["a"].values, np.arange(100))


def test_shards_auto_on_v2_refused(target):
    ds = xr.Dataset({"a": ("x", np.arange(100))})
    with pytest.raises(ValueError):
        to_zarrlayer(ds, target, zarr_format=2, encoding={"a": {"chunks": (10,), "shards": "auto"}})


# -- a group added to a consolidated v2 store keeps the root's arrays in .zmetadata ------


def test_group_append_keeps_root_arrays_in_zmetadata(tmp_path):
    path = str(tmp_path / "g.zarr")
    to_zarrlayer(xr.Dataset({"a": ("x", [1, 2])}), path, mode="w", zarr_format=2)
    to_zarrlayer(xr.Dataset({"b": ("y", [1, 2, 3])}), path, group="/G", mode="a", zarr_format=2)
    listed = json.loads((tmp_path / "g.zarr" / ".zmetadata").read_text())["metadata"]
    assert {"a/.zarray", "G/.zgroup", "G/b/.zarray"} <= set(listed)
    assert not (tmp_path / "g.zarr" / "zarr.json").exists() and not (tmp_path / "g.zarr" / "G" / "zarr.json").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert xr.open_zarr(path, consolidated=True)["a"].values.tolist() == [1, 2]
        assert xr.open_zarr(path, group="G", consolidated=True)["b"].values.tolist() == [1, 2, 3]


def test_group_append_with_other_format_refused(tmp_path):
    path = str(tmp_path / "g.zarr")
    to_zarrlayer(xr.Dataset({"a": ("x", [1, 2])}), path, mode="w", zarr_format=2)
    _refused(path, lambda: to_zarrlayer(xr.Dataset({"b": ("y", [1])}), path, group="G", mode="a", zarr_format=3), "v2")


# -- the engine: xarray's keywords, pickling, open_zarr ----------------------------------


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_engine_takes_mode_and_cache_members(tmp_path, zarr_format):
    path = str(tmp_path / "m.zarr")
    to_zarrlayer(xr.Dataset({"a": ("x", [1, 2])}), path, zarr_format=zarr_format)
    for mode in ("r", "r+", "a"):
        ds = xr.open_dataset(path, engine="zarrlayer", mode=mode, cache_members=False, zarr_format=zarr_format)
        assert ds["a"].values.tolist() == [1, 2]
    with pytest.raises(ValueError, match="mode"):
        xr.open_dataset(path, engine="zarrlayer", mode="x")


@pytest.mark.parametrize("chunks", [None, {}])
def test_opened_dataset_pickles(tmp_path, chunks):
    path = str(tmp_path / "p.zarr")
    to_zarrlayer(xr.Dataset({"a": ("x", [1, 2, 3])}, coords={"x": [0, 1, 2]}), path)
    ds = xr.open_dataset(path, engine="zarrlayer", chunks=chunks)
    back = pickle.loads(pickle.dumps(ds))
    xr.testing.assert_identical(back.load(), ds.load())


def test_open_zarr_call_path(tmp_path):
    """xr.open_zarr's keywords (chunks, overwrite_encoded_chunks, zarr_version...) all reach the engine."""
    path = str(tmp_path / "z.zarr")
    to_zarrlayer(xr.Dataset({"a": ("x", np.arange(4))}), path, encoding={"a": {"chunks": (2,)}})
    ds = xr.open_dataset(
        path, engine="zarrlayer", chunks={}, backend_kwargs={"overwrite_encoded_chunks": True, "consolidated": None}
    )
    assert ds["a"].chunks == ((2, 2),)
    with pytest.warns(FutureWarning):
        old = xr.open_dataset(path, engine="zarrlayer", zarr_version=3)
    assert old["a"].values.tolist() == [0, 1, 2, 3]


# -- the writer's keywords -----------------------------------------------------------------


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_write_empty_chunks_true_stores_every_chunk(tmp_path, zarr_format):
    ds = xr.Dataset({"a": ("x", np.array([np.nan, np.nan, 1.0, np.nan]))})
    counts = {}
    for empty in (None, True):
        path = str(tmp_path / f"{empty}.zarr")
        to_zarrlayer(ds, path, zarr_format=zarr_format, encoding={"a": {"chunks": (1,)}}, write_empty_chunks=empty)
        chunk_files = [k for k in _contents(path) if k.startswith("a" + os.sep) and not k.endswith(("json", ".zarray", ".zattrs"))]
        counts[empty] = len(chunk_files)
        xr.testing.assert_identical(_read(path), ds)
    assert counts == {None: 1, True: 4}


def test_safe_chunks_false_writes_under_a_lock(tmp_path):
    path = str(tmp_path / "s.zarr")
    ds = xr.Dataset({"a": ("x", da.arange(12, chunks=4))})
    ds["a"].encoding["chunks"] = (6,)
    with pytest.raises(InvalidWriteError):
        to_zarrlayer(ds, path)
    to_zarrlayer(ds, path, safe_chunks=False)
    assert _read(path)["a"].values.tolist() == list(range(12))


def test_align_chunks_rechunks_to_stored_chunks(tmp_path):
    path = str(tmp_path / "al.zarr")
    ds = xr.Dataset({"a": ("x", da.arange(12, chunks=(5, 4, 3)))})
    ds["a"].encoding["chunks"] = (3,)
    to_zarrlayer(ds, path, align_chunks=True)
    assert _read(path)["a"].values.tolist() == list(range(12))


def test_datatree_round_trip(target):
    tree = xr.DataTree.from_dict(
        {"/": xr.Dataset({"a": ("x", [1])}), "/c": xr.Dataset({"b": ("y", [1, 2])}), "/c/d": xr.Dataset({"e": 1.5})}
    )
    to_zarrlayer(tree, target, mode="w")
    back = xr.open_datatree(target, engine="zarrlayer").load()
    xr.testing.assert_identical(back, tree)


def test_datatree_bad_node_writes_nothing(target):
    tree = xr.DataTree.from_dict({"/": xr.Dataset({"a": ("x", [1])}), "/c": xr.Dataset({"b": ("y", [1, 2])})})
    to_zarrlayer(tree, target, mode="w")
    bad = xr.DataTree.from_dict({"/": xr.Dataset({"a": ("x", [2])}), "/c": xr.Dataset({"b": ("y", [1, 2])})})
    _refused(target, lambda: to_zarrlayer(bad, target, mode="w", encoding={"/c": {"b": "nope"}}), "'b'")


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_non_consolidated_read_warns_as_zarr_engine(tmp_path, zarr_format):
    path = str(tmp_path / "nc.zarr")
    to_zarrlayer(xr.Dataset({"a": ("x", [1])}), path, zarr_format=zarr_format, consolidated=False)
    with pytest.warns(RuntimeWarning, match="consolidated"):
        xr.open_dataset(path, engine="zarrlayer")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xr.open_dataset(path, engine="zarrlayer", consolidated=False)


def test_v3_codecs_in_encoding_are_zarr_python_objects_and_write_back(tmp_path):
    zarr = pytest.importorskip("zarr")
    src, dst = str(tmp_path / "src.zarr"), str(tmp_path / "dst.zarr")
    blosc = {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 3, "shuffle": "shuffle", "typesize": 8, "blocksize": 0}}
    to_zarrlayer(xr.Dataset({"a": ("x", np.arange(4.0))}), src, zarr_format=3, encoding={"a": {"compressors": [blosc]}})
    ours = xr.open_dataset(src, engine="zarrlayer")
    theirs = xr.open_dataset(src, engine="zarr")
    assert isinstance(ours["a"].encoding["compressors"][0], zarr.codecs.BloscCodec)
    assert ours["a"].encoding["compressors"] == theirs["a"].encoding["compressors"]
    to_zarrlayer(ours, dst, zarr_format=3)
    again = xr.open_dataset(dst, engine="zarrlayer")
    assert again["a"].encoding["compressors"] == ours["a"].encoding["compressors"]
    xr.testing.assert_identical(again.load(), ours.load())


@pytest.mark.parametrize("method", ["open_dataset", "open_groups_as_dict"])
def test_engine_takes_every_keyword_of_xarrays_zarr_engine(method):
    import inspect

    from xarray.backends.zarr import ZarrBackendEntrypoint

    from zarrlayer.integrations.xarray import ZarrlayerBackendEntrypoint

    def keywords(cls: type) -> set[str]:
        params = inspect.signature(getattr(cls, method)).parameters.values()
        return {p.name for p in params if p.kind is p.KEYWORD_ONLY}

    missing = keywords(ZarrBackendEntrypoint) - keywords(ZarrlayerBackendEntrypoint)
    assert not missing
    assert set(ZarrlayerBackendEntrypoint.open_dataset_parameters) >= keywords(ZarrBackendEntrypoint) - {"self"}


def test_writer_takes_every_keyword_of_to_zarr():
    import inspect

    from xarray.backends import writers

    ours = set(inspect.signature(to_zarrlayer).parameters)
    for theirs in (writers.to_zarr, writers._datatree_to_zarr):
        missing = set(inspect.signature(theirs).parameters) - ours - {"dataset", "dt"}
        assert not missing, f"{theirs.__name__}: {sorted(missing)}"


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_write_empty_chunks_never_replaces_a_chunk_written_meanwhile(tmp_path, monkeypatch, zarr_format):
    import zarrlayer
    from zarrlayer.core import io

    from integrations._empty_chunks import store_empty_chunks

    path = str(tmp_path / "race.zarr")
    arr = zarrlayer.create_array(store=path, shape=(4,), chunks=(1,), dtype="f8", fill_value=np.nan, zarr_format=zarr_format)
    arr[2] = 7.0  # stored by another writer after the check for missing chunks (simulated below)
    monkeypatch.setattr(io, "fetch", lambda store, requests: [None] * len(requests))  # the check saw every chunk missing
    store_empty_chunks(arr, [slice(0, 4)])
    monkeypatch.undo()
    got = zarrlayer.open_array(path, mode="r")[...]
    assert got[2] == 7.0 and np.isnan(got[[0, 1, 3]]).all()
    chunk_files = [k for k in _contents(path) if not k.endswith(("json", ".zarray", ".zattrs"))]
    assert len(chunk_files) == 4
