"""zarr-python's names in zarrlayer do what zarr-python's do: constructors, save/load, group and array methods."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarrlayer
from zarrlayer.errors import ContainsArrayError, ContainsGroupError, ShapeError, UnsupportedFeatureError
from zarrlayer.format import GroupMetadata


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_constructors_fill_and_default_dtype(zarr_format: int) -> None:
    store: dict[str, Any] = {}
    z = zarrlayer.zeros((4, 5), chunks=(2, 2), store=store, path="z", zarr_format=zarr_format)
    assert z.dtype == np.float64 and z.chunks == (2, 2) and z.zarr_format == zarr_format
    assert np.array_equal(z[...], np.zeros((4, 5)))
    assert [k for k in store if k.startswith("z/") and "c" in k.split("/")[1:2]] == []  # no chunk written
    assert np.array_equal(zarrlayer.ones((3,), dtype="i2", zarr_format=zarr_format)[...], np.ones(3, "i2"))
    assert np.array_equal(zarrlayer.full((2, 2), 7.5, zarr_format=zarr_format)[...], np.full((2, 2), 7.5))
    assert zarrlayer.empty((3,), dtype="u1", zarr_format=zarr_format).dtype == np.uint8


def test_like_forms_copy_shape_dtype_chunks_and_format() -> None:
    source = zarrlayer.create_array({}, shape=(6, 4), chunks=(3, 2), dtype="i4", fill_value=9, zarr_format=2)
    for make, value in ((zarrlayer.zeros_like, 0), (zarrlayer.ones_like, 1), (zarrlayer.empty_like, 9), (zarrlayer.full_like, 9)):
        made = make(source)
        assert (made.shape, made.chunks, made.dtype, made.zarr_format) == ((6, 4), (3, 2), np.dtype("i4"), 2)
        assert np.all(made[...] == value), make.__name__
    plain = zarrlayer.zeros_like(np.ones((2, 3), dtype="f4"))
    assert (plain.shape, plain.dtype) == ((2, 3), np.dtype("f4"))
    with pytest.raises(TypeError, match="fill_value"):
        zarrlayer.full_like(np.ones(2))


def test_create_takes_zarr_python_2_keywords() -> None:
    store: dict[str, Any] = {}
    v2 = zarrlayer.create((6,), chunks=3, dtype="i4", zarr_format=2, compressor=None, dimension_separator="/",
                          store=store, path="a")
    document = v2.metadata.to_json()
    assert document["compressor"] is None and document["dimension_separator"] == "/"
    one = zarrlayer.create((5, 4), chunks=False, store={})
    assert one.chunks == (5, 4)
    v3 = zarrlayer.create((8,), chunk_shape=(4,), dtype="i2", store={},
                          codecs=[{"name": "bytes", "configuration": {"endian": "big"}}, {"name": "gzip", "configuration": {"level": 1}}])
    assert v3.chunks == (4,) and v3.compressors == ({"name": "gzip", "configuration": {"level": 1}},)
    read_only = zarrlayer.create((2,), store=store, path="ro", read_only=True)
    assert read_only.read_only
    with pytest.raises(ContainsArrayError):
        zarrlayer.create((6,), store=store, path="a")
    with pytest.raises(UnsupportedFeatureError):
        zarrlayer.create((2,), write_empty_chunks=True)


@pytest.mark.parametrize("kind", ["v2", "v3", "sharded"])
def test_from_array_keeps_the_source_layout_and_data(kind: str) -> None:
    options: dict[str, Any] = {"zarr_format": 2} if kind == "v2" else {}
    if kind == "sharded":
        options["shards"] = (8,)
    source = zarrlayer.create_array({}, shape=(20,), chunks=(4,), dtype="i4", fill_value=-1, **options)
    source[...] = np.arange(20)
    copy = zarrlayer.from_array({}, data=source)
    assert (copy.chunks, copy.shards, copy.fill_value, copy.zarr_format) == (
        source.chunks, source.shards, source.fill_value, source.zarr_format)
    assert copy.compressors == source.compressors
    assert np.array_equal(copy[...], np.arange(20))
    empty = zarrlayer.from_array({}, data=source, write_data=False)
    assert np.all(empty[...] == -1)
    fresh = zarrlayer.from_array({}, data=np.arange(6).reshape(2, 3), chunks=(1, 3))
    assert fresh.chunks == (1, 3) and np.array_equal(fresh[...], np.arange(6).reshape(2, 3))


def test_save_and_load(tmp_path: Path) -> None:
    zarrlayer.save(tmp_path / "one.zarr", np.arange(4))
    assert np.array_equal(zarrlayer.load(tmp_path / "one.zarr"), np.arange(4))
    zarrlayer.save(tmp_path / "many.zarr", np.arange(2), named=np.ones(3))
    loaded = zarrlayer.load(tmp_path / "many.zarr")
    assert sorted(loaded) == ["arr_0", "named"] and np.array_equal(loaded["named"], np.ones(3))
    zarrlayer.save_array(tmp_path / "one.zarr", np.zeros(2), mode="w")
    assert np.array_equal(zarrlayer.load(tmp_path / "one.zarr"), np.zeros(2))
    with pytest.raises(ContainsArrayError):
        zarrlayer.save_array(tmp_path / "one.zarr", np.zeros(2))
    with pytest.raises(ValueError):
        zarrlayer.save_group(tmp_path / "none.zarr")
    with pytest.raises(TypeError):
        zarrlayer.save_group(tmp_path / "bad.zarr", [1, 2])


def test_open_like_creates_then_opens(tmp_path: Path) -> None:
    source = zarrlayer.zeros((10, 10), chunks=(5, 5))
    made = zarrlayer.open_like(source, str(tmp_path / "like.zarr"))
    assert (made.shape, made.chunks) == ((10, 10), (5, 5))
    made[0, 0] = 3
    again = zarrlayer.open_like(source, str(tmp_path / "like.zarr"))
    assert again[0, 0] == 3


def test_group_members_api() -> None:
    root = zarrlayer.group({})
    root["x"] = np.arange(4)
    assert np.array_equal(root["x"][...], np.arange(4))
    root["x"] = np.ones(2)  # replaces, as zarr-python's save_array(overwrite=True)
    assert root["x"].shape == (2,)
    sub = root.require_group("a")
    sub.create_group("b").zeros(name="deep", shape=(3,))
    root.ones(name="o", shape=(2,), dtype="i4")
    assert list(root.keys()) == ["a", "o", "x"]
    assert root.nmembers() == 3 and root.nmembers(max_depth=None) == 5 and root.nmembers(1) == 4
    assert [a.path for a in root.array_values()] == ["o", "x"]
    assert [g.path for g in root.group_values()] == ["a"]
    assert [g.path for g in root.require_groups("a", "c")] == ["a", "c"]
    assert root.get("a/b/deep").shape == (3,) and root.get("nope", 5) == 5
    assert root.create_dataset("ds", shape=(2,), dtype="i1").dtype == np.int8
    assert root.require_dataset("ds", shape=(2,)).path == "ds"
    assert root.full(name="f", shape=(2,), fill_value=4)[...].tolist() == [4.0, 4.0]
    assert root.zeros_like(name="zl", data=root["o"]).dtype == np.int32
    assert root.store_path.path == "" and sub.store_path.path == "a"


def test_group_info_complete_counts_every_descendant() -> None:
    root = zarrlayer.group({})
    root.create_group("a").create_group("b").create_array("x", shape=(2,), dtype="i4")
    root.create_array("y", shape=(2,), dtype="i4")
    direct = root.info
    complete = root.info_complete()
    assert (direct.count_members, direct.count_arrays, direct.count_groups) == (2, 1, 1)
    assert (complete.count_members, complete.count_arrays, complete.count_groups) == (4, 2, 2)


def test_group_tree_levels_and_max_nodes() -> None:
    root = zarrlayer.group({})
    for i in range(5):
        root.create_group(f"g{i}").create_array("x", shape=(1,), dtype="i1")
    full = str(zarrlayer.tree(root))
    assert full.count("x (1,) int8") == 5
    assert "x (1,)" not in str(root.tree(level=1))
    short = str(root.tree(max_nodes=3))
    assert "max_nodes=3" in short and short.count("├──") + short.count("└──") == 3


def test_from_store_open_and_create_hierarchy() -> None:
    store: dict[str, Any] = {}
    made = zarrlayer.Group.from_store(store, attributes={"k": 1}, zarr_format=2)
    assert made.zarr_format == 2 and zarrlayer.Group.open(store, zarr_format=2).attrs["k"] == 1
    with pytest.raises(Exception):
        zarrlayer.Group.from_store(store, zarr_format=2)
    array = made.create_array("v", shape=(3,), dtype="i4")
    assert zarrlayer.Array.open(array.store_path).shape == (3,)
    nodes = {"p": GroupMetadata(zarr_format=3), "p/q/r": GroupMetadata(zarr_format=3, attributes={"z": 2})}
    created = dict(zarrlayer.create_hierarchy(store={}, nodes=nodes))
    assert sorted(created) == ["p", "p/q/r"] and created["p/q/r"].attrs["z"] == 2
    hierarchy_store: dict[str, Any] = {}
    group = zarrlayer.group(hierarchy_store)
    list(group.create_hierarchy({"m/n": GroupMetadata(zarr_format=3)}))
    assert "m/n" in group and "m" in group


def test_selection_methods_out_fields_and_config() -> None:
    array = zarrlayer.create_array({}, shape=(4, 4), chunks=(2, 2), dtype="i4")
    array[...] = np.arange(16).reshape(4, 4)
    out = np.zeros((2, 4), dtype="i4")
    assert array.get_basic_selection(slice(0, 2), out=out) is out and out[1, 0] == 4
    with pytest.raises(ShapeError):
        array.get_basic_selection(slice(0, 3), out=out)
    with pytest.raises(TypeError):
        array.get_basic_selection(slice(0, 2), out=[0] * 8)
    points = np.zeros(2, dtype="i4")
    array.get_coordinate_selection(([0, 3], [1, 2]), out=points)
    assert points.tolist() == [1, 14]
    mask = np.zeros((4, 4), dtype=bool)
    mask[1, 1] = True
    array.set_mask_selection(mask, -5)
    assert array.get_mask_selection(mask).tolist() == [-5]
    records = zarrlayer.create_array({}, shape=(3,), dtype=[("a", "i4"), ("b", "f8")], zarr_format=2)
    records.set_basic_selection(slice(None), 2.5, fields="b")
    assert records.get_basic_selection(fields="b").tolist() == [2.5] * 3
    assert records["a"].tolist() == [0, 0, 0]
    with pytest.raises(UnsupportedFeatureError):
        zarrlayer.create_array({}, shape=(2,), dtype="i4", config={"write_empty_chunks": True})
    assert zarrlayer.create_array({}, shape=(2,), dtype="i4", config={"order": "C"}).shape == (2,)
    assert zarrlayer.create((2,), dtype="i4", zarr_format=2, compressor=None).compressor is None
    with pytest.raises(TypeError):
        array.compressor  # noqa: B018 - v3 arrays have no single compressor, as in zarr-python


def test_zarr_3_4_additions() -> None:
    plain = zarrlayer.create_array({}, dtype="i1", shape=(100, 80), chunks=(30, 40))
    assert plain.read_chunk_sizes == plain.write_chunk_sizes == ((30, 30, 30, 10), (40, 40))
    sharded = zarrlayer.create_array({}, dtype="i1", shape=(40,), chunks=(10,), shards=(20,))
    assert (sharded.read_chunk_sizes, sharded.write_chunk_sizes) == (((10, 10, 10, 10),), ((20, 20),))
    root = zarrlayer.group({})
    root.create_group("g").create_array("a", shape=(2,), dtype="i1")
    assert root.get_array("g/a").shape == (2,) and root.get_group("g").path == "g"
    with pytest.raises(ContainsGroupError):
        root.get_array("g")
    with pytest.raises(ContainsArrayError):
        root.get_group("g/a")
    with pytest.raises(FileNotFoundError):
        root.get_array("nope")
    assert zarrlayer.create((3,), data=np.arange(3))[...].tolist() == [0.0, 1.0, 2.0]
    assert zarrlayer.zeros_like(plain, zarr_format=2).zarr_format == 2
    assert zarrlayer.Array.open(plain.store_path, config={"order": "C"}).shape == (100, 80)
    with pytest.raises(UnsupportedFeatureError):
        zarrlayer.open_array(plain.store_path.store, config={"write_empty_chunks": True})


@pytest.mark.filterwarnings("ignore")
def test_from_array_of_a_zarr_python_array_keeps_its_layout() -> None:
    zarr = pytest.importorskip("zarr")
    source = zarr.create_array({}, shape=(20, 6), chunks=(4, 3), shards=(8, 6), dtype="i2", fill_value=5)
    source[:10] = np.arange(60).reshape(10, 6)
    copy = zarrlayer.from_array({}, data=source)
    assert (copy.chunks, copy.shards, copy.fill_value) == ((4, 3), (8, 6), 5)
    assert np.array_equal(copy[...], source[...])
