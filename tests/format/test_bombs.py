"""Decompression bombs (issue 14.4): every decoder stops at the chunk's expected size.

The issue's inputs: a 98 KB zstd chunk without a declared content size (alone and inside a
shard) and 3 MB gzip / v2 zlib chunks, for arrays expecting 2,048 bytes per chunk. Each read
raises ChunkDecodeError; peak memory and time are measured in a fresh process.
"""

from __future__ import annotations

import bz2
import json
import lzma
import subprocess
import sys
import textwrap
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from numcodecs import LZ4, Blosc

import zarrlayer
from zarrlayer.errors import ChunkDecodeError

CHUNK = 512  # float32 items: 2,048 bytes per chunk, as in the issue
_MIB = 1 << 20


def zstd_rle_frame(total: int, byte: int = 0, block: int = 128 * 1024) -> bytes:
    """A valid zstd frame of RLE blocks decoding to `total` bytes, with no content size in its header."""
    out = bytearray(b"\x28\xb5\x2f\xfd\x00\x58")  # magic; no size, no checksum; 2 MiB window
    left = total
    while left > 0:
        size = min(block, left)
        left -= size
        out += ((1 if left == 0 else 0) | (1 << 1) | (size << 3)).to_bytes(3, "little") + bytes([byte])
    return bytes(out)


