"""Public API semantics: modes, format detection, implicit parents, members, info, tree, attributes."""

from __future__ import annotations

import numpy as np
import pytest

import zarrlayer
from zarrlayer.errors import (
    ContainsArrayError,
    ContainsGroupError,
    MetadataError,
    ModeError,
    NodeNotFoundError,
    ReadOnlyError,
)
from zarrlayer.storage import MemoryStore, WrapperStore


class NoListing(WrapperStore):
    """Fails any listing, to prove an operation answered from consolidated metadata."""

    def list_dir(self, prefix):
        raise AssertionError(f"listed {prefix!r}")

    def list_prefix(self, prefix):
        raise AssertionError(f"listed {prefix!r}")


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_reading_modes_on_a_missing_node_raise_node_not_found(tmp_path, mode):
    zarrlayer.create_group(str(tmp_path))
    with pytest.raises(NodeNotFoundError) as info:
        zarrlayer.open_group(str(tmp_path), path="missing", mode=mode)
    assert isinstance(info.value, FileNotFoundError) and "missing" in str(info.value)
    with pytest.raises(FileNotFoundError):
        zarrlayer.open_array(str(tmp_path), path="missing", mode=mode)


def test_w_minus_refuses_existing_nodes_and_changes_nothing():
    store = MemoryStore()
    zarrlayer.create_group(store, path="g", attributes={"a": 1})
    zarrlayer.create_array(store, name="arr", shape=(3,), dtype="i4", chunks=(3,))[...] = 7
    before = dict(store.store_dict)
    with pytest.raises(ContainsGroupError) as info:
        zarrlayer.open_group(store, path="g", mode="w-")
    assert isinstance(info.value, FileExistsError)
    with pytest.raises(ContainsArrayError):
        zarrlayer.open_array(store, path="arr", mode="w-", shape=(2,), dtype="i4")
    with pytest.raises(ContainsArrayError):
        zarrlayer.create_array(store, name="arr", shape=(2,), dtype="i4")
    assert store.store_dict == before


def test_w_clears_the_path_and_a_opens_or_creates():
    store = MemoryStore()
    a = zarrlayer.create_array(store, name="x", shape=(4,), dtype="i4", chunks=(2,))
    a[...] = [1, 2, 3, 4]
    assert any(k.startswith("x/c/") for k in store.store_dict)
    g = zarrlayer.open_group(store, path="x", mode="w")
    assert isinstance(g, zarrlayer.Group) and not any(k.startswith("x/c/") for k in store.store_dict)
    opened = zarrlayer.open_group(store, path="x", mode="a")
    assert opened.path == "x" and not opened.read_only
    created = zarrlayer.open_group(store, path="new/sub", mode="a")
    assert isinstance(zarrlayer.open(store, path="new", mode="r"), zarrlayer.Group)
    assert created.path == "new/sub"


def test_create_functions_take_mode_and_path_like_the_open_functions():
    store = MemoryStore()
    zarrlayer.create_array(store, path="x", shape=(2,), dtype="i4", mode="w-")[...] = [1, 2]
    zarrlayer.create_group(store, path="g", mode="a", attributes={"k": 1})
    before = dict(store.store_dict)
    with pytest.raises(ContainsArrayError):
        zarrlayer.create_array(store, path="x", shape=(3,), dtype="i4", mode="a")
    with pytest.raises(ContainsGroupError):
        zarrlayer.create_group(store, path="g", mode="w-")
    for bad in (lambda: zarrlayer.create_array(store, path="y", shape=(1,), dtype="i4", mode="r"),
                lambda: zarrlayer.create_group(store, path="h", mode="r"),
                lambda: zarrlayer.group(store, path="h", mode="r", overwrite=True),
                lambda: zarrlayer.create_array(store, path="x", shape=(1,), dtype="i4", mode="w-", overwrite=True),
                lambda: zarrlayer.create_array(store, path="y", shape=(1,), dtype="i4", mode="rw")):
        with pytest.raises(ModeError):
            bad()
    with pytest.raises(ValueError, match="once"):
        zarrlayer.create_array(store, name="y", path="z", shape=(1,), dtype="i4")
    assert store.store_dict == before
    replaced = zarrlayer.array([5, 6, 7], store=store, path="x", mode="w")
    assert replaced.shape == (3,) and np.array_equal(zarrlayer.open_array(store, path="x", mode="r")[...], [5, 6, 7])
    assert dict(zarrlayer.create_group(store, path="g", mode="w").attrs) == {}
    assert zarrlayer.group(store, path="g", mode="r").read_only


