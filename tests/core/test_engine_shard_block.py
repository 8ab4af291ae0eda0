"""Sharded reads through the whole-shard block path, and c-blosc's context decode beside numcodecs'."""

from __future__ import annotations

import os

import numcodecs
import numpy as np
import pytest

import zarrlayer
from zarrlayer.core import sharded
from zarrlayer.errors import ChunkDecodeError
from zarrlayer.format.codecs import compressors
from zarrlayer.format.codecs.blosc_fast import decompress_ctx, decompress_ptr
from zarrlayer.storage import LocalStore, MemoryStore

BLOSC = {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4, "blocksize": 0}}
CASES = [((100, 70), (8, 6), (16, 12)), ((37,), (4,), (12,)), ((9, 10, 11), (2, 3, 2), (4, 6, 4))]


def _selections(shape, chunks, shards):
    return [
        Ellipsis,
        tuple(slice(c, s - 1) for c, s in zip(chunks, shape)),
        tuple(slice(sh, min(2 * sh, s)) for sh, s in zip(shards, shape)),
        tuple(slice(1, None, 2) for _ in shape),
        (3, Ellipsis),
    ]


@pytest.fixture(params=["fast", "numcodecs"])
def blosc_path(request, monkeypatch):
    if request.param == "fast":
        if os.environ.get("ZARRLAYER_NO_FAST_BLOSC"):
            pytest.skip("ZARRLAYER_NO_FAST_BLOSC switches the context entry points off")
        assert decompress_ctx is not None, "c-blosc's context functions should load from numcodecs' extension"
    if request.param == "numcodecs":
        monkeypatch.setattr(sharded, "decompress_ctx", None)
        monkeypatch.setattr(compressors, "_decompress_ptr", None)
    return request.param


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape,chunks,shards", CASES)
@pytest.mark.parametrize("store_kind", ["local", "memory"])
def test_sharded_reads_match_numpy(tmp_path, blosc_path, threads, shape, chunks, shards, store_kind):
    store = LocalStore(str(tmp_path / "a.zarr")) if store_kind == "local" else MemoryStore()
    data = np.random.default_rng(0).integers(1, 50, shape).astype("f4")
    data[: chunks[0]] = 0  # whole inner chunks of the fill value: left out of their shards
    arr = zarrlayer.create_array(store=store, shape=shape, chunks=chunks, shards=shards, dtype="f4",
                                 compressors=[BLOSC], fill_value=0, zarr_format=3)
    arr[...] = data
    with zarrlayer.config.set({"decode_threads": threads}):
        for sel in _selections(shape, chunks, shards):
            np.testing.assert_array_equal(arr[sel], data[sel], err_msg=str(sel))


def test_block_path_decodes_every_inner_chunk_once(monkeypatch):
    calls = []
    real = sharded.fill_block
    monkeypatch.setattr(sharded, "fill_block", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    arr = zarrlayer.create_array(store=MemoryStore(), shape=(64, 64), chunks=(8, 8), shards=(32, 32), dtype="f4",
                                 compressors=[BLOSC], fill_value=0, zarr_format=3)
    data = np.arange(64 * 64, dtype="f4").reshape(64, 64)
    arr[...] = data
    np.testing.assert_array_equal(arr[...], data)
    assert sorted(calls) == [(0, 4)] * 4  # four whole shards, each one band of 4 rows of inner chunks



@pytest.mark.parametrize("damage", ["garbage", "past_end"])
def test_bad_inner_chunk_in_a_whole_shard_names_it(tmp_path, blosc_path, damage):
    store = LocalStore(str(tmp_path / "a.zarr"))
    arr = zarrlayer.create_array(store=store, shape=(32, 32), chunks=(8, 8), shards=(32, 32), dtype="f4",
                                 compressors=[BLOSC], fill_value=0, zarr_format=3)
    arr[...] = np.arange(32 * 32, dtype="f4").reshape(32, 32) + 1
    path = tmp_path / "a.zarr" / "c" / "0" / "0"
    shard = bytearray(path.read_bytes())
    index = np.frombuffer(bytes(shard[-(16 * 16 + 4) : -4]), dtype="<u8").reshape(4, 4, 2)
    offset, nbytes = (int(v) for v in index[1, 2])
    if damage == "garbage":
        shard[offset + 16 : offset + nbytes] = b"\xff" * (nbytes - 16)
    else:
        fixed = index.copy()
        fixed[1, 2, 0] = len(shard) + 10
        body = fixed.tobytes()
        import crc32c

        shard[-(16 * 16 + 4) :] = body + crc32c.crc32c(body).to_bytes(4, "little")
    path.write_bytes(bytes(shard))
    with pytest.raises(ChunkDecodeError, match=r"c/0/0.*inner chunk \(1, 2\)"):
        zarrlayer.open_array(store=store, mode="r")[...]


@pytest.mark.parametrize("dtype", ["<f4", "<i2", "<f8", "u1"])
@pytest.mark.parametrize("shuffle", [0, 1, 2])
@pytest.mark.parametrize("size", [256, 300_000])  # one block; several blocks (numcodecs path)
def test_blosc_decode_into_matches_numcodecs(dtype, shuffle, size):
    data = (np.sin(np.arange(size)) * 100).astype(dtype)
    encoded = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=shuffle, typesize=data.dtype.itemsize).encode(data)
    out = np.empty_like(data)
    compressors.blosc_decode_into(encoded, out)
    assert out.tobytes() == numcodecs.blosc.decompress(encoded)


