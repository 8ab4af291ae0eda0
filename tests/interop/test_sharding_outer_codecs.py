"""Sharding with bytes -> bytes codecs after it (`[sharding_indexed, zstd]`), both ways with zarr-python.

Per the v3 spec such codecs apply to the whole encoded shard (inner chunks and index
together), so a shard cannot be range-read: it is read whole, its outer codecs decoded
(bounded: a bomb is refused), then its index and inner chunks parsed. zarr-python's
`create_array(serializer=ShardingCodec(...))` writes exactly this (its default compressor
lands after the serializer). Each case is written by both libraries with the same options;
each reads the other's, and the stored shards are compared byte for byte.
"""

from __future__ import annotations

import json
import tracemalloc
import warnings
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr
import zarr.codecs.numcodecs as znc
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, GzipCodec, ShardingCodec, TransposeCodec, ZstdCodec

import zarrlayer
from tests.format.test_bombs import zstd_rle_frame
from zarrlayer.errors import ChunkDecodeError

SHAPE = (18, 23)  # edge shards on both axes
SHARDS = (8, 10)
INNER = (4, 5)

OUTER: dict[str, Callable[[], list[Any]]] = {
    "zstd": lambda: [ZstdCodec(level=0, checksum=False)],
    "gzip": lambda: [GzipCodec(level=5)],
    "blosc": lambda: [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")],
    "crc32c": lambda: [Crc32cCodec()],
    "zstd-crc32c": lambda: [ZstdCodec(level=3, checksum=True), Crc32cCodec()],
    "gzip-crc32c-zstd": lambda: [GzipCodec(level=1), Crc32cCodec(), ZstdCodec(level=1)],
}
LOCATIONS = ["start", "end"]


def _data() -> np.ndarray:
    data = (np.arange(np.prod(SHAPE), dtype="f4").reshape(SHAPE) % 97) * 0.5 + 1
    data[0:4, 0:5] = 0  # one inner chunk of fill: left out of its shard
    data[8:16, 10:20] = 0  # one whole shard of fill: not stored
    return data


def _peer_create(
    root: Path, outer: str, location: str, *, filters: Any = None, inner: Any = None, shape: tuple[int, ...] = SHAPE,
    inner_shape: tuple[int, ...] = INNER,
) -> zarr.Array:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.create_array(
            store=str(root), shape=shape, dtype="f4", chunks=SHARDS, fill_value=0,
            filters=filters if filters is not None else (),
            serializer=ShardingCodec(chunk_shape=inner_shape, codecs=inner or [BytesCodec()], index_location=location),
            compressors=OUTER[outer]() if outer != "none" else None,
        )


def _codecs_of(root: Path) -> list[dict[str, Any]]:
    codecs: list[dict[str, Any]] = json.loads((root / "zarr.json").read_bytes())["codecs"]
    return codecs


def _ours_create(root: Path, codecs: list[dict[str, Any]], shape: tuple[int, ...] = SHAPE) -> zarrlayer.Array:
    return zarrlayer.create(shape=shape, chunks=SHARDS, dtype="f4", fill_value=0, store=str(root), zarr_format=3, codecs=codecs)


def _peer_read(root: Path, selection: Any = Ellipsis) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(zarr.open_array(str(root), mode="r")[selection])


_DECODERS = {"zstd": numcodecs.Zstd, "crc32c": numcodecs.CRC32C, "blosc": numcodecs.Blosc}


def _canonical(blob: bytes, outer: list[str]) -> bytes:
    """`blob` itself, or, when a gzip stage is among the `outer` codecs (encode order), that stage with its
    header's modification time zeroed (numcodecs stamps the current second there)."""
    if "gzip" not in outer:
        return blob
    data = blob
    for name in reversed(outer[outer.index("gzip") + 1 :]):
        data = bytes(_DECODERS[name]().decode(data))
    return data[:4] + bytes(4) + data[8:]


def _shards(root: Path) -> dict[str, bytes]:
    """The stored shards, by key; gzip timestamps zeroed (see `_canonical`)."""
    outer = [c["name"] for c in _codecs_of(root)[1:]]
    files = sorted(p for p in (root / "c").rglob("*") if p.is_file())
    return {p.relative_to(root).as_posix(): _canonical(p.read_bytes(), outer) for p in files}


def _check_reads(array: zarrlayer.Array, expect: np.ndarray) -> None:
    np.testing.assert_array_equal(array[...], expect)
    np.testing.assert_array_equal(array[3:13, 2:17], expect[3:13, 2:17])  # windows across shards and inner chunks
    np.testing.assert_array_equal(array[9, 11:14], expect[9, 11:14])  # inside one inner chunk
    np.testing.assert_array_equal(array[17:, 20:], expect[17:, 20:])  # the corner edge shard
    np.testing.assert_array_equal(array[1:18:4, ::3], expect[1:18:4, ::3])
    np.testing.assert_array_equal(array.oindex[[17, 0, 6], [22, 1, 12]], expect[np.ix_([17, 0, 6], [22, 1, 12])])
    np.testing.assert_array_equal(array.vindex[[17, 0, 6], [22, 1, 12]], expect[[17, 0, 6], [22, 1, 12]])


@pytest.mark.parametrize("location", LOCATIONS)
@pytest.mark.parametrize("outer", list(OUTER))
def test_both_directions_and_same_shard_bytes(tmp_path: Path, outer: str, location: str) -> None:
    data = _data()
    theirs, ours = tmp_path / "zarr_python", tmp_path / "zarrlayer"
    peer = _peer_create(theirs, outer, location)
    peer[...] = data
    codecs = _codecs_of(theirs)
    assert [c["name"] for c in codecs][0] == "sharding_indexed" and len(codecs) > 1

    read = zarrlayer.open_array(str(theirs), mode="r")
    assert read.chunks == peer.chunks == SHARDS and read.shards == peer.shards is None
    _check_reads(read, data)

    mine = _ours_create(ours, codecs)
    mine[...] = data
    assert _codecs_of(ours) == codecs
    np.testing.assert_array_equal(_peer_read(ours), data)
    np.testing.assert_array_equal(_peer_read(ours, (slice(3, 13), slice(2, 17))), data[3:13, 2:17])
    stored = _shards(ours)
    assert "c/1/1" not in stored and stored == _shards(theirs)


@pytest.mark.parametrize("location", LOCATIONS)
@pytest.mark.parametrize("outer", ["zstd", "gzip-crc32c-zstd"])
def test_partial_writes_merge_through_the_outer_codecs(tmp_path: Path, outer: str, location: str) -> None:
    data = _data()
    theirs, ours = tmp_path / "zarr_python", tmp_path / "zarrlayer"
    peer = _peer_create(theirs, outer, location)
    peer[...] = data
    mine = _ours_create(ours, _codecs_of(theirs))
    mine[...] = data
    writer = zarrlayer.open_array(str(ours), mode="r+")

    expect = data.copy()
    steps: list[tuple[Any, Any]] = [
        ((slice(1, 3), slice(2, 8)), 7.5),  # inside shard (0, 0), across two inner chunks
        ((slice(6, 11), slice(8, 13)), np.arange(25, dtype="f4").reshape(5, 5) - 3),  # across four shards
        ((slice(4, 8), slice(5, 10)), 0.0),  # an inner chunk back to fill: left out of its shard
        ((slice(16, 18), slice(20, 23)), -1.0),  # the corner edge shard
        ((slice(0, 8), slice(20, 23)), 0.0),  # a whole (edge) shard of fill: deleted
    ]
    for selection, value in steps:
        writer[selection] = value
        expect[selection] = value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peer[selection] = value
        np.testing.assert_array_equal(_peer_read(ours), expect)
    _check_reads(zarrlayer.open_array(str(ours), mode="r"), expect)
    assert "c/0/2" not in _shards(ours)
    assert _shards(ours) == _shards(theirs)

    # and zarrlayer's partial write into a shard zarr-python wrote, read back by zarr-python
    zarrlayer.open_array(str(theirs), mode="r+")[2:5, 9:12] = 4.25
    expect[2:5, 9:12] = 4.25
    np.testing.assert_array_equal(_peer_read(theirs), expect)


@pytest.mark.parametrize("location", LOCATIONS)
@pytest.mark.parametrize("outer", ["none", "zstd-crc32c"])
def test_transpose_before_sharding_with_outer_codecs(tmp_path: Path, outer: str, location: str) -> None:
    data = _data()
    theirs, ours = tmp_path / "zarr_python", tmp_path / "zarrlayer"
    filters = [TransposeCodec(order=(1, 0))]
    inner = [BytesCodec(), ZstdCodec(level=1)]
    peer = _peer_create(theirs, outer, location, filters=filters, inner=inner, inner_shape=(2, 2))  # zarr-python checks it against the untransposed shard
    peer[...] = data
    read = zarrlayer.open_array(str(theirs), mode="r")
    assert read.chunks == SHARDS and read.shards is None
    _check_reads(read, data)
    mine = _ours_create(ours, _codecs_of(theirs))
    mine[...] = data
    mine[2:5, 9:12] = 4.25
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer[2:5, 9:12] = 4.25
    data[2:5, 9:12] = 4.25
    np.testing.assert_array_equal(_peer_read(ours), data)
    assert _shards(ours) == _shards(theirs)


# A shard of 8 x 10 float32 is 320 bytes, 4 inner chunks: a valid encoded shard is far below 1 MiB.
_BOMB = 256 << 20

BOMBS: dict[str, tuple[list[str], Callable[[], Any]]] = {
    "zstd-no-size": (["zstd"], lambda: zstd_rle_frame(_BOMB)),
    "zstd-declared": (["zstd"], lambda: numcodecs.Zstd(level=1).encode(np.zeros(16 << 20, dtype="u1"))),
    "gzip": (["gzip"], lambda: numcodecs.GZip(level=9).encode(np.zeros(32 << 20, dtype="u1"))),
    "gzip-crc32c": (["gzip", "crc32c"], lambda: numcodecs.CRC32C().encode(numcodecs.GZip(level=9).encode(np.zeros(32 << 20, dtype="u1")))),
    "blosc": (["blosc"], lambda: numcodecs.Blosc(cname="lz4", clevel=9).encode(np.zeros(32 << 20, dtype="u1"))),
}
_SPECS: dict[str, dict[str, Any]] = {
    "zstd": {"name": "zstd", "configuration": {"level": 0, "checksum": False}},
    "gzip": {"name": "gzip", "configuration": {"level": 5}},
    "crc32c": {"name": "crc32c"},
    "blosc": {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4, "blocksize": 0}},
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_oversize_outer_compressed_shard_is_refused(tmp_path: Path, case: str) -> None:
    names, make = BOMBS[case]
    sharding = {"name": "sharding_indexed", "configuration": {
        "chunk_shape": list(INNER), "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
        "index_location": "end"}}
    array = _ours_create(tmp_path, [sharding, *(_SPECS[n] for n in names)])
    array[...] = _data()
    key = tmp_path / "c" / "0" / "0"
    key.write_bytes(bytes(make()))
    before = key.read_bytes()

    tracemalloc.start()
    try:
        with pytest.raises(ChunkDecodeError, match=r"(?i)(decodes to more than|expected at most|bomb)") as caught:
            zarrlayer.open_array(str(tmp_path), mode="r")[0:4, 0:5]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "c/0/0" in str(caught.value)
    assert peak < 8 << 20, f"peak {peak} bytes while refusing a {len(before)}-byte bomb"

    with pytest.raises(ChunkDecodeError):
        zarrlayer.open_array(str(tmp_path), mode="r+")[1, 1] = 5.0  # a partial write decodes the shard first
    assert key.read_bytes() == before
    np.testing.assert_array_equal(zarrlayer.open_array(str(tmp_path), mode="r")[8:16, 0:10], _data()[8:16, 0:10])


def test_inner_chunks_widened_by_their_filters_are_within_the_bound(tmp_path: Path) -> None:
    """The outer decode is bounded per inner chunk by its encoded array: an int8 -> float64 inner filter is 8x the shard."""
    data = np.random.default_rng(3).integers(-100, 100, (256, 256)).astype("i1")
    theirs, ours = tmp_path / "zarr_python", tmp_path / "zarrlayer"
    widen = znc.AsType(encode_dtype="<f8", decode_dtype="|i1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = zarr.create_array(store=str(theirs), shape=data.shape, dtype="i1", chunks=data.shape, fill_value=0,
                                 serializer=ShardingCodec(chunk_shape=(64, 64), codecs=[widen, BytesCodec()]),
                                 compressors=[ZstdCodec(level=0, checksum=False)])
        peer[...] = data
    np.testing.assert_array_equal(zarrlayer.open_array(str(theirs), mode="r")[...], data)
    mine = zarrlayer.create(shape=data.shape, chunks=data.shape, dtype="i1", fill_value=0, store=str(ours),
                            zarr_format=3, codecs=_codecs_of(theirs))
    mine[...] = data
    np.testing.assert_array_equal(zarrlayer.open_array(str(ours), mode="r")[100:200, 7:70], data[100:200, 7:70])
    assert _shards(ours) == _shards(theirs)
