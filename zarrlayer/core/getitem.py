"""numpy's rules for `array[selection]`: which plan serves a selection, and how its result is shaped.

`array[...]` follows numpy (and zarr-python where it follows numpy): several integer arrays
are paired (broadcast together) as points, one 1-d array with slices and ints beside it is an
outer (orthogonal) selection, boolean arrays stand for their `nonzero()` indices, and `None`
(newaxis) inserts a length-1 axis in a basic selection. A selection that mixes several arrays
with slices is read as the outer product of the distinct indices (bounded by them), then
numpy indexes that block, so the result is numpy's, placement of the broadcast axes included.
Every index is bounds-checked here, before any I/O.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from zarrlayer.core.indexing import checked_indices, is_basic_selection
from zarrlayer.errors import BoundsCheckError, SelectionError

__all__ = ["Selection", "parse_getitem"]

Kind = Literal["basic", "orthogonal", "vectorized", "mixed"]


@dataclass(frozen=True, slots=True)
class Selection:
    """How to serve `array[selection]`.

    `kind` names the plan for `selection`; `post` is the numpy index applied to that plan's
    result afterwards (newaxis for basic selections, the pairing of a mixed one), None when
    the plan's result is already numpy's.
    """

    kind: Kind
    selection: Any
    post: tuple[Any, ...] | None = None


def _as_item(item: Any, axis_hint: int) -> Any:
    """An int, slice, Ellipsis, None, or an integer / boolean ndarray."""
    if item is None or item is Ellipsis or isinstance(item, slice):
        return item
    if not isinstance(item, (bool, np.bool_)):
        try:
            return operator.index(item)
        except TypeError:
            pass
    arr = np.asarray(item)
    if arr.size == 0 and arr.dtype.kind == "f" and not isinstance(item, np.ndarray):
        arr = arr.astype(np.int64)
    if arr.dtype == bool and arr.ndim == 0:
        raise SelectionError("a boolean scalar is not a supported index (numpy's a[True] adds an axis)")
    if arr.dtype.kind not in "iub":
        raise SelectionError(
            f"expected ints, slices, Ellipsis, None or integer/boolean arrays as indices, "
            f"found {type(item).__name__} of dtype {arr.dtype} near axis {axis_hint}"
        )
    return arr


def _dims_of(item: Any) -> int:
    if item is None:
        return 0
    if isinstance(item, np.ndarray) and item.dtype == bool:
        return item.ndim
    return 1


def _expand(items: list[Any], ndim: int) -> list[Any]:
    ellipses = [i for i, s in enumerate(items) if s is Ellipsis]
    if len(ellipses) > 1:
        raise SelectionError("a selection may contain at most one Ellipsis (...)")
    used = sum(_dims_of(s) for s in items if s is not Ellipsis)
    if used > ndim:
        raise BoundsCheckError(f"too many indices for an array of {ndim} dimension(s): found {used}")
    fill = [slice(None)] * (ndim - used)
    if ellipses:
        at = ellipses[0]
        return items[:at] + fill + items[at + 1 :]
    return items + fill


def _newaxis_post(items: list[Any]) -> tuple[Any, ...]:
    """The index that inserts the newaxes into the result of the basic selection without them."""
    return tuple(np.newaxis if s is None else slice(None) for s in items if not isinstance(s, int))


def _split_masks(items: list[Any], shape: tuple[int, ...]) -> list[Any]:
    """Boolean arrays replaced by their nonzero() integer arrays, one per axis they span (numpy's rule)."""
    out: list[Any] = []
    axis = 0
    for item in items:
        if isinstance(item, np.ndarray) and item.dtype == bool:
            spans = tuple(shape[axis : axis + item.ndim])
            if item.shape != spans:
                raise BoundsCheckError(
                    f"expected a boolean index of shape {spans} at axis {axis}, found shape {item.shape}"
                )
            out.extend(np.nonzero(item))
            axis += item.ndim
        else:
            out.append(item)
            axis += item is not None
    return out


def parse_getitem(selection: Any, shape: tuple[int, ...]) -> Selection:
    """The plan kind and post-index for `array[selection]` on an array of `shape` (checks bounds)."""
    if is_basic_selection(selection):
        return Selection("basic", selection)
    raw = list(selection) if isinstance(selection, tuple) else [selection]
    items = _expand([_as_item(s, i) for i, s in enumerate(raw)], len(shape))
    has_array = any(isinstance(s, np.ndarray) for s in items)
    if not has_array:
        stripped = tuple(s for s in items if s is not None)
        return Selection("basic", stripped, _newaxis_post(items))
    if any(s is None for s in items):
        raise SelectionError("newaxis (None) together with array indices is not supported; add the axis afterwards")
    if len(items) == 1 and items[0].dtype == bool and items[0].ndim == len(shape) and len(shape) > 1:
        return Selection("vectorized", (items[0],))
    items = _split_masks(items, shape)
    arrays = [i for i, s in enumerate(items) if isinstance(s, np.ndarray)]
    advanced = [i for i, s in enumerate(items) if not isinstance(s, slice)]
    contiguous = advanced[-1] - advanced[0] + 1 == len(advanced)
    if len(arrays) == 1 and items[arrays[0]].ndim == 1 and contiguous:
        return Selection("orthogonal", tuple(items))
    if not any(isinstance(s, slice) for s in items):
        return Selection("vectorized", tuple(items))
    return _mixed(items, shape)


def _mixed(items: list[Any], shape: tuple[int, ...]) -> Selection:
    """The outer block of the distinct indices, and numpy's index into it."""
    outer: list[Any] = []
    post: list[Any] = []
    for axis, (item, n) in enumerate(zip(items, shape)):
        if isinstance(item, slice):
            outer.append(item)
            post.append(slice(None))
        elif isinstance(item, np.ndarray):
            unique, inverse = np.unique(checked_indices(item, n, axis), return_inverse=True)
            outer.append(unique)
            post.append(inverse.reshape(item.shape))
        else:
            outer.append(checked_indices(np.asarray([item]), n, axis))
            post.append(0)
    return Selection("mixed", tuple(outer), tuple(post))
