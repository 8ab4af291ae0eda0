"""What Array's selection methods share: field names, `out=` buffers, masks, and the oindex/vindex/blocks views."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from zarrlayer.core.indexing import basic_plan, is_basic_selection, orthogonal_plan, vectorized_plan
from zarrlayer.errors import (
    ArgumentError,
    ArgumentTypeError,
    BoundsCheckError,
    SelectionError,
    ShapeError,
    ValueRangeError,
)

if TYPE_CHECKING:
    from zarrlayer.core.array import Array

__all__ = [
    "PLANS",
    "BlockIndex",
    "OIndex",
    "VIndex",
    "broadcast_value",
    "check_basic",
    "coerce_value",
    "deliver",
    "field_key",
    "mask_only",
    "pick_fields",
    "pop_fields",
]

class OIndex:
    __slots__ = ("_array",)

    def __init__(self, array: Array) -> None:
        self._array = array

    def __getitem__(self, selection: Any) -> np.ndarray:
        return self._array.get_orthogonal_selection(selection)

    def __setitem__(self, selection: Any, value: Any) -> None:
        self._array.set_orthogonal_selection(selection, value)


class BlockIndex:
    __slots__ = ("_array",)

    def __init__(self, array: Array) -> None:
        self._array = array

    def __getitem__(self, selection: Any) -> np.ndarray:
        return self._array.get_block_selection(selection)

    def __setitem__(self, selection: Any, value: Any) -> None:
        self._array.set_block_selection(selection, value)


class VIndex:
    __slots__ = ("_array",)

    def __init__(self, array: Array) -> None:
        self._array = array

    def __getitem__(self, selection: Any) -> np.ndarray:
        return self._array.get_coordinate_selection(selection)

    def __setitem__(self, selection: Any, value: Any) -> None:
        self._array.set_coordinate_selection(selection, value)


PLANS = {"basic": basic_plan, "orthogonal": orthogonal_plan, "vectorized": vectorized_plan}


def check_basic(selection: Any) -> None:
    if not is_basic_selection(selection):
        raise SelectionError(f"expected ints, slices or Ellipsis for a basic selection, found {selection!r}")


def mask_only(mask: Any, shape: tuple[int, ...]) -> tuple[np.ndarray]:
    arr = np.asarray(mask)
    if arr.dtype != bool:
        raise SelectionError(f"expected a boolean mask for a mask selection, found dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise BoundsCheckError(f"expected a boolean mask of the array's shape {tuple(shape)}, found shape {arr.shape}")
    return (arr,)


def _is_field_name(item: Any) -> bool:
    return isinstance(item, str) or (
        isinstance(item, list) and bool(item) and all(isinstance(f, str) for f in item)
    )


def pop_fields(selection: Any) -> tuple[Any, Any]:
    """(selection, fields): field names (a str or list of str, as zarr-python) taken out of the selection."""
    if _is_field_name(selection):
        return Ellipsis, selection
    if isinstance(selection, tuple) and any(_is_field_name(s) for s in selection):
        fields = [s for s in selection if _is_field_name(s)]
        if len(fields) > 1:
            raise SelectionError(f"expected at most one field name (or list of names) in a selection, found {fields}")
        rest = tuple(s for s in selection if not _is_field_name(s))
        return (rest if rest else Ellipsis), fields[0]
    return selection, None


def field_key(fields: Any) -> Any:
    return fields if isinstance(fields, str) else list(fields)


def pick_fields(result: np.ndarray, fields: Any) -> Any:
    if fields is None:
        return result
    if result.dtype.names is None:
        raise SelectionError(f"field selection {fields!r} needs a structured dtype, found {result.dtype}")
    missing = [f for f in ([fields] if isinstance(fields, str) else fields) if f not in result.dtype.names]
    if missing:
        raise SelectionError(f"no field(s) {missing} in dtype {result.dtype}; fields are {list(result.dtype.names)}")
    return result[field_key(fields)]


def deliver(result: Any, out: Any) -> Any:
    """`result`, or `out` filled with it (an ndarray, or a buffer with `as_numpy_array()`)."""
    if out is None:
        return result
    target = out if isinstance(out, np.ndarray) else getattr(out, "as_ndarray_like", lambda: None)()
    if not isinstance(target, np.ndarray):
        raise ArgumentTypeError(f"expected out= to be a numpy array (or an NDBuffer over one), found {type(out).__name__}")
    if target.shape != np.shape(result):
        raise ShapeError(f"expected out= of shape {np.shape(result)} for this selection, found {target.shape}")
    target[...] = result
    return target


def broadcast_value(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    try:
        return np.broadcast_to(np.asarray(value), shape)
    except ValueError:
        raise ShapeError(f"cannot assign a value of shape {np.shape(value)} to a selection of shape {shape}") from None


def coerce_value(value: Any, dtype: np.dtype[Any], where: str) -> Any:
    """`value` ready to write into an array of `dtype`, nothing written yet.

    Python scalars and lists convert as `np.asarray(value, dtype=dtype)` does in numpy 2: an
    out-of-range integer is a ValueRangeError (an OverflowError), NaN or text into integers an
    ArgumentError (a ValueError). numpy arrays and scalars keep numpy's casting (returned as they are).
    """
    if isinstance(value, (np.ndarray, np.generic)) or dtype == object:
        return value
    try:
        return np.asarray(value, dtype=dtype)
    except OverflowError as exc:
        raise ValueRangeError(f"cannot store {_short(value)} in {where} of dtype {dtype}: {exc}") from None
    except ValueError as exc:
        raise ArgumentError(f"cannot store {_short(value)} in {where} of dtype {dtype}: {exc}") from None
    except TypeError as exc:
        raise ArgumentTypeError(f"cannot store {_short(value)} in {where} of dtype {dtype}: {exc}") from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
