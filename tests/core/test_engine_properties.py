"""Random shapes, chunkings and selections: reads and writes through real codecs match numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarrlayer
from zarrlayer.storage import MemoryStore


@st.composite
def _layout(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 9)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, n + 1)) for n in shape)
    sharded = draw(st.booleans())
    shards = tuple(c * draw(st.integers(1, 3)) for c in chunks) if sharded else None
    zarr_format = 3 if sharded else draw(st.sampled_from([2, 3]))
    return shape, chunks, shards, zarr_format


def _slices(draw, shape):
    return tuple(
        slice(draw(st.integers(-n, n)), draw(st.integers(-n, n)), draw(st.sampled_from([1, 1, 2, 3, -1, -2])))
        for n in shape
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout=_layout(), data=st.data())
def test_random_writes_then_reads_match_numpy(layout, data):
    shape, chunks, shards, zarr_format = layout
    a = zarrlayer.create_array(MemoryStore(), name="p", shape=shape, dtype="i2", chunks=chunks,
                               shards=shards, zarr_format=zarr_format, fill_value=-1)
    ref = np.full(shape, -1, dtype="i2")
    for step in range(3):
        sel = _slices(data.draw, shape)
        value = np.arange(ref[sel].size, dtype="i2").reshape(ref[sel].shape) + step
        a[sel] = value
        ref[sel] = value
        points = tuple(np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))) for n in shape)
        length = min(len(p) for p in points)
        points = tuple(p[:length] for p in points)
        a.vindex[points] = 7
        ref[points] = 7
    assert np.array_equal(a[...], ref)
    sel = _slices(data.draw, shape)
    assert np.array_equal(a[sel], ref[sel])
    idx = tuple(np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=4)), dtype=np.int64) for n in shape)
    assert np.array_equal(a.oindex[idx], ref[np.ix_(*idx)])