def test_blosc_decode_into_refuses_a_header_that_does_not_fit():
    data = np.arange(256, dtype="f4")
    encoded = numcodecs.Blosc(cname="lz4").encode(data)
    with pytest.raises(ChunkDecodeError, match="expected 512 decoded bytes"):
        compressors.blosc_decode_into(encoded, np.empty(128, dtype="f4"))
    with pytest.raises(ChunkDecodeError, match="truncated"):
        compressors.blosc_decode_into(encoded[:-3], np.empty(256, dtype="f4"))


def test_local_get_into_sync_reads_into_the_buffer_or_falls_back(tmp_path):
    store = LocalStore(str(tmp_path))
    store.set_sync("a", b"x" * 100)
    buffer = bytearray(200)
    got = store.get_into_sync("a", buffer)
    assert bytes(got) == b"x" * 100 and bytes(buffer[:100]) == b"x" * 100
    assert bytes(store.get_into_sync("a", bytearray(10))) == b"x" * 100
    assert store.get_into_sync("missing", buffer) is None


@pytest.mark.parametrize("decoded", [128, 32])
def test_inner_chunk_that_decodes_to_another_size_is_refused(tmp_path, blosc_path, decoded):
    """A forged inner chunk (a bomb, or a short one) never writes outside its slot: ChunkDecodeError."""
    import crc32c

    store = LocalStore(str(tmp_path / "a.zarr"))
    arr = zarrlayer.create_array(store=store, shape=(32, 32), chunks=(8, 8), shards=(32, 32), dtype="f4",
                                 compressors=[BLOSC], fill_value=0, zarr_format=3)
    arr[...] = np.arange(32 * 32, dtype="f4").reshape(32, 32) + 1
    path = tmp_path / "a.zarr" / "c" / "0" / "0"
    shard = path.read_bytes()
    tail = 16 * 16 + 4
    index = np.frombuffer(shard[-tail:-4], dtype="<u8").reshape(4, 4, 2).copy()
    forged = numcodecs.Blosc(cname="lz4", shuffle=1, typesize=4).encode(np.ones(decoded, dtype="f4"))
    body = shard[:-tail]
    index[3, 1] = (len(body), len(forged))
    raw_index = index.tobytes()
    path.write_bytes(body + forged + raw_index + crc32c.crc32c(raw_index).to_bytes(4, "little"))
    with pytest.raises(ChunkDecodeError, match=r"inner chunk \(3, 1\).*256 decoded bytes"):
        zarrlayer.open_array(store=store, mode="r")[...]


def test_blosc_decode_to_decodes_one_block_chunks_and_declines_the_rest():
    data = (np.sin(np.arange(256)) * 100).astype("<f4")
    encoded = numcodecs.Blosc(cname="lz4", shuffle=1, typesize=4).encode(data)
    out = np.zeros_like(data)
    done = compressors.blosc_decode_to(encoded, out.ctypes.data, out.nbytes)
    assert done is (decompress_ptr is not None)
    if done:
        assert out.tobytes() == data.tobytes()
    assert compressors.blosc_decode_to(encoded, out.ctypes.data, out.nbytes - 4) is False  # size mismatch: declined
    assert compressors.blosc_decode_to(encoded[:-1], out.ctypes.data, out.nbytes) is False  # truncated: declined
