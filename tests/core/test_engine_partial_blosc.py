"""Partial decoding of large blosc chunks (core/_partial_blosc): only the blocks a read needs, same values."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

import zarrlayer
from zarrlayer.core._partial_blosc import span_of
from zarrlayer.errors import ChunkDecodeError
from zarrlayer.format.codecs import blosc_fast

needs_context = pytest.mark.skipif(
    bool(os.environ.get("ZARRLAYER_NO_FAST_BLOSC")), reason="ZARRLAYER_NO_FAST_BLOSC switches partial decoding off"
)

BLOSC = {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4, "blocksize": 0}}


@pytest.mark.parametrize("shape", [(7,), (4, 9), (3, 5, 6)])
def test_span_is_the_c_order_range_of_the_selected_elements(shape):
    rng = np.random.default_rng(1)
    for _ in range(200):
        sel = []
        for n in shape:
            if rng.random() < 0.4:
                sel.append(int(rng.integers(0, n)))
            else:
                a, b = sorted(rng.integers(0, n + 1, 2))
                sel.append(slice(int(a), int(b) if b > a else int(a) + 1, int(rng.integers(1, 3))))
        flat = np.arange(int(np.prod(shape))).reshape(shape)[tuple(sel)]
        span = span_of(tuple(sel), shape)
        if flat.size == 0:
            continue
        assert span == (int(flat.min()), int(flat.max()) + 1), sel


def test_span_declines_what_is_not_a_basic_selection():
    assert span_of((slice(None, None, -1),), (5,)) is None
    assert span_of((np.array([1, 2]),), (5,)) is None
    assert span_of((slice(3, 3),), (5,)) is None
    assert span_of((1,), (5, 5)) is None


@pytest.fixture
def series(tmp_path):
    rng = np.random.default_rng(0)
    data = np.round(np.sin(np.arange(8 * 512 * 512, dtype="f4") * 0.001) * 10 + rng.integers(0, 100, 8 * 512 * 512) / 100, 2)
    data = data.astype("f4").reshape(8, 512, 512)
    path = str(tmp_path / "series.zarr")
    arr = zarrlayer.create_array(store=path, shape=data.shape, chunks=(1, 512, 512), dtype="f4", compressors=[BLOSC], zarr_format=3)
    arr[...] = data
    return path, data


@needs_context
@pytest.mark.parametrize("threads", [1, 2])
def test_points_and_short_runs_read_through_getitem(series, monkeypatch, threads):
    path, data = series
    calls = []
    real = blosc_fast.getitem
    monkeypatch.setattr(blosc_fast, "getitem", lambda *a: calls.append(a[1:3]) or real(*a))
    arr = zarrlayer.open_array(path, mode="r")
    selections = [(slice(None), 100, 100), (slice(None), 0, 0), (slice(None), 511, 511), (slice(2, 7), 300, slice(10, 40)),
                  (3, slice(250, 262), slice(None)), (slice(None), 255, slice(500, None))]
    with zarrlayer.config.set({"decode_threads": threads}):
        for sel in selections:
            calls.clear()
            np.testing.assert_array_equal(arr[sel], data[sel], err_msg=str(sel))
            assert calls, f"{sel} should have decoded only some blocks"
        calls.clear()
        np.testing.assert_array_equal(arr[:, ::3, 7], data[:, ::3, 7])  # spans every block: whole decode
        assert not calls


def test_a_corrupt_chunk_still_raises_chunk_decode_error(series):
    path, _ = series
    import pathlib

    chunk = pathlib.Path(path, "c", "2", "0", "0")
    raw = chunk.read_bytes()
    chunk.write_bytes(raw[:16] + (10**6).to_bytes(4, "little") + raw[20:])  # first block offset past the end
    arr = zarrlayer.open_array(path, mode="r")
    with pytest.raises(ChunkDecodeError, match="c/2/0/0"):
        arr[:, 0, 0]


def test_every_header_typesize_lands_the_span_where_the_selection_reads(tmp_path):
    for typesize, dtype in itertools.product([1, 2, 8], ["u2", "f8"]):
        blosc = {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 3, "shuffle": "bitshuffle", "typesize": typesize, "blocksize": 0}}
        data = np.arange(64 * 1024, dtype=dtype).reshape(256, 256)
        arr = zarrlayer.create_array(store=str(tmp_path / f"t{typesize}{dtype}.zarr"), shape=data.shape, chunks=data.shape,
                                     dtype=dtype, compressors=[blosc], zarr_format=3)
        arr[...] = data
        for sel in [(17, 33), (slice(3, 5), 100), (255, slice(200, None))]:
            np.testing.assert_array_equal(arr[sel], data[sel], err_msg=f"{typesize} {dtype} {sel}")


@needs_context
@pytest.mark.parametrize("threads", [1, 2])
def test_a_local_partial_read_fetches_only_the_blocks_it_decodes(series, monkeypatch, threads):
    from zarrlayer.storage.local import LocalStore

    path, data = series
    parts = []
    real = LocalStore.get_part_into_sync

    def spy(self, key, buffer, head, part_of):
        done = real(self, key, buffer, head, lambda view, size: parts.append(part_of(view, size)) or parts[-1])
        return done

    monkeypatch.setattr(LocalStore, "get_part_into_sync", spy)
    arr = zarrlayer.open_array(path, mode="r")
    with zarrlayer.config.set({"decode_threads": threads}):
        for sel in [(slice(None), 100, 100), (slice(2, 6), 400, slice(7, 9))]:
            parts.clear()
            np.testing.assert_array_equal(arr[sel], data[sel], err_msg=str(sel))
            chunks = len(range(*sel[0].indices(8)))
            assert len(parts) == chunks and all(p is not None for p in parts)
            sizes = [(Path(path) / "c" / str(i) / "0" / "0").stat().st_size for i in range(chunks)]
            assert all(hi - lo < size * 0.75 for (lo, hi), size in zip(parts, sizes))  # about half of each chunk


@needs_context
def test_a_chunk_replaced_between_reads_is_never_mixed(series, monkeypatch):
    """Header and blocks come from one descriptor: a writer's rename between them cannot tear a read."""
    import os

    from zarrlayer.storage.local import LocalStore

    path, data = series
    replacement = np.full((1, 512, 512), 5, dtype="f4")
    writer = zarrlayer.open_array(path, mode="r+")
    real = LocalStore.get_part_into_sync
    replaced = []

    def racing(self, key, buffer, head, part_of):
        def between(view, size):
            if not replaced:
                replaced.append(key)
                writer[0:1] = replacement  # atomic rename of c/0/0/0 while this read holds the old file open
            return part_of(view, size)

        return real(self, key, buffer, head, between)

    monkeypatch.setattr(LocalStore, "get_part_into_sync", racing)
    got = zarrlayer.open_array(path, mode="r")[0:1, 100, 100]
    assert replaced and got.tolist() == data[0:1, 100, 100].tolist()  # the old version, whole
    assert zarrlayer.open_array(path, mode="r")[0, 100, 100] == 5
    assert os.path.exists(os.path.join(path, "c", "0", "0", "0"))


@pytest.mark.parametrize("damage", ["truncated", "trailing bytes"])
@pytest.mark.parametrize("sel", [(0, 10, 10), (slice(None), 10, 10), (0,)])
def test_a_damaged_large_chunk_raises_for_points_as_for_whole_reads(series, damage, sel):
    path, _ = series
    chunk = Path(path, "c", "0", "0", "0")
    raw = chunk.read_bytes()
    chunk.write_bytes(raw[: int(len(raw) * 0.6)] if damage == "truncated" else raw + bytes(64))
    with pytest.raises(ChunkDecodeError, match=r"c/0/0/0.*the header says the chunk has"):
        zarrlayer.open_array(path, mode="r")[sel]
