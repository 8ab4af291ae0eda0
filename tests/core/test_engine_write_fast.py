"""The write fast path (issue 15): whole chunks encoded by c-blosc's context call straight from the value.

Every test checks the stored bytes against the slow path's (`pipeline.encode`) or zarr-python's,
and that the fast path was taken (the `blosc_direct` counter), so none passes through the slow path.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

import zarrlayer
from zarrlayer import config
from zarrlayer.core import _write_encode, _write_sync
from zarrlayer.core._write_encode import BloscEncoder, chunk_encoder, fill_test
from zarrlayer.core.engine import is_all_fill
from zarrlayer.format.codecs import blosc_fast
from zarrlayer.storage import MemoryStore
from zarrlayer.storage.local import LocalStore

pytestmark = pytest.mark.skipif(blosc_fast.compress_to is None, reason="c-blosc's context functions are not loaded")


def _blosc(typesize: int, cname: str = "lz4", shuffle: str = "shuffle", clevel: int = 5) -> dict:
    return {"name": "blosc", "configuration": {"cname": cname, "clevel": clevel, "shuffle": shuffle, "typesize": typesize, "blocksize": 0}}


def _data(shape, dtype="<f4", seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.sin(np.arange(int(np.prod(shape))) * 0.01) * 10 + rng.integers(0, 100, int(np.prod(shape))) / 100
    return np.round(base, 2).astype(dtype).reshape(shape)


def _direct() -> int:
    return _write_encode.stats["blosc_direct"]


def _chunk_files(root: str) -> dict[str, bytes]:
    out = {}
    for directory, _, names in os.walk(root):
        for name in names:
            if name != "zarr.json":
                path = os.path.join(directory, name)
                with open(path, "rb") as f:
                    out[os.path.relpath(path, root).replace(os.sep, "/")] = f.read()
    return out


def _expected_chunks(arr, value: np.ndarray) -> dict[str, bytes]:
    """The slow path's bytes of every non-fill chunk of `value` (pipeline.encode, numcodecs)."""
    md = arr.metadata
    out = {}
    for coords in np.ndindex(*md.chunk_grid_shape):
        region = tuple(slice(c * n, (c + 1) * n) for c, n in zip(coords, md.chunks))
        chunk = np.full(md.chunks, md.fill_value, dtype=md.dtype)
        part = value[region]
        chunk[tuple(slice(0, s) for s in part.shape)] = part
        if not is_all_fill(chunk, md.fill_value):
            out[md.chunk_key(coords)] = md.codecs.encode(chunk)
    return out


@pytest.mark.parametrize(
    "shape, chunks, dtype",
    [
        ((300, 200), (32, 32), "<f4"),  # edge chunks on both axes
        ((256, 64), (16, 64), "<f8"),  # chunks span whole rows: encoded straight from the value, no copy
        ((1000,), (128,), "<i2"),
        ((40, 30, 20), (8, 16, 20), "<u1"),
        ((64, 64), (16, 16), "<c8"),
        ((64, 64), (16, 16), "|b1"),
        ((64, 64), (16, 16), "<M8[s]"),
    ],
)
def test_fast_path_writes_the_slow_paths_bytes(tmp_path, shape, chunks, dtype):
    value = _data(shape, "<f4").astype(dtype) if np.dtype(dtype).kind != "M" else np.arange(np.prod(shape)).reshape(shape).astype(dtype)
    value[tuple(slice(0, c) for c in chunks)] = np.zeros((), dtype=dtype)  # one all-fill chunk: skipped
    root = str(tmp_path / "a.zarr")
    arr = zarrlayer.create_array(store=root, shape=shape, chunks=chunks, dtype=dtype, compressors=[_blosc(np.dtype(dtype).itemsize)], fill_value=0, zarr_format=3)
    before = _direct()
    with config.override(decode_threads=2):
        arr[...] = value
    expected = _expected_chunks(arr, value)
    assert _chunk_files(root) == expected
    assert _direct() - before >= len(expected) > 0  # every stored chunk went through the fast encoder
    assert np.array_equal(zarrlayer.open_array(store=root)[...], value)


