"""Where zarr-python raises a builtin error (ValueError, TypeError, KeyError, IndexError, FileNotFoundError),
the same call on zarrlayer raises a ZarrlayerError that is also that builtin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import zarrlayer
from zarrlayer.errors import ZarrlayerError

zarr = pytest.importorskip("zarr")

_BUILTINS = (ValueError, TypeError, KeyError, IndexError, FileNotFoundError, PermissionError)


def _array(lib: Any, shape: tuple[int, ...] = (10,)) -> Any:
    return lib.create_array({}, shape=shape, chunks=(3,) * len(shape), dtype="i4")


def _twice(lib: Any) -> None:
    store: dict[str, Any] = {}
    lib.create_array(store, name="a", shape=(2,), dtype="i4")
    lib.create_array(store, name="a", shape=(2,), dtype="i4")


def _group_over_array(lib: Any) -> None:
    store: dict[str, Any] = {}
    lib.create_array(store, name="a", shape=(2,), dtype="i4")
    lib.create_group(store, path="a")


def _require_mismatch(lib: Any) -> None:
    group = lib.group({})
    group.create_array("x", shape=(2,), dtype="i4")
    group.require_array("x", shape=(3,), dtype="i4")


CASES: dict[str, Callable[[Any], Any]] = {
    "open_group missing, mode r": lambda lib: lib.open_group({}, mode="r"),
    "open_array missing, mode r": lambda lib: lib.open_array({}, mode="r"),
    "create_array twice": _twice,
    "create_group over an array": _group_over_array,
    "group[missing]": lambda lib: lib.group({})["nope"],
    "a[10] on length 10": lambda lib: _array(lib)[10],
    "a[-11] on length 10": lambda lib: _array(lib)[-11],
    "vindex out of range": lambda lib: _array(lib).vindex[[0, 20]],
    "oindex out of range": lambda lib: _array(lib).oindex[[0, 20]],
    "uint64 index beyond int64": lambda lib: _array(lib).vindex[np.array([2**64 - 4], dtype="u8")],
    "too many indices": lambda lib: _array(lib)[0, 0],
    "block out of range": lambda lib: _array(lib).blocks[5],
    "block slice with a step": lambda lib: _array(lib).get_block_selection(slice(0, 2, 2)),
    "float index array": lambda lib: _array(lib).oindex[np.array([0.5])],
    "wrong shape assigned": lambda lib: _array(lib).__setitem__(slice(None), np.ones(3)),
    "mask of the wrong shape": lambda lib: _array(lib).get_mask_selection(np.ones(3, dtype=bool)),
    "bad mode": lambda lib: lib.open({}, mode="q"),
    "require_array with another shape": _require_mismatch,
    "resize to another rank": lambda lib: _array(lib).resize((2, 2)),
    "load a missing array": lambda lib: lib.load({}),
    "compressor of a v3 array": lambda lib: _array(lib).compressor,
    "open_group on an array": lambda lib: lib.open_group(_store_with_array(lib), path="a", mode="r"),
    "open_array on a group": lambda lib: lib.open_array(lib.group({}).store, mode="r"),
    "negative shape": lambda lib: lib.create_array({}, shape=(-1,), dtype="i4"),
    "not a dtype": lambda lib: lib.create_array({}, shape=(2,), dtype="bogus"),
    "chunks of another rank": lambda lib: lib.create_array({}, shape=(2,), chunks=(1, 1), dtype="i4"),
    "fill value of the wrong type": lambda lib: lib.create_array({}, shape=(2,), dtype="i4", fill_value="x"),
    "shards not a multiple of chunks": lambda lib: lib.create_array({}, shape=(8,), chunks=(3,), shards=(4,), dtype="i4"),
    "v2 with shards": lambda lib: lib.create_array({}, shape=(8,), chunks=(2,), shards=(4,), dtype="i4", zarr_format=2),
    "resize to a negative length": lambda lib: _array(lib).resize((-1,)),
    "append of another rank": lambda lib: _array(lib).append(np.ones((2, 2))),
    "append of another shape": lambda lib: _array(lib, (4, 4)).append(np.ones((2, 3))),
    "require_group where an array is": lambda lib: _group_with_array(lib).require_group("a"),
    "require_array where a group is": lambda lib: _group_with_group(lib).require_array("b", shape=(2,), dtype="i4"),
    "create_group over an array member": lambda lib: _group_with_array(lib).create_group("a"),
    "create_array over an array member": lambda lib: _group_with_array(lib).create_array("a", shape=(2,), dtype="i4"),
    "attribute that is not JSON": lambda lib: _array(lib).attrs.__setitem__("x", object()),
    "member path below an array": lambda lib: _group_with_array(lib)["a/b"],
    "write through mode r": lambda lib: lib.open_array(_store_with_array(lib), path="a", mode="r").__setitem__(0, 1),
    "2-d array in oindex": lambda lib: _array(lib).oindex[np.array([[0]])],
    "vindex with too few arrays": lambda lib: _array(lib, (4, 4)).vindex[[0, 1]],
    "vindex with a slice": lambda lib: _array(lib, (4, 4)).vindex[0:2, [0, 1]],
    "zero slice step": lambda lib: _array(lib)[::0],
    "two Ellipses": lambda lib: _array(lib, (4, 4))[..., ...],
    "float scalar index": lambda lib: _array(lib)[1.5],
    "oindex mask of the wrong length": lambda lib: _array(lib).oindex[np.ones(3, dtype=bool)],
    "len of a 0-d array": lambda lib: len(lib.create_array({}, shape=(), dtype="i4")),
    "consolidate an array": lambda lib: lib.consolidate_metadata(_store_with_array(lib), path="a"),
    "open_consolidated without consolidated metadata": lambda lib: lib.open_consolidated(lib.group({}).store),
    "members with a negative depth": lambda lib: lib.group({}).members(max_depth=-1),
    "values that do not cast to the dtype": lambda lib: _array(lib).__setitem__(slice(None), "abc"),
}


def _store_with_array(lib: Any) -> dict[str, Any]:
    store: dict[str, Any] = {}
    lib.create_array(store, name="a", shape=(2,), dtype="i4")
    return store


def _group_with_array(lib: Any) -> Any:
    group = lib.group({})
    group.create_array("a", shape=(2,), dtype="i4")
    return group


def _group_with_group(lib: Any) -> Any:
    group = lib.group({})
    group.create_group("b")
    return group
if hasattr(zarr.Group, "get_array"):  # zarr-python 3.2+
    CASES["get_array of a group"] = lambda lib: _with_members(lib).get_array("g")
    CASES["get_group of an array"] = lambda lib: _with_members(lib).get_group("a")
    CASES["get_array of nothing"] = lambda lib: _with_members(lib).get_array("nope")


def _with_members(lib: Any) -> Any:
    group = lib.group({})
    group.create_group("g")
    group.create_array("a", shape=(2,), dtype="i4")
    return group


def _raised(call: Callable[[], Any]) -> BaseException | None:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return exc
    return None


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_builtin_error_as_zarr_python(case: str) -> None:
    theirs = _raised(lambda: CASES[case](zarr))
    ours = _raised(lambda: CASES[case](zarrlayer))
    assert theirs is not None, f"zarr-python accepts {case!r}; the case no longer tests anything"
    assert ours is not None, f"zarrlayer accepts {case!r}; zarr-python raised {type(theirs).__name__}: {theirs}"
    expected = [b.__name__ for b in _BUILTINS if isinstance(theirs, b)]
    found = [b.__name__ for b in _BUILTINS if isinstance(ours, b)]
    assert set(expected) <= set(found), f"{case}: zarr-python raised {expected}, zarrlayer {type(ours).__mro__}"
    assert isinstance(ours, ZarrlayerError), f"{case}: expected a ZarrlayerError, found {type(ours).__name__}: {ours}"
