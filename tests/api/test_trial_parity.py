"""What a zarr-python user's trial found, each compared with the installed zarr-python in the same test.

Out-of-range Python values on every write path, zarr-python's error names raised where it raises
them, `shards="auto"`, the mode named in a read-only error, 0-d scalars, handle equality, the tree's
final newline and `group[name] = scalar`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarrlayer
from zarrlayer.errors import (
    ArgumentError,
    ArgumentTypeError,
    ArrayNotFoundError,
    GroupNotFoundError,
    ModeError,
    NodeNotFoundError,
    ValueRangeError,
    VindexInvalidSelectionError,
    ZarrlayerError,
)

zarr = pytest.importorskip("zarr")

# -- 1. Python values convert as numpy 2 converts them ----------------------------------------

_OUT_OF_RANGE: list[tuple[str, Any]] = [
    ("u1", 300),
    ("u1", -1),
    ("u1", 2**40),
    ("u1", [300, 1, 2]),
    ("u1", (300,)),
    ("i4", 2**31),
    ("i4", float("nan")),
    ("i4", float("inf")),
    ("i8", 1e20),
    ("u8", -1),
]

# each writes `value` over the first 3 cells of a (3, 3) array with chunks (1, 1)
_WRITES: dict[str, Callable[[Any, Any], None]] = {
    "setitem slice": lambda a, v: a.__setitem__((0, slice(0, 3)), v),
    "setitem int": lambda a, v: a.__setitem__((0, 0), v),
    "setitem mixed": lambda a, v: a.__setitem__((0, [0, 1, 2]), v),
    "setitem paired": lambda a, v: a.__setitem__(([0, 0, 0], [0, 1, 2]), v),
    "set_basic_selection": lambda a, v: a.set_basic_selection((0, slice(None)), v),
    "set_orthogonal_selection": lambda a, v: a.set_orthogonal_selection(([0], [0, 1, 2]), v),
    "set_coordinate_selection": lambda a, v: a.set_coordinate_selection(([0, 0, 0], [0, 1, 2]), v),
    "set_mask_selection": lambda a, v: a.set_mask_selection(np.eye(3, dtype=bool), v),
    "set_block_selection": lambda a, v: a.set_block_selection((0, 0), v),
    "oindex": lambda a, v: a.oindex.__setitem__(([0], [0, 1, 2]), v),
    "vindex": lambda a, v: a.vindex.__setitem__(([0, 0, 0], [0, 1, 2]), v),
    "blocks": lambda a, v: a.blocks.__setitem__((0, 0), v),
}


# zarr-python 3.1 converts a list on its point-selection paths with numpy's array casting ([300] stores 44)
_ZARR_PYTHON_WRAPS_LISTS = {"set_coordinate_selection", "setitem mixed", "setitem paired", "vindex"}


def _outcome(action: Callable[[], Any]) -> type[BaseException] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            action()
    except (OverflowError, ValueError, TypeError) as exc:
        return OverflowError if isinstance(exc, OverflowError) else ValueError if isinstance(exc, ValueError) else TypeError
    return None


@pytest.mark.parametrize("how", sorted(_WRITES))
@pytest.mark.parametrize(("dtype", "value"), _OUT_OF_RANGE, ids=[f"{d}-{v!r}" for d, v in _OUT_OF_RANGE])
def test_out_of_range_python_values_raise_as_zarr_python_and_write_nothing(how: str, dtype: str, value: Any) -> None:
    write = _WRITES[how]
    expected = _outcome(lambda: np.asarray(value, dtype=dtype))
    assert expected in (OverflowError, ValueError)
    theirs = zarr.create_array(zarr.storage.MemoryStore(), shape=(3, 3), chunks=(1, 1), dtype=dtype, fill_value=0)
    if not (how in _ZARR_PYTHON_WRAPS_LISTS and isinstance(value, (list, tuple))):
        assert _outcome(lambda: write(theirs, value)) is expected
    store = zarrlayer.storage.MemoryStore()
    ours = zarrlayer.create_array(store, shape=(3, 3), chunks=(1, 1), dtype=dtype, fill_value=0)
    ours[2, 2] = 7
    before = dict(store._store_dict) if hasattr(store, "_store_dict") else None
    keys_before = sorted(zarrlayer.core.sync.sync(_list(store)))
    with pytest.raises(expected) as info:
        write(ours, value)
    assert isinstance(info.value, ZarrlayerError)
    assert isinstance(info.value, ValueRangeError if expected is OverflowError else ArgumentError)
    assert "uint" in str(info.value) or "int" in str(info.value)
    assert sorted(zarrlayer.core.sync.sync(_list(store))) == keys_before
    if before is not None:
        assert dict(store._store_dict) == before
    expected_data = np.zeros((3, 3), dtype=dtype)
    expected_data[2, 2] = 7
    np.testing.assert_array_equal(ours[...], expected_data)


async def _list(store: Any) -> list[str]:
    return [k async for k in store.list()]


@pytest.mark.parametrize(
    ("dtype", "value"),
    [("u1", np.int64(300)), ("u1", np.array([300, 1, 2])), ("i4", 1.5), ("u1", [1.5, 2, 3]), ("i4", "5"), ("f2", 1e10)],
    ids=["np-scalar", "np-array", "float-into-int", "floats-list", "text", "float-overflow-inf"],
)
def test_values_numpy_casts_are_stored_as_zarr_python_stores_them(dtype: str, value: Any) -> None:
    theirs = zarr.zeros(3, dtype=dtype)
    ours = zarrlayer.zeros(3, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs[0:3] = value
        ours[0:3] = value
    np.testing.assert_array_equal(ours[:], theirs[:])


def test_a_value_with_leading_length_one_axes_fits_as_numpy_and_zarr_python_allow() -> None:
    theirs, ours = zarr.zeros(3, dtype="i4"), zarrlayer.zeros(3, dtype="i4")
    theirs[0:3] = [[1, 2, 3]]
    ours[0:3] = [[1, 2, 3]]
    np.testing.assert_array_equal(ours[:], theirs[:])


def test_create_data_and_fill_value_out_of_range_raise_as_zarr_python() -> None:
    with pytest.raises(OverflowError):
        zarr.create(shape=2, dtype="u1", data=[300, 1])
    with pytest.raises(ValueRangeError):
        zarrlayer.create(shape=2, dtype="u1", data=[300, 1])
    for lib, error in ((zarr, OverflowError), (zarrlayer, ValueRangeError)):
        with pytest.raises(error):
            lib.full(3, 300, dtype="u1")
        with pytest.raises(error):
            lib.create_array(lib.storage.MemoryStore(), shape=(2,), dtype="u1", fill_value=-1)
        with pytest.raises(ValueError):
            lib.full(3, float("nan"), dtype="i4")


def test_append_of_out_of_range_values_raises_before_the_array_grows() -> None:
    with pytest.raises(OverflowError):
        np.asarray([300], dtype="u1")
    a = zarrlayer.zeros(3, dtype="u1", chunks=3)
    with pytest.raises(ValueRangeError):
        a.append([300])
    assert a.shape == (3,)
    a.append([200])
    assert a[:].tolist() == [0, 0, 0, 200]
    a.append(np.array([300]))  # numpy's casting, as numpy and zarr-python
    assert a[:].tolist() == [0, 0, 0, 200, 44]


def test_structured_field_write_out_of_range_raises() -> None:
    a = zarrlayer.zeros(2, dtype=[("x", "u1"), ("y", "f4")], zarr_format=2)
    with pytest.raises(ValueRangeError):
        a.set_basic_selection(slice(None), 300, fields="x")
    assert a[:]["x"].tolist() == [0, 0]


# -- 2. zarr-python's error names, raised where it raises them ---------------------------------


def _error_of(action: Callable[[], Any]) -> BaseException:
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - the error itself is what is compared
        return exc
    raise AssertionError("expected an error")


@pytest.mark.parametrize(
    ("name", "ours_type", "call"),
    [
        ("GroupNotFoundError", GroupNotFoundError, lambda lib, s: lib.open_group(s, mode="r")),
        ("GroupNotFoundError", GroupNotFoundError, lambda lib, s: lib.open(s, mode="r")),
        ("ArrayNotFoundError", ArrayNotFoundError, lambda lib, s: lib.open_array(s, mode="r", path="x")),
        ("VindexInvalidSelectionError", VindexInvalidSelectionError, lambda lib, s: lib.zeros(5).vindex[0:2]),
        ("BoundsCheckError", zarrlayer.errors.BoundsCheckError, lambda lib, s: lib.zeros(5)[10]),
    ],
)
def test_zarr_python_error_names_are_raised_where_it_raises_them(name: str, ours_type: type, call: Any) -> None:
    theirs = _error_of(lambda: call(zarr, zarr.storage.MemoryStore()))
    assert type(theirs) is getattr(zarr.errors, name)
    ours = _error_of(lambda: call(zarrlayer, zarrlayer.storage.MemoryStore()))
    assert type(ours) is ours_type and type(ours).__name__ == name
    assert isinstance(ours, ZarrlayerError)
    if isinstance(theirs, zarr.errors.NodeNotFoundError):
        assert isinstance(ours, NodeNotFoundError) and isinstance(ours, (ValueError, FileNotFoundError))


def test_except_clauses_written_for_zarr_python_names_catch_ours() -> None:
    errors = zarrlayer.errors
    with pytest.raises(errors.BaseZarrError):
        zarrlayer.open_group(zarrlayer.storage.MemoryStore(), mode="r")
    assert issubclass(errors.MetadataError, errors.MetadataValidationError)
    assert issubclass(errors.ContainsArrayError, errors.BaseZarrError)
    assert issubclass(errors.UnknownCodecError, errors.CodecError)


# -- 3. shards="auto" ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "dtype", "chunks"),
    [
        ((10000, 10000), "f4", "auto"),
        ((10000, 10000), "f8", "auto"),
        ((20000, 20000), "u1", "auto"),
        ((1000, 1000, 100), "i2", "auto"),
        ((100,), "f8", "auto"),
        ((0, 5), "f4", "auto"),
        ((10000, 10000), "f8", (100, 100)),
        ((50, 1000), "f8", (10, 10)),
    ],
)
def test_auto_shards_match_zarr_python(shape: tuple[int, ...], dtype: str, chunks: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = zarr.create_array(zarr.storage.MemoryStore(), shape=shape, dtype=dtype, chunks=chunks, shards="auto")
    ours = zarrlayer.create_array(zarrlayer.storage.MemoryStore(), shape=shape, dtype=dtype, chunks=chunks, shards="auto")
    assert (ours.shards, ours.chunks) == (theirs.shards, theirs.chunks)
    group = zarrlayer.group()
    member = group.create_array("x", shape=shape, dtype=dtype, chunks=chunks, shards="auto")
    assert (member.shards, member.chunks) == (theirs.shards, theirs.chunks)


def test_the_users_auto_shard_case() -> None:
    a = zarrlayer.create_array(zarrlayer.storage.MemoryStore(), shape=(10000, 10000), dtype="float32", shards="auto")
    assert a.shards == (626, 1250) and a.chunks == (313, 625)


# -- 4. the mode named in a read-only error ----------------------------------------------------


@pytest.mark.parametrize("mode", ["w", "w-", "a", "r+"])
def test_read_only_store_error_names_the_mode_passed(tmp_path: Path, mode: str) -> None:
    store = zarrlayer.storage.LocalStore(tmp_path, read_only=True)
    with pytest.raises(ModeError, match=re.escape(f"but mode '{mode}' writes")) as info:
        zarrlayer.open_group(store, mode=mode)
    assert isinstance(info.value, ValueError)  # as zarr-python's
    with pytest.raises(ValueError):
        zarr.open_group(zarr.storage.LocalStore(tmp_path, read_only=True), mode=mode)


# -- 5. small parity ----------------------------------------------------------------------------


def test_0d_array_basic_selection_is_a_numpy_scalar() -> None:
    for selection in ((), Ellipsis):
        theirs = zarr.full((), 5, dtype="u1")[selection]
        ours = zarrlayer.full((), 5, dtype="u1")[selection]
        assert type(ours) is type(theirs) is np.uint8 and ours == theirs == 5
    assert type(zarrlayer.full((), 5, dtype="u1").get_basic_selection(())) is np.uint8
    assert type(np.zeros((), dtype="u1")[()]) is np.uint8
    assert isinstance(zarrlayer.zeros((2, 2), dtype="u1")[0:1, 0], np.ndarray)


def test_two_handles_of_one_array_or_group_are_equal_and_hash_alike() -> None:
    zstore = zarr.storage.MemoryStore()
    zarr.create_array(zstore, name="a", shape=3, dtype="u1")
    assert zarr.open_array(zstore, path="a") == zarr.open_array(zstore, path="a")
    store = zarrlayer.storage.MemoryStore()
    zarrlayer.create_array(store, name="a", shape=3, dtype="u1")
    zarrlayer.create_array(store, name="b", shape=3, dtype="u1")
    one, two = zarrlayer.open_array(store, path="a"), zarrlayer.open_array(store, path="a")
    assert one is not two and one == two and hash(one) == hash(two) and len({one, two}) == 1
    assert one != zarrlayer.open_array(store, path="b")
    assert zarrlayer.open_group(store) == zarrlayer.open_group(store)
    assert hash(zarrlayer.open_group(store)) == hash(zarrlayer.open_group(store))
    assert zarrlayer.open_group(store) != zarrlayer.open_group(zarrlayer.storage.MemoryStore())


def test_tree_ends_with_a_newline_as_zarr_python() -> None:
    theirs, ours = zarr.group(), zarrlayer.group()
    for g in (theirs, ours):
        g.create_group("a").create_group("b")
        g.create_group("c")
    assert str(ours.tree()) == str(theirs.tree())
    assert str(ours.tree()).endswith("\n") and not str(ours.tree()).endswith("\n\n")


@pytest.mark.parametrize("value", [5, [1, 2], "x"])
def test_group_setitem_with_a_non_array_is_a_type_error_as_zarr_python(value: Any) -> None:
    with pytest.raises(TypeError):
        zarr.group()["x"] = value
    group = zarrlayer.group()
    with pytest.raises(ArgumentTypeError, match="expects an array"):
        group["x"] = value
    assert "x" not in group
    group["y"] = np.arange(3)
    assert group["y"][:].tolist() == [0, 1, 2]


def _v2_array_and_group(lib: Any) -> Any:
    store = lib.storage.MemoryStore()
    lib.create_array(store, shape=(2,), dtype="u1", zarr_format=2)
    zarrlayer.core.sync.sync(store.set(".zgroup", _bytes(lib, b'{"zarr_format": 2}')))
    return store


def _bytes(lib: Any, data: bytes) -> Any:
    if lib is zarr:
        from zarr.core.buffer import default_buffer_prototype

        return default_buffer_prototype().buffer.from_bytes(data)
    return data


def _bad_node_type(lib: Any) -> Any:
    store = lib.storage.MemoryStore()
    document = b'{"zarr_format": 3, "node_type": "table", "attributes": {}}'
    zarrlayer.core.sync.sync(store.set("zarr.json", _bytes(lib, document)))
    return store


@pytest.mark.parametrize(
    ("name", "make", "call"),
    [
        ("ContainsArrayAndGroupError", _v2_array_and_group, lambda lib, s: lib.create_array(s, shape=2, dtype="u1", zarr_format=2)),
        ("NodeTypeValidationError", _bad_node_type, lambda lib, s: lib.open_array(s, mode="r")),
    ],
)
def test_malformed_nodes_raise_zarr_python_names(name: str, make: Any, call: Any) -> None:
    theirs = _error_of(lambda: call(zarr, make(zarr)))
    assert isinstance(theirs, getattr(zarr.errors, name))
    ours = _error_of(lambda: call(zarrlayer, make(zarrlayer)))
    assert type(ours) is getattr(zarrlayer.errors, name)
    assert isinstance(ours, zarrlayer.errors.MetadataError) and isinstance(ours, ValueError)


def _unknown_codec(lib: Any) -> Any:
    store = lib.storage.MemoryStore()
    document = (
        b'{"zarr_format": 3, "node_type": "array", "shape": [2], "data_type": "uint8", "fill_value": 0,'
        b' "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},'
        b' "chunk_key_encoding": {"name": "default"}, "codecs": [{"name": "bytes"}, {"name": "nope"}], "attributes": {}}'
    )
    zarrlayer.core.sync.sync(store.set("zarr.json", _bytes(lib, document)))
    return store


def test_an_unknown_codec_raises_unknown_codec_error_as_zarr_python() -> None:
    theirs = _error_of(lambda: zarr.open_array(_unknown_codec(zarr), mode="r"))
    assert isinstance(theirs, zarr.errors.UnknownCodecError)
    ours = _error_of(lambda: zarrlayer.open_array(_unknown_codec(zarrlayer), mode="r"))
    assert type(ours) is zarrlayer.errors.UnknownCodecError and "nope" in str(ours)
    assert isinstance(ours, zarrlayer.errors.CodecError) and isinstance(ours, ValueError)