def test_fast_path_matches_zarr_python_byte_for_byte(tmp_path):
    zarr = pytest.importorskip("zarr")
    value = _data((200, 300))
    value[64:128, 0:64] = 0
    ours, theirs = str(tmp_path / "ours.zarr"), str(tmp_path / "theirs.zarr")
    arr = zarrlayer.create_array(store=ours, shape=value.shape, chunks=(32, 64), dtype="<f4", compressors=[_blosc(4)], fill_value=0, zarr_format=3)
    before = _direct()
    arr[...] = value
    assert _direct() > before
    ref = zarr.create_array(theirs, shape=value.shape, chunks=(32, 64), dtype="<f4", compressors=[_blosc(4)], fill_value=0)
    ref[...] = value
    assert _chunk_files(ours) == _chunk_files(theirs)
    assert np.array_equal(ref[...], value)


@pytest.mark.parametrize("cname, shuffle, typesize", [("zstd", "bitshuffle", 4), ("blosclz", "noshuffle", 1), ("lz4hc", "shuffle", 8)])
def test_every_blosc_setting_encodes_as_numcodecs(cname, shuffle, typesize):
    """BloscEncoder against pipeline.encode for other compressors, shuffles and typesizes."""
    arr = zarrlayer.create_array(store=MemoryStore(), shape=(64, 64), chunks=(32, 32), dtype="<f8", compressors=[_blosc(typesize, cname, shuffle, 3)], fill_value=0, zarr_format=3)
    pipeline = arr.metadata.codecs
    encoder = chunk_encoder(pipeline, (32, 32))
    assert isinstance(encoder, BloscEncoder)
    chunk = _data((32, 32), "<f8", seed=3)
    assert bytes(encoder(chunk)) == pipeline.encode(chunk)


def test_all_fill_chunks_are_skipped_bit_for_bit(tmp_path):
    """-0.0 is not the fill 0.0 and is stored; NaN fills compare by bits (other payloads are stored)."""
    root = str(tmp_path / "z.zarr")
    arr = zarrlayer.create_array(store=root, shape=(4, 8), chunks=(4, 2), dtype="<f4", compressors=[_blosc(4)], fill_value=0.0, zarr_format=3)
    value = np.zeros((4, 8), dtype="<f4")
    value[:, 2:4] = -0.0
    value[:, 5] = 1.5  # chunk 2 holds data after a first element equal to the fill
    arr[...] = value
    assert sorted(_chunk_files(root)) == ["c/0/1", "c/0/2"]
    root = str(tmp_path / "nan.zarr")
    arr = zarrlayer.create_array(store=root, shape=(4, 8), chunks=(4, 2), dtype="<f8", compressors=[_blosc(8)], fill_value=float("nan"), zarr_format=3)
    value = np.full((4, 8), np.nan)
    value[:, 2:4] = np.frombuffer(np.uint64(0x7FF8000000000001).tobytes(), dtype="<f8")[0]  # another NaN
    arr[...] = value
    assert sorted(_chunk_files(root)) == ["c/0/1"]
    got = zarrlayer.open_array(store=root)[...]
    assert got.view("<u8").tolist() == value.view("<u8").tolist()


