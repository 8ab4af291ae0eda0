"""Large chunks of a local store are read into a per-thread reused buffer: same values, every codec, both formats."""

from __future__ import annotations

import numpy as np
import pytest

import zarrlayer
from zarrlayer.core import engine

CODECS = {
    "blosc": [{"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 8, "blocksize": 0}}],
    "zstd": [{"name": "zstd", "configuration": {"level": 1, "checksum": False}}],
    "none": [],
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_large_chunks_read_through_the_reused_buffer(tmp_path, monkeypatch, threads, codec, zarr_format):
    data = np.random.default_rng(3).normal(size=(6, 256, 256))
    compressors = CODECS[codec] if zarr_format == 3 else ([{"id": "zstd", "level": 1}] if codec != "none" else None)
    arr = zarrlayer.create_array(store=str(tmp_path / "a.zarr"), shape=data.shape, chunks=(1, 256, 256), dtype="f8",
                                 compressors=compressors, zarr_format=zarr_format)
    arr[...] = data
    arr[4] = 0  # a chunk of the fill value: not stored, read as fill
    data[4] = 0
    calls = []
    real = engine.fetch_whole_reused
    monkeypatch.setattr(engine, "fetch_whole_reused", lambda *a: calls.append(a[1]) or real(*a))
    monkeypatch.setattr(engine, "ranged_decoder", lambda *a: None)  # partial reads of blosc chunks: tested apart
    reader = zarrlayer.open_array(str(tmp_path / "a.zarr"), mode="r")
    with zarrlayer.config.set({"decode_threads": threads}):
        for sel, chunks in [(Ellipsis, 6), ((slice(None), 7, slice(3, 200)), 6), ((slice(1, 5), slice(None, None, 5)), 4)]:
            calls.clear()
            np.testing.assert_array_equal(reader[sel], data[sel], err_msg=str(sel))
            assert len(calls) == chunks
