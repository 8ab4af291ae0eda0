"""Chunk plans against numpy: every selection kind, applied chunk by chunk, equals numpy's answer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zarrlayer.core.indexing import basic_plan, orthogonal_plan, vectorized_plan
from zarrlayer.errors import BoundsCheckError

DATA = np.arange(10 * 7 * 5).reshape(10, 7, 5)
CHUNKS = (3, 2, 4)


def _apply(data: np.ndarray, chunks: tuple[int, ...], plan) -> np.ndarray:
    work = np.full(plan.work_shape, -1, dtype=data.dtype)
    for coords, chunk_sel, out_sel, _ in plan.entries:
        region = tuple(slice(k * c, (k + 1) * c) for k, c in zip(coords, chunks))
        work[out_sel] = data[region][chunk_sel]
    return work.reshape(plan.out_shape)


def _outer(data: np.ndarray, sel: tuple) -> np.ndarray:
    axes, keep = [], []
    for n, s in zip(data.shape, sel):
        if isinstance(s, int):
            axes.append([s])
            keep.append(False)
        elif isinstance(s, slice):
            axes.append(np.arange(n)[s])
            keep.append(True)
        else:
            a = np.asarray(s)
            axes.append(np.flatnonzero(a) if a.dtype == bool else a)
            keep.append(True)
    result = data[np.ix_(*axes)]
    return result.reshape([m for m, k in zip(result.shape, keep) if k])


@pytest.mark.parametrize(
    "sel",
    [
        (slice(None),),
        (1,),
        (-1, slice(-3, None)),
        (slice(1, 9, 3), 2, slice(None, None, 2)),
        (Ellipsis, 4),
        (slice(None, None, -2), 1),
        (slice(5, 5),),
        (slice(0, 10, 11),),
        (),
    ],
)
def test_basic_matches_numpy(sel):
    assert np.array_equal(_apply(DATA, CHUNKS, basic_plan(sel, DATA.shape, CHUNKS)), DATA[sel])


@pytest.mark.parametrize(
    "sel",
    [
        ([3, 1, 1, 9], slice(None), 2),
        (np.array([True, False] * 5), [6, 0, 3], slice(1, 4)),
        (2, [1, 2], [4, 0]),
        ([-1, 0], slice(None, None, -1), np.array([True, False, True, False, True])),
    ],
)
def test_orthogonal_matches_numpy(sel):
    assert np.array_equal(_apply(DATA, CHUNKS, orthogonal_plan(sel, DATA.shape, CHUNKS)), _outer(DATA, sel))


def test_points_and_mask_match_numpy():
    sel = ([1, 9, 2, -1], [0, 6, 6, 3], [4, 4, 0, 0])
    assert np.array_equal(_apply(DATA, CHUNKS, vectorized_plan(sel, DATA.shape, CHUNKS)), DATA[sel])
    grid = (np.array([[1, 2], [3, 4]]), np.array([[0, 1], [2, 3]]), np.array([[4, 3], [2, 1]]))
    assert np.array_equal(_apply(DATA, CHUNKS, vectorized_plan(grid, DATA.shape, CHUNKS)), DATA[grid])
    mask = DATA % 3 == 0
    assert np.array_equal(_apply(DATA, CHUNKS, vectorized_plan((mask,), DATA.shape, CHUNKS)), DATA[mask])


def test_whole_chunks_are_marked_complete_and_edges_too():
    plan = basic_plan((slice(0, 6), slice(None), slice(None)), DATA.shape, CHUNKS)
    assert plan.entries and all(e[3] for e in plan.entries)
    partial = basic_plan((slice(1, 6),), DATA.shape, CHUNKS)
    assert not all(e[3] for e in partial.entries)
    assert sum(1 for e in partial.entries if e[3]) == sum(1 for e in partial.entries if e[0][0] == 1)


def test_plan_touches_only_needed_chunks():
    plan = basic_plan((slice(0, 10, 9), 0, 0), DATA.shape, CHUNKS)
    assert sorted(e[0] for e in plan.entries) == [(0, 0, 0), (3, 0, 0)]


@pytest.mark.parametrize(
    "maker, sel",
    [
        (basic_plan, (10,)),
        (basic_plan, (0, -8)),
        (basic_plan, (0, 0, 0, 0)),
        (orthogonal_plan, ([0, 10],)),
        (orthogonal_plan, (np.ones(3, dtype=bool),)),
        (vectorized_plan, ([0], [7], [0])),
        (vectorized_plan, (np.ones((2, 2), dtype=bool),)),
    ],
)
def test_out_of_bounds_is_bounds_check_error(maker, sel):
    with pytest.raises(BoundsCheckError):
        maker(sel, DATA.shape, CHUNKS)


def test_bad_selection_types_are_index_errors():
    with pytest.raises(IndexError):
        basic_plan(([1, 2],), DATA.shape, CHUNKS)
    with pytest.raises(IndexError):
        orthogonal_plan((np.array([1.5]),), DATA.shape, CHUNKS)
    with pytest.raises(IndexError):
        basic_plan((slice(None, None, 0),), DATA.shape, CHUNKS)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 12), min_size=1, max_size=3),
    data=st.data(),
)
def test_random_slices_match_numpy(shape, data):
    arr = np.arange(int(np.prod(shape))).reshape(shape)
    chunks = tuple(data.draw(st.integers(1, n + 2)) for n in shape)
    sel = tuple(
        slice(data.draw(st.integers(-n - 2, n + 2)), data.draw(st.integers(-n - 2, n + 2)), data.draw(st.integers(1, 4)))
        for n in shape
    )
    assert np.array_equal(_apply(arr, chunks, basic_plan(sel, arr.shape, chunks)), arr[sel])
    idx = tuple(np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=6)), dtype=np.int64) for n in shape)
    assert np.array_equal(_apply(arr, chunks, orthogonal_plan(idx, arr.shape, chunks)), _outer(arr, idx))