def test_unknown_mode_is_a_mode_error():
    with pytest.raises(ModeError):
        zarrlayer.open_group({}, mode="rw")


def test_open_returns_the_right_node_type_and_detects_the_format():
    store = MemoryStore()
    zarrlayer.create_array(store, name="v2", shape=(2,), dtype="f8", zarr_format=2)
    zarrlayer.create_group(store, path="g3")
    assert isinstance(zarrlayer.open(store, path="v2", mode="r"), zarrlayer.Array)
    assert zarrlayer.open(store, path="v2", mode="r").metadata.zarr_format == 2
    assert zarrlayer.open(store, path="g3", mode="r").metadata.zarr_format == 3
    with pytest.raises(ContainsArrayError):
        zarrlayer.open_group(store, path="v2", mode="r")
    with pytest.raises(ContainsGroupError):
        zarrlayer.open_array(store, path="g3", mode="r")
    with pytest.raises(NodeNotFoundError):
        zarrlayer.open_array(store, path="v2", mode="r", zarr_format=3)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_creating_a_node_writes_its_parents(zarr_format):
    store = MemoryStore()
    zarrlayer.create_array(store, name="a/b/c", shape=(2,), dtype="i2", zarr_format=zarr_format)
    root = zarrlayer.open_group(store, mode="r")
    assert list(root) == ["a"] and list(root["a"]) == ["b"]
    assert isinstance(root["a/b/c"], zarrlayer.Array)
    with pytest.raises(ContainsArrayError):
        zarrlayer.create_group(store, path="a/b/c/d", zarr_format=zarr_format)


def test_members_arrays_groups_and_lookups():
    g = zarrlayer.group(MemoryStore())
    g.create_group("z")
    g.create_array("a", shape=(2,), dtype="i4")
    g.create_group("m").create_array("inner", shape=(1,), dtype="u1")
    assert list(g) == ["a", "m", "z"] and len(g) == 3
    assert [n for n, _ in g.members()] == ["a", "m", "z"]
    assert [n for n, _ in g.arrays()] == ["a"] and list(g.array_keys()) == ["a"]
    assert [n for n, node in g.groups()] == ["m", "z"] and list(g.group_keys()) == ["m", "z"]
    assert "m/inner" in g and "nope" not in g
    assert g["m/inner"].path == "m/inner" and g["m/inner"].name == "/m/inner" and g["m/inner"].basename == "inner"
    with pytest.raises(KeyError):
        g["nope"]
    assert g.require_group("m").path == "m"
    assert g.require_array("a", shape=(2,), dtype="i4").shape == (2,)
    with pytest.raises(TypeError):
        g.require_array("a", shape=(3,), dtype="i4")
    with pytest.raises(ContainsArrayError):
        g.require_group("a")


def test_info_tables_have_zarr_python_fields():
    g = zarrlayer.group(MemoryStore())
    arr = g.create_array("x", shape=(10, 10), dtype="i2", chunks=(5, 5), shards=(10, 10))
    arr[...] = 1
    g.create_group("sub")
    text = str(g.info)
    assert text.splitlines() == [
        "Name        : ",
        "Type        : Group",
        "Zarr format : 3",
        "Read-only   : False",
        "Store type  : MemoryStore",
        "No. members : 2",
        "No. arrays  : 1",
        "No. groups  : 1",
    ]
    assert str(g.info_complete()) == text
    assert str(g["sub"].info).splitlines()[0] == "Name        : sub"
    info = str(arr.info)
    for field in ("Type", "Zarr format", "Data type", "Fill value", "Shape", "Chunk shape", "Shard shape",
                  "Order", "Read-only", "Store type", "Filters", "Serializer", "Compressors", "No. bytes"):
        assert f"{field.ljust(18)} : " in info, field
    assert "Chunk shape        : (5, 5)" in info and "Shard shape        : (10, 10)" in info
    complete = str(arr.info_complete())
    assert "Chunks Initialized : 4" in complete and "No. bytes stored" in complete and "Storage ratio" in complete
    assert "Serializer" not in str(zarrlayer.create_array({}, shape=(2,), dtype="i4", zarr_format=2).info)


