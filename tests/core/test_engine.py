"""The chunk engine on a raw in-test codec: reads and writes match numpy, on sync and async-only stores."""

from __future__ import annotations

import numpy as np
import pytest
from core_fake import FakeMetadata

from zarrlayer import config
from zarrlayer.core.array import Array
from zarrlayer.errors import ChunkDecodeError, ReadOnlyError
from zarrlayer.storage import MemoryStore, WrapperStore


class AsyncOnly(WrapperStore):
    """A wrapper without the sync fast path, so the engine takes its remote-store route."""

    @property
    def supports_sync(self) -> bool:  # type: ignore[override]
        return False


def _array(store, shape=(10, 7), chunks=(3, 4), dtype="<i4", fill=0) -> Array:
    return Array(store, "arr", FakeMetadata(shape=shape, chunk_grid_shape=chunks, dtype=np.dtype(dtype), fill_value=fill))


@pytest.fixture(params=["sync", "async"])
def store(request):
    base = MemoryStore()
    return base if request.param == "sync" else AsyncOnly(base)


def test_write_read_roundtrip_matches_numpy(store):
    a = _array(store)
    ref = np.arange(70, dtype="<i4").reshape(10, 7) + 1
    a[...] = ref
    assert np.array_equal(a[...], ref)
    assert np.array_equal(a[2:9:3, ::2], ref[2:9:3, ::2])
    assert np.array_equal(a.oindex[[9, 0, 4], [6, 1]], ref[np.ix_([9, 0, 4], [6, 1])])
    assert np.array_equal(a.vindex[[9, 0, 4], [6, 1, 3]], ref[[9, 0, 4], [6, 1, 3]])
    assert a[3, 4].shape == () and int(a[3, 4]) == ref[3, 4]
    keys = sorted(k for k in store.store_dict if k.startswith("arr/")) if isinstance(store, MemoryStore) else None
    if keys is not None:
        assert len(keys) == 4 * 2


def test_partial_writes_merge_with_existing_chunks(store):
    a = _array(store)
    ref = np.zeros((10, 7), dtype="<i4")
    a[1:4, 2:6] = 5
    ref[1:4, 2:6] = 5
    a.oindex[[0, 9], [6, 0]] = np.array([[1, 2], [3, 4]])
    ref[np.ix_([0, 9], [6, 0])] = [[1, 2], [3, 4]]
    a.vindex[[5, 6], [5, 6]] = [7, 8]
    ref[[5, 6], [5, 6]] = [7, 8]
    assert np.array_equal(a[...], ref)


def test_fill_only_chunks_are_deleted_and_missing_chunks_read_as_fill():
    store = MemoryStore()
    a = _array(store, fill=-1)
    assert np.array_equal(a[...], np.full((10, 7), -1))
    a[...] = 3
    assert "arr/c/0/0" in store.store_dict
    a[0:3, 0:4] = -1
    assert "arr/c/0/0" not in store.store_dict
    a[...] = -1
    assert not [k for k in store.store_dict if k.startswith("arr/")]


def test_whole_chunks_decode_straight_into_the_output():
    store = MemoryStore()
    a = _array(store, shape=(12, 8), chunks=(3, 8))
    a[...] = np.arange(96).reshape(12, 8)
    pipeline = a.metadata.codecs
    pipeline.direct = 0
    assert np.array_equal(a[...], np.arange(96).reshape(12, 8))
    assert pipeline.direct == 4
    pipeline.direct = 0
    a[1:5]
    assert pipeline.direct == 0


@pytest.mark.parametrize(
    "shape, chunks, pooled",
    [((400, 300), (64, 100), True), ((400, 300), (16, 16), False), ((1000, 600), (16, 16), True)],
)
def test_reads_use_the_pool_by_total_bytes_not_chunk_size(shape, chunks, pooled):
    """Under 1 MiB a read decodes inline; above it small chunks are pooled too (issue 15: 2 KiB chunks)."""
    store = MemoryStore()
    a = _array(store, shape=shape, chunks=chunks, dtype="<f8")
    ref = np.random.default_rng(1).random(shape)
    with config.override(decode_threads=2):
        a[...] = ref
        a.metadata.codecs.threads.clear()
        assert np.array_equal(a[...], ref)
        assert np.array_equal(a[7:391:5, 3:], ref[7:391:5, 3:])
    used_pool = any(name.startswith("zarrlayer-codec") for name in a.metadata.codecs.threads)
    assert used_pool is pooled


