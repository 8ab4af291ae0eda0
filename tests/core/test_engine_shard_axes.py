"""Sharded reads that want every shard whole are grouped from the plan's axes, without an entry per inner chunk."""

from __future__ import annotations

import numpy as np
import pytest

import zarrlayer
from zarrlayer.core import indexing, sharded

BLOSC = {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4, "blocksize": 0}}


@pytest.fixture
def array(tmp_path):
    data = np.random.default_rng(2).integers(0, 1000, (70, 90)).astype("f4")
    data[32:48, 30:60] = 0  # a whole shard of the fill value: not stored
    arr = zarrlayer.create_array(store=str(tmp_path / "s.zarr"), shape=data.shape, chunks=(8, 10), shards=(16, 30),
                                 dtype="f4", compressors=[BLOSC], fill_value=0, zarr_format=3)
    arr[...] = data
    return zarrlayer.open_array(str(tmp_path / "s.zarr"), mode="r"), data


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("sel", [Ellipsis, (slice(16, 48), slice(30, 90)), (slice(64, 70), slice(None)), (slice(0, 16), slice(60, 90))])
def test_whole_shard_reads_skip_the_entries(array, monkeypatch, threads, sel):
    arr, data = array
    built = []
    real = indexing._combine
    monkeypatch.setattr(indexing, "_combine", lambda *a: built.append(1) or real(*a))
    with zarrlayer.config.set({"decode_threads": threads}):
        np.testing.assert_array_equal(arr[sel], data[sel])
    assert not built, "a whole-shard read should not build plan entries"


@pytest.mark.parametrize("sel", [(slice(1, 48), slice(None)), (slice(16, 48), slice(30, 89)), (slice(0, 70, 2), slice(None))])
def test_other_selections_take_the_general_path_with_the_same_values(array, monkeypatch, sel):
    arr, data = array
    calls = []
    real = sharded.whole_shard_blocks
    monkeypatch.setattr(sharded, "whole_shard_blocks", lambda *a: calls.append(real(*a)) or calls[-1])
    np.testing.assert_array_equal(arr[sel], data[sel])
    assert calls == [None]


@pytest.mark.parametrize("inner,threads_used", [((16, 16), 1), ((128, 128), 2)])
def test_small_inner_chunks_decode_on_one_thread_big_ones_share_the_pool(tmp_path, monkeypatch, inner, threads_used):
    data = np.random.default_rng(5).integers(0, 100, (512, 512)).astype("f4")
    arr = zarrlayer.create_array(store=str(tmp_path / "t.zarr"), shape=data.shape, chunks=inner, shards=(256, 256),
                                 dtype="f4", compressors=[BLOSC], zarr_format=3)
    arr[...] = data
    seen = []
    real = sharded.DecodeQueue
    monkeypatch.setattr(sharded, "DecodeQueue", lambda *, threads: seen.append(threads) or real(threads=threads))
    with zarrlayer.config.set({"decode_threads": 2}):
        np.testing.assert_array_equal(zarrlayer.open_array(str(tmp_path / "t.zarr"), mode="r")[...], data)
    assert seen == [threads_used]


def test_a_remote_read_of_one_batch_of_shards_decodes_without_the_pool(monkeypatch):
    from zarrlayer.core import io
    from zarrlayer.storage import MemoryStore

    class AsyncOnly(MemoryStore):
        supports_sync = False  # read through get_partial_values on the loop, as a remote store is

    data = np.random.default_rng(6).integers(0, 100, (128, 96)).astype("f4")
    store = AsyncOnly()
    arr = zarrlayer.create_array(store=store, shape=data.shape, chunks=(16, 16), shards=(64, 48), dtype="f4",
                                 compressors=[BLOSC], zarr_format=3)
    arr[...] = data
    submitted = []
    real = io.DecodeQueue.submit
    monkeypatch.setattr(io.DecodeQueue, "submit", lambda self, func, items: submitted.append(1) or real(self, func, items))
    with zarrlayer.config.set({"decode_threads": 2}):
        for sel in [Ellipsis, (slice(3, 100), slice(5, 90))]:
            np.testing.assert_array_equal(zarrlayer.open_array(store, mode="r")[sel], data[sel])
    assert not submitted