def test_tree_draws_the_hierarchy():
    g = zarrlayer.group(MemoryStore())
    g.create_group("b").create_array("arr", shape=(3, 4), dtype="f4")
    g.create_array("a", shape=(2,), dtype="i8")
    assert str(g.tree()) == "/\n├── a (2,) int64\n└── b\n    └── arr (3, 4) float32\n"


def test_attributes_persist_and_bad_ones_change_nothing(tmp_path):
    g = zarrlayer.create_group(str(tmp_path), attributes={"a": 1})
    g.attrs["b"] = [1, 2]
    g.attrs.update({"c": "x"}, d=None)
    del g.attrs["a"]
    assert zarrlayer.open_group(str(tmp_path), mode="r").attrs.asdict() == {"b": [1, 2], "c": "x", "d": None}
    g.attrs.put({"only": True})
    assert dict(zarrlayer.open_group(str(tmp_path), mode="r").attrs) == {"only": True}
    before = (tmp_path / "zarr.json").read_bytes()
    with pytest.raises(MetadataError, match=r"node '' in store file://.*not JSON serializable"):
        g.attrs["bad"] = object()
    assert (tmp_path / "zarr.json").read_bytes() == before and dict(g.attrs) == {"only": True}
    arr = zarrlayer.create_array(str(tmp_path), name="v2", shape=(2,), dtype="i4", zarr_format=2)
    arr.attrs["units"] = "m"
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    with pytest.raises(MetadataError, match="node 'v2'.*int64"):
        arr.attrs["n"] = np.int64(3)
    for create in (lambda: zarrlayer.create_group(str(tmp_path), path="g", attributes={"x": {1, 2}}),
                   lambda: zarrlayer.create_array(str(tmp_path), name="a", shape=(1,), dtype="i4", attributes={"x": b"b"})):
        with pytest.raises(MetadataError, match="JSON"):
            create()
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == files
    assert dict(zarrlayer.open_array(str(tmp_path), path="v2", mode="r").attrs) == {"units": "m"}


def test_read_only_nodes_refuse_writes_before_io():
    store = MemoryStore()
    zarrlayer.create_group(store).create_array("x", shape=(2,), dtype="i4")
    before = dict(store.store_dict)
    g = zarrlayer.open_group(store, mode="r")
    assert g.read_only and g["x"].read_only
    with pytest.raises(ReadOnlyError):
        g.attrs["a"] = 1
    with pytest.raises(ReadOnlyError):
        g.create_group("y")
    with pytest.raises(ReadOnlyError):
        g["x"][0] = 1
    with pytest.raises(ReadOnlyError):
        g["x"].resize((4,))
    assert store.store_dict == before


def test_consolidated_groups_answer_member_queries_without_listing():
    store = MemoryStore()
    root = zarrlayer.group(store)
    for i in range(200):
        root.create_array(f"a{i:03d}", shape=(2,), dtype="i4", attributes={"i": i})
    sub = root.create_group("sub")
    sub.create_array("deep", shape=(3,), dtype="f8")[...] = [1, 2, 3]
    zarrlayer.consolidate_metadata(store)
    g = zarrlayer.open_group(NoListing(store), mode="r")
    assert len(g) == 201 and list(g.array_keys())[:2] == ["a000", "a001"]
    assert g["a150"].attrs["i"] == 150
    assert np.array_equal(g["sub"]["deep"][...], [1, 2, 3])
    assert "No. members : 201" in str(g.info)
    with pytest.raises(MetadataError):
        zarrlayer.open_group(store, path="sub", mode="r", use_consolidated=True)