def test_corrupt_chunk_names_path_and_key():
    store = MemoryStore()
    a = _array(store)
    a[...] = 1
    store.store_dict["arr/c/1/1"] = b"\x00\x01"
    with pytest.raises(ChunkDecodeError) as info:
        a[...]
    message = str(info.value)
    assert message.startswith(f"array 'arr' chunk key 'c/1/1' in store {store.url}: ")


def test_read_only_write_fails_before_io():
    base = MemoryStore()
    _array(base)[...] = 2
    before = dict(base.store_dict)
    a = _array(base.with_read_only(True))
    with pytest.raises(ReadOnlyError):
        a[0, 0] = 9
    assert base.store_dict == before


def test_bad_value_shape_changes_nothing():
    store = MemoryStore()
    a = _array(store)
    a[...] = 4
    before = dict(store.store_dict)
    with pytest.raises(ValueError):
        a[0:2, 0:2] = np.ones((3, 3))
    assert store.store_dict == before


def test_resize_deletes_chunks_outside_and_append_grows():
    store = MemoryStore()
    a = _array(store)
    a[...] = np.arange(70).reshape(10, 7)
    a.resize((4, 4))
    assert sorted(k for k in store.store_dict if k.startswith("arr/c")) == ["arr/c/0/0", "arr/c/1/0"]
    assert np.array_equal(a[...], np.arange(70).reshape(10, 7)[:4, :4])
    shape = a.append(np.full((3, 4), 9))
    assert shape == (7, 4)
    assert np.array_equal(a[4:], np.full((3, 4), 9))


def test_sharded_and_edge_shapes_on_an_async_only_store():
    import zarrlayer

    base = MemoryStore()
    store = AsyncOnly(base)
    a = zarrlayer.create_array(store, name="s", shape=(9, 10), dtype="f4", chunks=(2, 3), shards=(4, 6))
    ref = np.random.default_rng(3).random((9, 10)).astype("f4")
    a[...] = ref
    a[8, 9] = -1
    ref[8, 9] = -1
    with config.override(decode_threads=2):
        assert np.array_equal(a[...], ref)
        assert np.array_equal(a[1:9:2, 2:], ref[1:9:2, 2:])
        assert np.array_equal(a.vindex[[0, 8], [9, 0]], ref[[0, 8], [9, 0]])
    scalar = zarrlayer.create_array(store, name="zero_d", shape=(), dtype="i2", fill_value=4)
    assert scalar[()] == 4 and scalar[...].shape == ()
    scalar[...] = 9
    assert int(zarrlayer.open_array(base, path="zero_d", mode="r")[()]) == 9
    empty = zarrlayer.create_array(store, name="empty", shape=(0, 3), dtype="u1")
    assert empty[...].shape == (0, 3)
    assert empty.append(np.ones((2, 3), dtype="u1")) == (2, 3)
    strings = zarrlayer.create_array(store, name="str", shape=(5,), dtype=str, chunks=(2,))
    strings[1:4] = ["a", "bb", "ccc"]
    assert list(strings[...]) == ["", "a", "bb", "ccc", ""]


def test_many_threads_read_one_array_at_once():
    from concurrent.futures import ThreadPoolExecutor

    store = MemoryStore()
    a = _array(store, shape=(512, 512), chunks=(64, 128), dtype="<f8")
    ref = np.random.default_rng(5).random((512, 512))
    a[...] = ref
    with config.override(decode_threads=2), ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda i: a[i:, ::3], range(12)))
    assert all(np.array_equal(r, ref[i:, ::3]) for i, r in enumerate(results))


@pytest.mark.parametrize("shards", [(512, 512), (128, 256)], ids=["one-shard-many-threads", "many-shards"])
def test_sharded_pool_paths_match_numpy(shards):
    import zarrlayer

    store = MemoryStore()
    ref = np.random.default_rng(9).random((512, 512))
    with config.override(decode_threads=3):
        a = zarrlayer.create_array(store, name="s", shape=ref.shape, dtype="f8", chunks=(64, 128), shards=shards)
        a[...] = ref
        a[10:300, 5:400] = -ref[10:300, 5:400]
        ref[10:300, 5:400] *= -1
        assert np.array_equal(a[...], ref)
        assert np.array_equal(a[3:500:3, 100:], ref[3:500:3, 100:])
