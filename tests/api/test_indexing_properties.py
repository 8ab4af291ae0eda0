"""Every selection kind, read and written through real arrays, against numpy (v2, v3 and a sharded v3 array).

`a[sel]` follows numpy (basic with steps, negatives, Ellipsis, newaxis; several integer arrays
paired; masks); `oindex` is the outer product; `vindex` points; `blocks` storage blocks. Out of
range indices of every integer dtype raise IndexError and leave the store unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarrlayer
from zarrlayer.errors import ZarrlayerError

FORMATS = ("v2", "v3", "sharded")
_SETTINGS = settings(max_examples=45, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_INT_DTYPES = ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8")


def _make(fmt: str, data: np.ndarray, chunks: tuple[int, ...]) -> tuple[zarrlayer.Array, dict[str, Any]]:
    store: dict[str, Any] = {}
    if fmt == "sharded":
        shards = tuple(c * 2 for c in chunks)
        array = zarrlayer.create_array(store, shape=data.shape, chunks=chunks, shards=shards, dtype=data.dtype, fill_value=-1)
    else:
        array = zarrlayer.create_array(
            store, shape=data.shape, chunks=chunks, dtype=data.dtype, zarr_format=2 if fmt == "v2" else 3, fill_value=-1
        )
    array[...] = data
    return array, store


@st.composite
def arrays(draw: Any) -> tuple[str, np.ndarray, tuple[int, ...]]:
    fmt = draw(st.sampled_from(FORMATS))
    shape = tuple(draw(st.lists(st.integers(1, 8), min_size=1, max_size=3)))
    chunks = tuple(draw(st.integers(1, n)) for n in shape)
    data = np.arange(int(np.prod(shape)), dtype="i4").reshape(shape)
    return fmt, data, chunks


def _slice(draw: Any, n: int) -> slice:
    bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
    step = draw(st.one_of(st.none(), st.integers(1, 3), st.integers(-3, -1)))
    return slice(draw(bound), draw(bound), step)


def _int_array(draw: Any, n: int, max_size: int = 4) -> np.ndarray:
    values = draw(st.lists(st.integers(-n, n - 1), max_size=max_size))
    dtype = draw(st.sampled_from(("i8", "i4", "u8"))) if all(v >= 0 for v in values) else "i8"
    return np.array(values, dtype=dtype)


def _numpy_item(draw: Any, n: int, arrays_ok: bool) -> Any:
    kinds = ["int", "slice"] + (["array", "mask"] if arrays_ok else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    if kind == "slice":
        return _slice(draw, n)
    if kind == "array":
        return _int_array(draw, n)
    return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)


@st.composite
def numpy_selections(draw: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    arrays_ok = draw(st.booleans())
    if arrays_ok and draw(st.booleans()):
        # only ints and arrays on every axis: numpy pairs the arrays as points
        length = draw(st.integers(0, 4))
        ints = draw(st.sets(st.integers(0, len(shape) - 1), max_size=max(len(shape) - 2, 0)))
        points = [
            draw(st.integers(-n, n - 1)) if axis in ints else np.resize(_int_array(draw, n, 4), length)
            for axis, n in enumerate(shape)
        ]
        return tuple(p.astype("i8") if isinstance(p, np.ndarray) and p.size == 0 else p for p in points)
    count = draw(st.integers(0, len(shape)))
    at = draw(st.one_of(st.none(), st.integers(0, count)))  # where an Ellipsis goes, if any
    axes = list(range(count)) if at is None else [*range(at), *range(len(shape) - (count - at), len(shape))]
    items: list[Any] = [_numpy_item(draw, shape[axis], arrays_ok) for axis in axes]
    if at is not None:
        items.insert(at, Ellipsis)
    if not arrays_ok and draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    if arrays_ok:
        # numpy pairs several arrays; they must broadcast together (1-d: equal lengths or length 1)
        lengths = {len(np.nonzero(s)[0]) if s.dtype == bool else len(s) for s in items if isinstance(s, np.ndarray)}
        if len(lengths - {1}) > 1:
            items = [s[:1] if isinstance(s, np.ndarray) and s.dtype != bool else s for s in items]
            items = [np.zeros_like(s) if isinstance(s, np.ndarray) and s.dtype == bool else s for s in items]
    return tuple(items)


def _values_for(reference: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(1000, 2000, size=reference.shape).astype("i4")


@_SETTINGS
@given(spec=arrays(), data=st.data())
def test_getitem_and_setitem_match_numpy(spec: tuple[str, np.ndarray, tuple[int, ...]], data: Any) -> None:
    fmt, expected, chunks = spec
    array, _ = _make(fmt, expected, chunks)
    sel = data.draw(numpy_selections(expected.shape))
    want = expected[sel]
    assert np.array_equal(array[sel], want), sel
    value = _values_for(want, data.draw(st.integers(0, 99)))
    array[sel] = value
    expected[sel] = value
    assert np.array_equal(array[...], expected), sel


@st.composite
def orthogonal_selections(draw: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    return tuple(_numpy_item(draw, n, True) for n in shape)


def _outer_index(shape: tuple[int, ...], sel: tuple[Any, ...]) -> tuple[tuple[Any, ...], list[bool]]:
    axes, keep = [], []
    for n, s in zip(shape, sel):
        if isinstance(s, (int, np.integer)):
            axes.append(np.array([s]))
            keep.append(False)
        elif isinstance(s, slice):
            axes.append(np.arange(n)[s])
            keep.append(True)
        else:
            axes.append(np.flatnonzero(s) if s.dtype == bool else s.astype(np.int64))
            keep.append(True)
    return np.ix_(*axes), keep


@_SETTINGS
@given(spec=arrays(), data=st.data())
def test_oindex_is_the_outer_product(spec: tuple[str, np.ndarray, tuple[int, ...]], data: Any) -> None:
    fmt, expected, chunks = spec
    array, _ = _make(fmt, expected, chunks)
    sel = data.draw(orthogonal_selections(expected.shape))
    index, keep = _outer_index(expected.shape, sel)
    block = expected[index]
    want = block.reshape([m for m, k in zip(block.shape, keep) if k])
    assert np.array_equal(array.oindex[sel], want), sel
    assert np.array_equal(array.get_orthogonal_selection(sel), want), sel
    value = _values_for(want, data.draw(st.integers(0, 99)))
    array.oindex[sel] = value
    expected[index] = value.reshape(block.shape)
    assert np.array_equal(array[...], expected), sel


@_SETTINGS
@given(spec=arrays(), data=st.data())
def test_vindex_points_and_masks(spec: tuple[str, np.ndarray, tuple[int, ...]], data: Any) -> None:
    fmt, expected, chunks = spec
    array, _ = _make(fmt, expected, chunks)
    if data.draw(st.booleans()):
        sel: Any = np.array(data.draw(st.lists(st.booleans(), min_size=expected.size, max_size=expected.size)))
        sel = sel.reshape(expected.shape)
        assert np.array_equal(array.get_mask_selection(sel), expected[sel])
    else:
        count = data.draw(st.integers(0, 5))
        sel = tuple(_int_array(data.draw, n, count) for n in expected.shape)
        sel = tuple(np.resize(s, count) if s.size else np.zeros(count, dtype=s.dtype) for s in sel)
        assert np.array_equal(array.get_coordinate_selection(sel), expected[sel])
    want = expected[sel]
    assert np.array_equal(array.vindex[sel], want)
    value = _values_for(want, data.draw(st.integers(0, 99)))
    array.vindex[sel] = value
    expected[sel] = value
    assert np.array_equal(array[...], expected)


@_SETTINGS
@given(spec=arrays(), data=st.data())
def test_blocks_match_the_block_grid(spec: tuple[str, np.ndarray, tuple[int, ...]], data: Any) -> None:
    fmt, expected, chunks = spec
    array, _ = _make(fmt, expected, chunks)
    blocks = array.shards or array.chunks
    sel, region = [], []
    for n, b in zip(expected.shape, blocks):
        count = -(-n // b)
        if data.draw(st.booleans()):
            k = data.draw(st.integers(-count, count - 1))
            sel.append(k)
            k %= count
            region.append(slice(k * b, (k + 1) * b))
        else:
            start = data.draw(st.integers(0, count))
            stop = data.draw(st.integers(start, count))
            sel.append(slice(start, stop))
            region.append(slice(start * b, stop * b))
    want = expected[tuple(region)]
    assert np.array_equal(array.blocks[tuple(sel)], want)
    value = _values_for(want, data.draw(st.integers(0, 99)))
    array.set_block_selection(tuple(sel), value)
    expected[tuple(region)] = value
    assert np.array_equal(array[...], expected)


@_SETTINGS
@given(spec=arrays(), data=st.data())
def test_out_of_range_indices_of_every_integer_dtype_change_nothing(
    spec: tuple[str, np.ndarray, tuple[int, ...]], data: Any
) -> None:
    fmt, expected, chunks = spec
    array, store = _make(fmt, expected, chunks)
    axis = data.draw(st.integers(0, expected.ndim - 1))
    n = expected.shape[axis]
    dtype = np.dtype(data.draw(st.sampled_from(_INT_DTYPES)))
    info = np.iinfo(dtype)
    candidates = [v for v in (n, n + 3, info.max, -n - 1, info.min) if info.min <= v <= info.max and not -n <= v < n]
    bad = np.array([data.draw(st.sampled_from(candidates))], dtype=dtype)
    before = dict(store)
    how = data.draw(st.sampled_from(("getitem", "oindex", "vindex", "setitem", "oindex-set", "vindex-set")))
    sel = tuple(bad if i == axis else np.array([0]) for i in range(expected.ndim))
    with pytest.raises(IndexError) as info_:
        if how == "getitem":
            array[sel]
        elif how == "oindex":
            array.oindex[sel]
        elif how == "vindex":
            array.vindex[sel]
        elif how == "setitem":
            array[sel] = 7
        elif how == "oindex-set":
            array.oindex[sel] = 7
        else:
            array.vindex[sel] = 7
    assert isinstance(info_.value, ZarrlayerError)
    assert store == before
    assert np.array_equal(array[...], expected)


def test_issue_inputs() -> None:
    """The inputs of issue 11: paired arrays read 2 elements and write 2 cells; uint64 beyond int64 is refused."""
    for fmt in FORMATS:
        data = np.arange(16, dtype="i4").reshape(4, 4)
        array, store = _make(fmt, data, (2, 2))
        assert array[[0, 1], [0, 1]].tolist() == [0, 5]
        array[[0, 1], [0, 1]] = -7
        assert int((array[...] == -7).sum()) == 2
        assert array.oindex[[0, 1], [0, 1]].shape == (2, 2)
        line, line_store = _make(fmt, np.arange(10, dtype="i4"), (3,))
        before = dict(line_store)
        with pytest.raises(IndexError):
            line.vindex[np.array([2**64 - 4], dtype="u8")]
        with pytest.raises(IndexError):
            line.vindex[np.array([2**64 - 4], dtype="u8")] = 99
        assert line_store == before and line[-4] == 6