def test_consolidated_listing_leaves_arrays_unparsed_until_opened():
    import json

    store = MemoryStore()
    root = zarrlayer.group(store)
    root.create_array("good", shape=(2,), dtype="i4")[...] = [5, 6]
    root.create_array("bad", shape=(2,), dtype="i4")
    root.create_group("sub")
    zarrlayer.consolidate_metadata(store)
    doc = json.loads(store.store_dict["zarr.json"])
    doc["consolidated_metadata"]["metadata"]["bad"]["chunk_grid"]["configuration"]["chunk_shape"] = [0]
    store.store_dict["zarr.json"] = json.dumps(doc).encode()
    before = dict(store.store_dict)
    g = zarrlayer.open_group(NoListing(store), mode="r")
    assert list(g) == ["bad", "good", "sub"] and list(g.array_keys()) == ["bad", "good"]
    assert list(g.group_keys()) == ["sub"] and len(g) == 3 and "bad" in g
    assert "No. arrays  : 2" in str(g.info)
    assert np.array_equal(g["good"][...], [5, 6])
    with pytest.raises(MetadataError, match=r"bad/zarr.json.*chunk_shape.*\(store memory://"):
        g["bad"]
    assert store.store_dict == before


def test_cache_argument_wraps_the_store():
    from zarrlayer.cache.memory import MemoryCacheStore

    store = MemoryStore()
    zarrlayer.create_array(store, name="x", shape=(4,), dtype="i4", chunks=(2,))[...] = [1, 2, 3, 4]
    arr = zarrlayer.open_array(store, path="x", mode="r", cache="memory")
    assert isinstance(arr.store, MemoryCacheStore)
    assert np.array_equal(arr[...], [1, 2, 3, 4]) and np.array_equal(arr[...], [1, 2, 3, 4])
    writable = zarrlayer.open_array(store, path="x", mode="r+", cache="memory")
    assert np.array_equal(writable[...], [1, 2, 3, 4])
    writable[1:3] = [8, 9]
    writable[0:2] = 0  # chunk c/0 becomes all fill: deleted through the cache, which must forget it
    assert np.array_equal(writable[...], [0, 0, 9, 4])
    assert np.array_equal(zarrlayer.open_array(store, path="x", mode="r")[...], [0, 0, 9, 4])


def test_deleting_a_member_removes_its_keys_and_open_consolidated_requires_the_document():
    store = MemoryStore()
    g = zarrlayer.group(store)
    g.create_array("keep", shape=(2,), dtype="i4")[...] = [1, 2]
    g.create_group("drop").create_array("inner", shape=(2,), dtype="i4")[...] = [3, 4]
    with pytest.raises(MetadataError):
        zarrlayer.open_consolidated(store)
    del g["drop"]
    assert list(g) == ["keep"] and not any(k.startswith("drop") for k in store.store_dict)
    with pytest.raises(KeyError):
        del g["drop"]
    zarrlayer.consolidate_metadata(store)
    assert list(zarrlayer.open_consolidated(store)) == ["keep"]


def test_missing_member_is_a_zarrlayer_key_error() -> None:
    from zarrlayer.errors import MemberNotFoundError, ZarrlayerError

    root = zarrlayer.create_group(store={})
    root.create_group("a")
    with pytest.raises(MemberNotFoundError, match="no array or group named 'nope'") as info:
        root["nope"]
    assert isinstance(info.value, KeyError) and isinstance(info.value, ZarrlayerError)
    with pytest.raises(KeyError):
        del root["nope"]


def test_members_max_depth_as_zarr_python() -> None:
    root = zarrlayer.create_group(store={})
    root.create_group("a").create_group("b").create_array("x", shape=(2,), dtype="i1")
    root.create_array("y", shape=(1,), dtype="i1")
    assert [n for n, _ in root.members()] == ["a", "y"]
    assert [n for n, _ in root.members(max_depth=1)] == ["a", "a/b", "y"]
    assert [n for n, _ in root.members(max_depth=None)] == ["a", "a/b", "a/b/x", "y"]
    with pytest.raises(ValueError):
        root.members(max_depth=-1)
