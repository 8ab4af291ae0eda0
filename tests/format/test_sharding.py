"""sharding_indexed against shards zarr-python writes: index at start and end, missing inner chunks, nesting."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zarr.codecs import BytesCodec, Crc32cCodec, GzipCodec, ShardingCodec, TransposeCodec, ZstdCodec

from tests.format._peer import parse_peer, peer_array, peer_store, raw
from zarrlayer.errors import ChunkDecodeError
from zarrlayer.format import ShardingCodec as OurSharding
from zarrlayer.format import build_array_metadata
from zarrlayer.format.codecs.sharding import morton_order
from zarrlayer.storage._base import RangeByteRequest, SuffixByteRequest, apply_byte_request

MISSING = 2**64 - 1


def _peer_sharded(location: str, inner_codecs=None, fill=-1, data=None, shape=(8, 6), shard=(4, 6), chunk=(2, 3)):
    store, backing = peer_store()
    codec = ShardingCodec(
        chunk_shape=chunk,
        codecs=inner_codecs or [BytesCodec(), ZstdCodec()],
        index_codecs=[BytesCodec(), Crc32cCodec()],
        index_location=location,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arr = zarr.create(store=store, path="a", shape=shape, chunks=shard, dtype="i4", zarr_format=3, fill_value=fill, codecs=[codec])
        if data is not None:
            arr[...] = data
    return arr, raw(backing)


@pytest.mark.parametrize("location", ["start", "end"])
def test_read_peer_shards_with_missing_inner_chunks(location):
    data = np.arange(48, dtype="i4").reshape(8, 6)
    data[0:2, 0:3] = -1  # an inner chunk of only fill values: zarr-python leaves it out
    data[6:8, 3:6] = -1
    _, stored = _peer_sharded(location, data=data)
    meta = parse_peer(stored)
    sharding = meta.sharding
    assert isinstance(sharding, OurSharding) and sharding.index_location == location
    assert meta.chunks == (2, 3) and meta.shards == (4, 6) and meta.chunk_grid_shape == (4, 6)
    assert meta.to_documents()["zarr.json"] == stored["a/zarr.json"]
    for i in range(2):
        shard = stored[f"a/{meta.chunk_key((i, 0))}"]
        request = sharding.index_request((4, 6))
        assert isinstance(request, RangeByteRequest if location == "start" else SuffixByteRequest)
        index = sharding.decode_index(apply_byte_request(shard, request), (4, 6))
        assert index.shape == (2, 2, 2) and index.dtype == np.uint64
        np.testing.assert_array_equal(meta.codecs.decode(shard, (4, 6)), data[4 * i : 4 * i + 4])
        for coords in np.ndindex(2, 2):
            offset, nbytes = (int(v) for v in index[coords])
            region = data[4 * i + 2 * coords[0] : 4 * i + 2 * coords[0] + 2, 3 * coords[1] : 3 * coords[1] + 3]
            if offset == MISSING:
                assert nbytes == MISSING and (region == -1).all()
            else:
                np.testing.assert_array_equal(sharding.inner.decode(shard[offset : offset + nbytes], (2, 3)), region)
        assert meta.codecs.encode(data[4 * i : 4 * i + 4]) == shard


def test_missing_inner_chunks_read_as_fill_and_all_missing_shard():
    data = np.full((8, 6), -1, dtype="i4")
    data[5, 5] = 7
    _, stored = _peer_sharded("end", data=data)
    meta = parse_peer(stored)
    assert "a/c/0/0" not in stored  # a shard of fill values only is not written
    np.testing.assert_array_equal(meta.codecs.decode(stored["a/c/1/0"], (4, 6)), data[4:])
    assert meta.sharding.encode_shard({}, (4, 6)) is None
    empty = meta.codecs.encode(np.full((4, 6), -1, dtype="i4"))
    np.testing.assert_array_equal(meta.codecs.decode(empty, (4, 6)), np.full((4, 6), -1))


def test_nested_sharding_and_transpose_inside():
    inner = ShardingCodec(chunk_shape=(1, 3), codecs=[TransposeCodec(order=(1, 0)), BytesCodec(endian="big"), GzipCodec(level=1)])
    data = np.arange(48, dtype="i4").reshape(8, 6)
    _, stored = _peer_sharded("end", inner_codecs=[inner], data=data)
    meta = parse_peer(stored)
    assert isinstance(meta.sharding.inner.array_bytes, OurSharding)
    assert meta.to_documents()["zarr.json"] == stored["a/zarr.json"]
    for i in range(2):
        shard = stored[f"a/c/{i}/0"]
        np.testing.assert_array_equal(meta.codecs.decode(shard, (4, 6)), data[4 * i : 4 * i + 4])
        assert meta.codecs.encode(data[4 * i : 4 * i + 4]) == shard


def test_create_array_shards_matches_peer_bytes():
    data = np.linspace(0, 1, 10 * 9).reshape(10, 9)
    kwargs = dict(shape=(10, 9), chunks=(5, 3), shards=(10, 9), dtype="float64", fill_value=0.5)
    _, stored = peer_array(data, **kwargs)
    ours = build_array_metadata(zarr_format=3, **kwargs)
    assert ours.to_documents()["zarr.json"] == stored["a/zarr.json"]
    assert ours.codecs.encode(data) == stored["a/c/0/0"]
    assert ours.sharding.index_nbytes((10, 9)) == 6 * 16 + 4


def test_edge_shard_and_string_sharding():
    data = np.array([f"s{i}" for i in range(10)], dtype=object)
    kwargs = dict(shape=(10,), chunks=(2,), shards=(4,), dtype=str)
    _, stored = peer_array(data, **kwargs)
    meta = parse_peer(stored)
    shard = meta.codecs.decode(stored["a/c/2"], (4,))
    assert shard[:2].tolist() == ["s8", "s9"] and shard[2:].tolist() == ["", ""]


def test_corrupt_shards():
    data = np.arange(48, dtype="i4").reshape(8, 6)
    _, stored = _peer_sharded("end", data=data)
    meta = parse_peer(stored)
    shard = stored["a/c/0/0"]
    flipped = bytearray(shard)
    flipped[-10] ^= 0xFF
    with pytest.raises(ChunkDecodeError, match="crc32c"):
        meta.codecs.decode(bytes(flipped), (4, 6))
    with pytest.raises(ChunkDecodeError):
        meta.codecs.decode(shard[:20], (4, 6))
    with pytest.raises(ChunkDecodeError, match="index"):
        meta.sharding.decode_index(shard[-10:], (4, 6))
    truncated = shard[:10] + shard[-meta.sharding.index_nbytes((4, 6)) :]
    with pytest.raises(ChunkDecodeError, match="past the end"):
        meta.codecs.decode(truncated, (4, 6))


def test_morton_order_matches_peer():
    from zarr.core.indexing import morton_order_iter

    for shape in [(4, 4), (3, 5), (2, 3, 4), (1, 7), (5,)]:
        assert list(morton_order(shape)) == list(morton_order_iter(shape))


@st.composite
def _shard_cases(draw):
    ndim = draw(st.integers(1, 3))
    chunk = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    per_shard = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    present = draw(st.lists(st.booleans(), min_size=int(np.prod(per_shard)), max_size=int(np.prod(per_shard))))
    location = draw(st.sampled_from(["start", "end"]))
    compress = draw(st.booleans())
    return chunk, per_shard, present, location, compress


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_shard_cases())
def test_random_shards_roundtrip_through_peer(case):
    chunk, per_shard, present, location, compress = case
    shard = tuple(c * n for c, n in zip(chunk, per_shard))
    inner = [BytesCodec(), ZstdCodec()] if compress else [BytesCodec()]
    data = np.full(shard, -1, dtype="i4")
    for flag, coords in zip(present, np.ndindex(*per_shard)):
        if flag:
            region = tuple(slice(i * c, (i + 1) * c) for i, c in zip(coords, chunk))
            data[region] = np.arange(int(np.prod(chunk))).reshape(chunk) + 10 * sum(coords)
    peer, stored = _peer_sharded(location, inner_codecs=inner, data=data, shape=shard, shard=shard, chunk=chunk)
    meta = parse_peer(stored)
    key = "a/" + meta.chunk_key((0,) * len(shard))
    if not any(present):
        assert key not in stored
        return
    assert meta.codecs.encode(data) == stored[key]
    np.testing.assert_array_equal(meta.codecs.decode(stored[key], shard), data)
    index = meta.sharding.decode_index(apply_byte_request(stored[key], meta.sharding.index_request(shard)), shard)
    assert [bool(v) for v in (index[..., 0] != MISSING).reshape(-1)] == present
