"""libzstd's context decode (zarrlayer.format.codecs.zstd_fast) against numcodecs, byte for byte."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numcodecs
import numpy as np
import pytest

import zarrlayer
from zarrlayer.errors import ChunkDecodeError
from zarrlayer.format.codecs import compressors, zstd_fast
from zarrlayer.format.codecs.compressors import ZstdCodec


pytestmark = pytest.mark.skipif(
    bool(os.environ.get("ZARRLAYER_NO_FAST_ZSTD")), reason="ZARRLAYER_NO_FAST_ZSTD switches the context decoder off"
)


def _data(n: int, seed: int = 0) -> np.ndarray:
    return np.round(np.random.default_rng(seed).normal(size=n), 2).astype("<f4")


def test_the_context_decoder_loads_from_numcodecs_extension():
    assert zstd_fast.decompress_into is not None


@pytest.mark.parametrize("n", [1, 1000, 1 << 20])
@pytest.mark.parametrize("level,checksum", [(0, False), (1, True), (9, False), (-3, False)])
def test_decodes_numcodecs_frames_bit_for_bit(n, level, checksum):
    data = _data(n)
    frame = bytes(numcodecs.Zstd(level=level, checksum=checksum).encode(data))
    for source in (frame, memoryview(bytearray(frame))):
        out = np.full_like(data, np.nan)
        ZstdCodec(level=level, checksum=checksum).decode_into(source, out)
        assert out.tobytes() == data.tobytes()


def test_bad_frames_raise_chunk_decode_error_and_never_write_past_out():
    data = _data(4096)
    frame = bytes(numcodecs.Zstd().encode(data))
    out = np.zeros(len(data) + 16, dtype="<f4")
    with pytest.raises(ChunkDecodeError, match="zstd"):
        ZstdCodec().decode_into(frame[:-50], out[: len(data)])
    with pytest.raises(ChunkDecodeError, match="expected 16380 decoded bytes"):
        ZstdCodec().decode_into(frame, out[: len(data) - 1])
    assert not out[len(data) :].any()
    with pytest.raises(ValueError, match="libzstd could not decode"):
        zstd_fast.decompress_into(frame[:-50], out[: len(data)])


def test_threads_decode_side_by_side_with_their_own_contexts():
    frames = [(bytes(numcodecs.Zstd().encode(_data(50_000, seed))), _data(50_000, seed)) for seed in range(8)]

    def one(item):
        frame, data = item
        out = np.empty_like(data)
        for _ in range(20):
            zstd_fast.decompress_into(frame, out)
        return out.tobytes() == data.tobytes()

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(one, frames * 4))


@pytest.mark.parametrize("zarr_format,chunks,codec,reads", [
    (3, (32, 32), {"name": "zstd", "configuration": {"level": 0, "checksum": False}}, 4),
    (2, (32, 64), {"id": "zstd", "level": 1}, 2),
])
def test_array_reads_take_the_context_path(tmp_path, monkeypatch, zarr_format, chunks, codec, reads):
    calls = []
    real = compressors._zstd_into
    monkeypatch.setattr(compressors, "_zstd_into", lambda *a: calls.append(1) or real(*a))
    data = _data(64 * 64).reshape(64, 64)
    path = str(tmp_path / "z.zarr")
    arr = zarrlayer.create_array(store=path, shape=data.shape, chunks=chunks, dtype="f4", compressors=[codec], zarr_format=zarr_format)
    arr[...] = data
    np.testing.assert_array_equal(zarrlayer.open_array(path, mode="r")[...], data)
    assert len(calls) == reads