@pytest.fixture(scope="module")
def deflate_bomb() -> bytes:
    """A raw deflate stream of about 3 MB that expands to about 3 GiB of zeros."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    # a full flush resets the history, so every 64 MiB segment compresses to the same bytes
    segment = comp.compress(bytes(64 * _MIB)) + comp.flush(zlib.Z_FULL_FLUSH)
    return segment * 48 + comp.flush()


def _gzip(deflate: bytes) -> bytes:
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + deflate + bytes(8)  # trailer never reached


def _zlib(deflate: bytes) -> bytes:
    return b"\x78\xda" + deflate + bytes(4)


def _chunk_file(root: Path, fmt: int) -> Path:
    return root / ("c/0" if fmt == 3 else "0")


def _array(root: Path, fmt: int, compressor: object) -> Path:
    kwargs = {"compressors": [compressor]} if compressor is not None else {"compressors": None}
    arr = zarrlayer.create_array(store=str(root), shape=(4 * CHUNK,), chunks=(CHUNK,), dtype="f4", zarr_format=fmt, **kwargs)
    arr[:] = np.arange(4 * CHUNK, dtype="f4")
    return root


def _read_in_child(root: Path, selection: str = "[:]") -> dict:
    """Read in a fresh process: the error, RSS growth and peak (MiB) and the seconds the read took."""
    code = textwrap.dedent(
        f"""
        import json, resource, time, psutil
        import zarrlayer
        proc = psutil.Process()
        arr = zarrlayer.open_array({str(root)!r}, mode="r")
        base = max(proc.memory_info().rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        t0 = time.perf_counter()
        try:
            arr{selection}
            error = None
        except Exception as exc:
            error = type(exc).__name__ + ": " + str(exc)
        took = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({{"error": error, "growth_mib": (peak - base) / 2**20, "peak_mib": peak / 2**20, "seconds": took}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _assert_bounded(result: dict) -> None:
    assert result["error"] is not None and result["error"].startswith("ChunkDecodeError"), result
    assert "chunk key" in result["error"] and ("bomb" in result["error"] or "expected" in result["error"]), result
    assert result["growth_mib"] < 32, result  # the unbounded decoders reached 3 to 4 GiB
    assert result["seconds"] < 5, result


def test_zstd_without_content_size_is_bounded(tmp_path: Path) -> None:
    root = _array(tmp_path / "a.zarr", 3, {"name": "zstd", "configuration": {"level": 1}})
    bomb = zstd_rle_frame(3 << 30)
    assert 90_000 < len(bomb) < 110_000  # the 98 KB chunk
    _chunk_file(root, 3).write_bytes(bomb)
    _assert_bounded(_read_in_child(root))


def test_gzip_bomb_is_bounded(tmp_path: Path, deflate_bomb: bytes) -> None:
    root = _array(tmp_path / "a.zarr", 3, {"name": "gzip", "configuration": {"level": 5}})
    _chunk_file(root, 3).write_bytes(_gzip(deflate_bomb))
    assert 2.5e6 < len(_gzip(deflate_bomb)) < 3.6e6
    _assert_bounded(_read_in_child(root))


def test_v2_zlib_bomb_is_bounded(tmp_path: Path, deflate_bomb: bytes) -> None:
    root = _array(tmp_path / "a.zarr", 2, {"id": "zlib", "level": 1})
    _chunk_file(root, 2).write_bytes(_zlib(deflate_bomb))
    _assert_bounded(_read_in_child(root))


def _inner_bomb_shard(tmp_path: Path, bomb: bytes) -> Path:
    root = tmp_path / "s.zarr"
    arr = zarrlayer.create_array(
        store=str(root), shape=(4 * CHUNK,), chunks=(CHUNK,), shards=(4 * CHUNK,), dtype="f4",
        compressors=[{"name": "zstd", "configuration": {"level": 1}}],
    )
    arr[:] = np.arange(4 * CHUNK, dtype="f4")
    sharding = arr.metadata.codecs.array_bytes
    good = sharding.inner.encode(np.ones(CHUNK, dtype="f4"))
    shard = sharding.encode_shard({(0,): good, (1,): bomb, (2,): good, (3,): good}, (4 * CHUNK,))
    (root / "c/0").write_bytes(shard)
    return root


def test_zstd_bomb_inside_a_shard_is_bounded(tmp_path: Path) -> None:
    root = _inner_bomb_shard(tmp_path, zstd_rle_frame(3 << 30))
    _assert_bounded(_read_in_child(root))
    _assert_bounded(_read_in_child(root, f"[{CHUNK}:{CHUNK + 10}]"))  # a partial inner chunk: the scratch path


@pytest.mark.parametrize(
    ("fmt", "codec", "make"),
    [
        (3, {"name": "gzip", "configuration": {"level": 1}}, lambda n: zlib.compress(bytes(n), wbits=31)),
        (3, {"name": "zstd", "configuration": {"level": 1}}, zstd_rle_frame),
        (3, {"name": "numcodecs.zlib", "configuration": {"level": 1}}, lambda n: zlib.compress(bytes(n))),
        (3, {"name": "numcodecs.bz2", "configuration": {"level": 1}}, lambda n: _streams(bz2.compress, n)),
        (3, {"name": "numcodecs.lzma", "configuration": {}}, lambda n: _streams(lzma.compress, n)),
        (3, {"name": "numcodecs.lz4", "configuration": {}}, lambda n: LZ4().encode(bytes(n))),
        (3, {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4}}, lambda n: Blosc().encode(bytes(n))),
        (2, {"id": "zlib", "level": 1}, lambda n: zlib.compress(bytes(n))),
        (2, {"id": "gzip", "level": 1}, lambda n: zlib.compress(bytes(n), wbits=31)),
        (2, {"id": "bz2", "level": 1}, lambda n: _streams(bz2.compress, n)),
        (2, {"id": "lzma"}, lambda n: _streams(lzma.compress, n)),
        (2, {"id": "lz4"}, lambda n: LZ4().encode(bytes(n))),
        (2, {"id": "zstd", "level": 1}, zstd_rle_frame),
        (2, {"id": "blosc", "cname": "lz4"}, lambda n: Blosc().encode(bytes(n))),
    ],
    ids=lambda v: (v.get("name") or v.get("id")) if isinstance(v, dict) else None,
)
def test_every_decoder_stops_at_the_chunk_size(tmp_path: Path, fmt: int, codec: dict, make) -> None:
    """One byte over the chunk size is refused; exactly the chunk size (however encoded) reads."""
    if fmt == 3 and codec["name"].startswith("numcodecs."):
        pytest.importorskip("zarrlayer.format.codecs.registry")
    root = _array(tmp_path / "a.zarr", fmt, codec)
    path = _chunk_file(root, fmt)
    path.write_bytes(make(4 * CHUNK + 1))
    arr = zarrlayer.open_array(str(root), mode="r")
    with pytest.raises(ChunkDecodeError, match="chunk key"):
        arr[:]
    with pytest.raises(ChunkDecodeError):
        arr[3:5]
    path.write_bytes(_big(make))  # 64 MiB of zeros: refused before that much is allocated
    tracemalloc.start()
    try:
        with pytest.raises(ChunkDecodeError, match="chunk key"):
            arr[:]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12 * _MIB, f"decoding a bomb allocated {peak / _MIB:.1f} MiB"  # lzma's 8 MiB dictionary fits
    path.write_bytes(make(4 * CHUNK))  # a foreign encoder's valid chunk of the right size (zeros)
    expected = np.arange(4 * CHUNK, dtype="f4")
    expected[:CHUNK] = 0
    np.testing.assert_array_equal(zarrlayer.open_array(str(root), mode="r")[:], expected)


def _streams(compress, n: int) -> bytes:
    """`compress(bytes(n))`; past 4 MiB as concatenated 4 MiB streams (valid, and quick to make)."""
    block = 4 * _MIB
    if n <= block:
        return compress(bytes(n))
    return compress(bytes(block)) * (n // block) + (compress(bytes(n % block)) if n % block else b"")


_BIG: dict[object, bytes] = {}


def _big(make) -> bytes:
    """`make(64 MiB)`, encoded once per encoder for the whole module."""
    if make not in _BIG:
        _BIG[make] = make(64 * _MIB)
    return _BIG[make]


def test_zstd_frame_without_size_decodes_exactly(tmp_path: Path) -> None:
    """Frames that do not declare their size (written by streaming encoders) still read, short ones fail."""
    root = _array(tmp_path / "a.zarr", 3, {"name": "zstd", "configuration": {"level": 1}})
    path = _chunk_file(root, 3)
    path.write_bytes(zstd_rle_frame(4 * CHUNK, byte=0))
    assert zarrlayer.open_array(str(root), mode="r")[:CHUNK].tolist() == [0.0] * CHUNK
    path.write_bytes(zstd_rle_frame(4 * CHUNK - 4))
    with pytest.raises(ChunkDecodeError):
        zarrlayer.open_array(str(root), mode="r")[:]