def test_fill_test_equals_is_all_fill():
    cases = [
        ("<f4", 0.0, [[0.0, 0.0], [-0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
        ("<f4", 0.1, [[0.1, 0.1], [0.1, 0.2]]),  # a fill not exact in float32 still matches its float32 value
        ("<f8", float("nan"), [[np.nan, np.nan], [np.nan, 1.0]]),
        ("<i8", 2**62 + 1, [[2**62 + 1] * 2, [2**62 + 1, 2**62]]),
        ("|b1", True, [[True, True], [True, False], [False, True]]),
        ("<c8", 1 + 2j, [[1 + 2j, 1 + 2j], [1 + 2j, 1 - 2j]]),
        ("<M8[s]", np.datetime64(5, "s"), [[5, 5], [5, 6]]),
    ]
    for dtype, fill, rows in cases:
        test = fill_test(np.dtype(dtype), fill, is_all_fill)
        for row in rows:
            chunk = np.asarray(row).astype(dtype)
            assert test(chunk) == is_all_fill(chunk, fill), (dtype, fill, row)


def test_edge_scalar_broadcast_and_partial_writes(tmp_path):
    """Edge chunks, a scalar, a broadcast row, a Fortran-ordered value, and a partial write that merges."""
    root = str(tmp_path / "m.zarr")
    ref = np.zeros((70, 50), dtype="<f4")
    arr = zarrlayer.create_array(store=root, shape=ref.shape, chunks=(16, 16), dtype="<f4", compressors=[_blosc(4)], fill_value=0, zarr_format=3)
    steps = [
        ((slice(None), slice(None)), 2.5),
        ((slice(0, 64), slice(0, 48)), np.arange(48, dtype="<f4")),
        ((slice(16, 70), slice(16, 50)), np.asfortranarray(_data((54, 34)))),
        ((slice(3, 40), slice(5, 9)), -1.0),  # partial chunks: read, merged, written back
        ((slice(64, 70), slice(48, 50)), 0.0),  # the corner chunk back to all fill: deleted
    ]
    for sel, value in steps:
        before = _direct()
        arr[sel] = value
        ref[sel] = value
        touched = np.prod([-(-(s.stop or n) // 16) - (s.start or 0) // 16 for s, n in zip(sel, ref.shape)])
        if touched >= _write_sync._SETUP_CHUNKS:  # fewer chunks keep pipeline.encode (same bytes, no setup)
            assert _direct() > before or sel[0].start == 64
        assert np.array_equal(zarrlayer.open_array(store=root)[...], ref)
    assert _chunk_files(root) == _expected_chunks(arr, ref)
    assert "c/4/3" not in _chunk_files(root)


def test_non_native_value_is_converted_first(tmp_path):
    root = str(tmp_path / "b.zarr")
    value = _data((64, 64)).astype(">f4")
    arr = zarrlayer.create_array(store=root, shape=value.shape, chunks=(32, 32), dtype="<f4", compressors=[_blosc(4)], fill_value=0, zarr_format=3)
    arr[...] = value
    assert _chunk_files(root) == _expected_chunks(arr, value.astype("<f4"))


def test_memory_store_keeps_its_own_copy_of_each_chunk():
    """The encoder reuses one output buffer per thread: a store that keeps values must get copies."""
    store = MemoryStore()
    value = _data((64, 256))
    arr = zarrlayer.create_array(store=store, shape=value.shape, chunks=(64, 16), dtype="<f4", compressors=[_blosc(4)], fill_value=0, zarr_format=3)
    before = _direct()
    with config.override(decode_threads=1):
        arr[...] = value
    assert _direct() - before == 16
    assert np.array_equal(arr[...], value)
    for coords in np.ndindex(1, 16):
        key = arr.metadata.chunk_key(coords)
        assert store._data[key] == arr.metadata.codecs.encode(value[:, coords[1] * 16 : (coords[1] + 1) * 16])


class _KeepsBuffers(MemoryStore):
    """A sync store that keeps the very buffer it is handed (as a third-party store might)."""

    def set_sync(self, key, value):
        self._check_writable()
        self._data[key] = value


def test_a_store_that_keeps_buffers_gets_copies():
    store = _KeepsBuffers()
    value = _data((64, 256))
    arr = zarrlayer.create_array(store=store, shape=value.shape, chunks=(64, 16), dtype="<f4", compressors=[_blosc(4)], fill_value=0, zarr_format=3)
    before = _direct()
    with config.override(decode_threads=1):
        arr[...] = value
    assert _direct() - before == 16
    assert all(type(v) is bytes for k, v in store._data.items() if k.startswith("c/"))
    assert np.array_equal(arr[...], value)


@pytest.fixture
def runs(monkeypatch):
    """(thread name, what it was handed) of every WriteJob.run call."""
    calls: list[tuple[str, object]] = []
    run = _write_sync.WriteJob.run

    def counted(self, items):
        calls.append((threading.current_thread().name, items))
        return run(self, items)

    monkeypatch.setattr(_write_sync.WriteJob, "run", counted)
    return calls


def test_big_chunks_are_shared_by_the_caller_and_the_pool(tmp_path, monkeypatch):
    """64 KiB chunks and up: the caller and a pool thread draw chunks from one iterator; each chunk written once."""
    writers: dict[str, list[str]] = {}
    original = LocalStore.set_many_sync

    def slow_many(self, items):  # 2 ms a chunk: the pool thread surely starts before the caller is done
        def spaced():
            for key, value in items:
                writers.setdefault(threading.current_thread().name, []).append(key)
                time.sleep(0.002)
                yield key, value

        return original(self, spaced())

    monkeypatch.setattr(LocalStore, "set_many_sync", slow_many)
    root = str(tmp_path / "p.zarr")
    value = _data((1024, 1024))
    arr = zarrlayer.create_array(store=root, shape=value.shape, chunks=(128, 128), dtype="<f4", compressors=[_blosc(4)], fill_value=0, zarr_format=3)
    with config.override(decode_threads=2):
        arr[...] = value
    keys = [k for names in writers.values() for k in names]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 64
    assert set(writers) == {threading.current_thread().name, *(n for n in writers if n.startswith("zarrlayer-codec"))}
    assert len(writers) == 2
    assert np.array_equal(zarrlayer.open_array(store=root)[...], value)


def test_a_failing_chunk_stops_every_thread_and_is_raised(tmp_path, monkeypatch):
    root = str(tmp_path / "f.zarr")
    value = _data((1024, 1024))
    arr = zarrlayer.create_array(store=root, shape=value.shape, chunks=(128, 128), dtype="<f4", compressors=[_blosc(4)], fill_value=0, zarr_format=3)
    seen = []
    bound = BloscEncoder.bound

    def failing_bound(self):
        encode_at = bound(self)

        def failing(address):
            seen.append(1)
            if len(seen) == 10:
                raise ValueError("c-blosc could not compress (test)")
            return encode_at(address)

        return failing

    monkeypatch.setattr(BloscEncoder, "bound", failing_bound)
    with config.override(decode_threads=2), pytest.raises(ValueError, match="test"):
        arr[...] = value
    assert len(seen) <= 12  # the other thread finished the chunk it held, then stopped
    assert len(_chunk_files(root)) <= 11


def test_a_busy_pool_does_not_hold_up_the_write(tmp_path):
    """Every pool thread blocked elsewhere: the caller writes every chunk itself and returns."""
    from zarrlayer.core.io import decode_pool

    value = _data((512, 512))
    arr = zarrlayer.create_array(store=str(tmp_path / "b.zarr"), shape=value.shape, chunks=(128, 128), dtype="<f4", compressors=[_blosc(4)], fill_value=0, zarr_format=3)
    release = threading.Event()
    timer = threading.Timer(10, release.set)  # unblocks the pool in any case
    timer.start()
    try:
        with config.override(decode_threads=2):
            blockers = [decode_pool().submit(release.wait) for _ in range(2)]
            start = time.perf_counter()
            arr[...] = value
            took = time.perf_counter() - start
    finally:
        release.set()
        timer.cancel()
    assert all(b.result() for b in blockers)
    assert took < 5
    assert np.array_equal(arr[...], value)


def test_small_blosc_chunks_are_written_inline_others_pooled(tmp_path, runs):
    """Small chunks that c-blosc encodes stay on the caller's thread (GIL turns cost more than they give)."""
    value = _data((512, 512))
    small = zarrlayer.create_array(store=str(tmp_path / "s.zarr"), shape=value.shape, chunks=(32, 32), dtype="<f4", compressors=[_blosc(4)], fill_value=0, zarr_format=3)
    gzip = zarrlayer.create_array(store=str(tmp_path / "g.zarr"), shape=value.shape, chunks=(32, 32), dtype="<f4", compressors=[{"name": "gzip", "configuration": {"level": 1}}], fill_value=0, zarr_format=3)
    with config.override(decode_threads=2):
        small[...] = value
        assert [name for name, _ in runs] == [threading.current_thread().name]
        assert not isinstance(runs[0][1], _write_sync.SharedItems)  # no pool: the caller alone
        assert len(_chunk_files(str(tmp_path / "s.zarr"))) == 256
        runs.clear()
        gzip[...] = value
    main = [items for name, items in runs if name == threading.current_thread().name]
    assert len(main) == 1 and isinstance(main[0], _write_sync.SharedItems)  # shared with the pool
    assert all(name.startswith("zarrlayer-codec") for name, _ in runs if name != threading.current_thread().name)
    assert np.array_equal(small[...], value) and np.array_equal(gzip[...], value)


def test_v2_and_filtered_pipelines_keep_the_slow_encoder(tmp_path):
    arr = zarrlayer.create_array(store=MemoryStore(), shape=(8, 8), chunks=(4, 4), dtype="<f4", compressors=[_blosc(4)], filters=[{"name": "transpose", "configuration": {"order": [1, 0]}}], zarr_format=3)
    assert not isinstance(chunk_encoder(arr.metadata.codecs, (4, 4)), BloscEncoder)
    zarr = pytest.importorskip("zarr")
    ours, theirs = str(tmp_path / "v2o.zarr"), str(tmp_path / "v2t.zarr")
    value = _data((64, 64))
    v2 = zarrlayer.create_array(store=ours, shape=value.shape, chunks=(16, 16), dtype="<f4", zarr_format=2, fill_value=0)
    assert not isinstance(chunk_encoder(v2.metadata.codecs, (16, 16)), BloscEncoder)
    v2[...] = value
    ref = zarr.create_array(theirs, shape=value.shape, chunks=(16, 16), dtype="<f4", zarr_format=2, fill_value=0)
    ref[...] = value
    strip = lambda files: {k: v for k, v in files.items() if not k.startswith(".z")}  # noqa: E731
    assert strip(_chunk_files(ours)) == strip(_chunk_files(theirs))


@pytest.mark.parametrize("chunks", [(16, 32), (4, 4)])  # (4, 4): 2500 chunks, more than one batch
@pytest.mark.parametrize(
    "make, selection",
    [
        ("basic", (slice(3, 190), slice(None, None, 3))),
        ("basic", (7, slice(10, 100))),
        ("basic", ()),
        ("orthogonal", ([5, 90, 3], slice(0, 150, 7))),
        ("vectorized", ([5, 90, 3, 150], [0, 40, 41, 199])),
    ],
)
def test_lock_keys_are_the_keys_hold_plan_locks(make, selection, chunks):
    from zarrlayer.core.indexing import basic_plan, orthogonal_plan, vectorized_plan
    from zarrlayer.core.locks import plan_keys

    arr = zarrlayer.create_array(store=MemoryStore(), shape=(200, 200), chunks=chunks, dtype="<f4", fill_value=0, zarr_format=3)
    plan = {"basic": basic_plan, "orthogonal": orthogonal_plan, "vectorized": vectorized_plan}[make](selection, (200, 200), chunks)
    expected = list(plan_keys("arr/", arr.metadata, plan))
    assert list(_write_sync.lock_keys("arr/", arr.metadata, plan)) == expected
    assert [key for _, key in _write_sync.plan_items("arr/", arr.metadata, plan)] == expected


def test_a_big_slice_write_never_holds_the_whole_plan(tmp_path, monkeypatch):
    """Locks and writes walk a basic plan batch by batch: its entries list is never built."""
    from zarrlayer.core import indexing

    built = []
    entries = indexing.ChunkPlan.entries

    def watched(self):
        built.append(1)
        return entries.fget(self)

    monkeypatch.setattr(indexing.ChunkPlan, "entries", property(watched))
    value = _data((330, 330))  # 1089 chunks: more than one batch (plans up to _BATCH chunks use their entries)
    assert 33 * 33 > _write_sync._BATCH
    arr = zarrlayer.create_array(store=str(tmp_path / "l.zarr"), shape=value.shape, chunks=(10, 10), dtype="<f4", compressors=[_blosc(4)], fill_value=0, zarr_format=3)
    before = _direct()
    arr[...] = value
    assert _direct() - before == 1089
    assert built == []
    monkeypatch.undo()
    assert np.array_equal(arr[...], value)


def test_a_write_of_few_chunks_skips_the_setup_and_writes_the_same_bytes(tmp_path):
    root = str(tmp_path / "few.zarr")
    value = _data((64, 64))
    arr = zarrlayer.create_array(store=root, shape=value.shape, chunks=(32, 32), dtype="<f4", compressors=[_blosc(4)], fill_value=0, zarr_format=3)
    before = _direct()
    arr[:32, :32] = value[:32, :32]
    arr[32:, 32:] = 0  # all fill: nothing stored
    assert _direct() == before  # pipeline.encode: fewer chunks than _SETUP_CHUNKS
    arr[:, :] = value  # four chunks: the fast encoder
    assert _direct() - before == 4
    assert _chunk_files(root) == _expected_chunks(arr, value)
