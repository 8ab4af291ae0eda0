"""c-blosc's context entry points (zarrlayer.format.codecs.blosc_fast) against numcodecs, byte for byte."""

from __future__ import annotations

import os
import threading

import numcodecs
import numpy as np
import pytest

from zarrlayer.core import sharded
from zarrlayer.core._write_encode import BloscEncoder
from zarrlayer.format.codecs import blosc_fast, compressors
from zarrlayer.format.codecs.compressors import BloscCodec

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("ZARRLAYER_NO_FAST_BLOSC")), reason="ZARRLAYER_NO_FAST_BLOSC switches the context entry points off"
)

SIZES = [4, 1024, 16384, 1 << 20]  # one block up to several blocks
SHUFFLES = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}


def _data(nbytes: int) -> np.ndarray:
    return np.round(np.sin(np.arange(nbytes // 4, dtype="f4") * 0.001) * 10, 2).astype("<f4")


def _numcodecs_encode(codec: numcodecs.Blosc, data: np.ndarray) -> bytes:
    """numcodecs' stream from a worker thread, as zarr-python encodes (its main thread may split blocks over threads)."""
    out: list[bytes] = []
    worker = threading.Thread(target=lambda: out.append(bytes(codec.encode(data))))
    worker.start()
    worker.join()
    return out[0]


def test_the_context_functions_load_from_numcodecs_extension():
    assert blosc_fast.lock_free
    assert blosc_fast.decompress_ctx is not None
    assert blosc_fast.decompress_ptr is not None


@pytest.mark.parametrize("nbytes", SIZES)
@pytest.mark.parametrize("shuffle", sorted(SHUFFLES))
@pytest.mark.parametrize("cname", ["lz4", "zstd", "blosclz"])
def test_streams_match_numcodecs_both_ways(nbytes, shuffle, cname):
    data = _data(nbytes)
    codec = numcodecs.Blosc(cname=cname, clevel=5, shuffle=SHUFFLES[shuffle], blocksize=0)
    theirs = _numcodecs_encode(codec, data)
    encoder = BloscEncoder(BloscCodec(cname=cname, clevel=5, shuffle=shuffle, typesize=4), data.nbytes)
    assert bytes(encoder(data)) == theirs  # the write path's c-blosc call (blosc_fast.compress_to)
    for source in (theirs, memoryview(bytearray(theirs))):
        out = np.zeros_like(data)
        assert blosc_fast.decompress_ptr(source, out.ctypes.data) == data.nbytes
        assert out.tobytes() == data.tobytes()
    out = np.zeros_like(data)
    assert blosc_fast.decompress_ctx(theirs, out.ctypes.data, out.nbytes, 1) == data.nbytes
    assert out.tobytes() == data.tobytes()


@pytest.mark.parametrize("start,count", [(0, 1), (100, 3), (65_530, 20), (262_143, 1)])
def test_getitem_decodes_just_the_items_asked_for(start, count):
    data = _data(1 << 20)
    encoded = bytes(numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1).encode(data))
    out = np.full(count, -1, dtype="<f4")
    assert blosc_fast.getitem(encoded, start, count, out.ctypes.data) == count * 4
    assert out.tobytes() == data[start : start + count].tobytes()


def test_corrupt_streams_raise_instead_of_returning_garbage():
    data = _data(1 << 16)
    encoded = bytes(numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1).encode(data))
    out = np.zeros_like(data)
    for corrupt in (encoded[:16] + (10**6).to_bytes(4, "little") + encoded[20:], encoded[:-200] + b"\xff" * 200):
        with pytest.raises(ValueError, match="c-blosc could not decode"):
            blosc_fast.decompress_ptr(corrupt, out.ctypes.data)
        assert blosc_fast.decompress_ctx(corrupt, out.ctypes.data, out.nbytes, 1) < 0


def test_multi_block_chunks_decode_through_the_context_call(monkeypatch):
    data = _data(1 << 20)
    encoded = bytes(numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1).encode(data))
    assert int.from_bytes(encoded[8:12], "little") < data.nbytes  # several blocks
    calls = []
    real = compressors._decompress_ptr
    monkeypatch.setattr(compressors, "_decompress_ptr", lambda *a: calls.append(1) or real(*a))
    out = np.zeros_like(data)
    compressors.blosc_decode_into(encoded, out)
    assert calls and out.tobytes() == data.tobytes()
    assert compressors.blosc_decode_to(encoded, out.ctypes.data, out.nbytes) is True


def test_sharded_block_path_uses_the_context_call(monkeypatch, tmp_path):
    import zarrlayer

    calls = []
    real = blosc_fast.decompress_ctx
    monkeypatch.setattr(sharded, "decompress_ctx", lambda *a: calls.append(1) or real(*a))
    data = _data(64 * 64 * 4).reshape(64, 64)
    blosc = {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4, "blocksize": 0}}
    arr = zarrlayer.create_array(store=str(tmp_path / "s.zarr"), shape=(64, 64), chunks=(8, 8), shards=(32, 32),
                                 dtype="f4", compressors=[blosc], zarr_format=3)
    arr[...] = data
    assert np.array_equal(zarrlayer.open_array(str(tmp_path / "s.zarr"), mode="r")[...], data)
    assert len(calls) == 64
