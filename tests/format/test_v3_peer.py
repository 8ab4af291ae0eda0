"""v3 metadata and chunks against what zarr-python 3.1 writes: parse, rebuild, decode, encode."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, GzipCodec, TransposeCodec, ZstdCodec
import zarr.codecs.numcodecs as znc

from tests.format._peer import main_doc, node_docs, parse_peer, peer_array
from zarrlayer.errors import MetadataError
from zarrlayer.format import ArrayV3Metadata, build_array_metadata

DTYPE_CASES = [
    ("bool", True, np.array([True, False, True, True, False, False])),
    ("int8", -5, np.arange(-3, 3, dtype="i1")),
    ("int16", 7, np.arange(6, dtype="i2") * -300),
    ("int32", -(2**31), np.arange(6, dtype="i4") * 70000),
    ("int64", 2**62, np.arange(6, dtype="i8") * 2**40),
    ("uint8", 255, np.arange(6, dtype="u1")),
    ("uint16", 9, np.arange(6, dtype="u2") * 1000),
    ("uint32", 2**32 - 1, np.arange(6, dtype="u4")),
    ("uint64", 2**64 - 1, np.arange(6, dtype="u8") * 2**60),
    ("float16", np.inf, np.linspace(-1, 1, 6).astype("f2")),
    ("float32", -np.inf, np.linspace(-1, 1, 6).astype("f4")),
    ("float64", np.nan, np.array([0.5, np.nan, -0.0, 1e300, -np.inf, 3.0])),
    ("float64", 1.25, np.arange(6.0)),
    ("complex64", 1 + 2j, (np.arange(6) + 1j * np.arange(6)).astype("c8")),
    ("complex128", complex(np.nan, -1), np.array([1j, np.nan, 3, 4 + 4j, 5, 6], dtype="c16")),
    ("str", "fill", np.array(["a", "", "ünïcode", "fill", "xyz" * 20, "b"], dtype=object)),
    ("bytes", b"\x00z", np.array([b"a", b"", b"\xff\x00", b"z", b"long" * 10, b"q"], dtype=object)),
    ("M8[ns]", None, np.array([0, 1, 2, 3, 4, 5], dtype="M8[ns]")),
    ("m8[s]", 5, np.arange(6).astype("m8[s]")),
    ("S3", b"ab", np.array([b"abc", b"", b"x", b"yz", b"q", b"ab"], dtype="S3")),
    ("U4", "hé", np.array(["abcd", "", "é", "hé", "q", "z"], dtype="U4")),
]


@pytest.mark.parametrize(("dtype", "fill", "data"), DTYPE_CASES, ids=[f"{c[0]}-{c[1]!r}" for c in DTYPE_CASES])
def test_dtype_fill_roundtrip(dtype, fill, data):
    kwargs = dict(shape=(6,), chunks=(4,), dtype=dtype, fill_value=fill)
    peer, stored = peer_array(data, **kwargs)
    meta = parse_peer(stored)
    assert isinstance(meta, ArrayV3Metadata)
    assert meta.to_documents()["zarr.json"] == stored["a/zarr.json"]
    built = build_array_metadata(zarr_format=3, **kwargs)
    assert built.to_documents()["zarr.json"] == stored["a/zarr.json"]
    peer_fill = peer.fill_value
    if isinstance(peer_fill, (str, bytes)):
        assert type(meta.fill_value) is type(peer_fill) and meta.fill_value == peer_fill
    else:
        assert np.asarray(meta.fill_value).dtype == np.asarray(peer_fill).dtype
        np.testing.assert_array_equal(np.asarray(meta.fill_value), np.asarray(peer_fill))
    expected = peer[...]
    for i in range(2):
        chunk = meta.codecs.decode(stored[f"a/{meta.chunk_key((i,))}"], (4,))
        assert chunk.dtype == meta.dtype and chunk.shape == (4,)
        n = min(4, 6 - 4 * i)
        assert list(chunk[:n]) == list(expected[4 * i : 4 * i + n]) or np.array_equal(chunk[:n], expected[4 * i : 4 * i + n], equal_nan=True)
    again = meta.codecs.decode(meta.codecs.encode(chunk), (4,))
    np.testing.assert_array_equal(again, chunk)


CODEC_CASES = {
    "default": {},
    "none": dict(compressors=None),
    "blosc-default": dict(compressors=BloscCodec()),
    "blosc-lz4-bitshuffle": dict(compressors=BloscCodec(cname="lz4", clevel=3, shuffle="bitshuffle")),
    "blosc-noshuffle": dict(compressors=BloscCodec(cname="zlib", shuffle="noshuffle", blocksize=256)),
    "gzip+crc32c": dict(compressors=[GzipCodec(level=3), Crc32cCodec()]),
    "zstd-checksum": dict(compressors=ZstdCodec(level=5, checksum=True)),
    "big-endian": dict(serializer=BytesCodec(endian="big")),
    "transpose": dict(filters=[TransposeCodec(order=(1, 0))]),
    "numcodecs-delta-zlib": dict(filters=[znc.Delta(dtype="<i4")], compressors=[znc.Zlib(level=2)]),
    "numcodecs-lz4-crc32": dict(compressors=[znc.LZ4(), znc.CRC32()]),
    "key-dot": dict(chunk_key_encoding={"name": "default", "separator": "."}),
    "key-v2": dict(chunk_key_encoding={"name": "v2", "separator": "."}),
    "key-v2-slash": dict(chunk_key_encoding={"name": "v2", "separator": "/"}),
    "dimension-names": dict(dimension_names=["y", None], attributes={"units": "m", "nested": {"a": [1, 2]}}),
}


@pytest.mark.parametrize("case", list(CODEC_CASES))
def test_codecs_roundtrip(case):
    data = np.arange(7 * 5, dtype="i4").reshape(7, 5) * 1009
    kwargs = dict(shape=(7, 5), chunks=(3, 2), dtype="int32", **CODEC_CASES[case])
    peer, stored = peer_array(data, **kwargs)
    meta = parse_peer(stored)
    assert meta.to_documents()["zarr.json"] == stored["a/zarr.json"]
    assert parse_peer({"a/zarr.json": meta.to_documents()["zarr.json"]}) == meta
    _check_chunks(meta, stored, data)


def _check_chunks(meta, stored, data):
    """Every chunk zarr-python stored decodes (both ways) to the array's values, and re-encodes to the same values."""
    grid = [math.ceil(s / c) for s, c in zip(meta.shape, meta.chunk_grid_shape)]
    for coords in itertools.product(*map(range, grid)):
        key = f"a/{meta.chunk_key(coords)}"
        assert key in stored, key
        region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, meta.chunk_grid_shape, meta.shape))
        inner = tuple(slice(0, r.stop - r.start) for r in region)
        chunk = meta.codecs.decode(stored[key], meta.chunk_grid_shape)
        np.testing.assert_array_equal(chunk[inner], data[region])
        out = np.empty(meta.chunk_grid_shape, dtype=meta.dtype)
        if meta.codecs.decode_into(stored[key], out):
            np.testing.assert_array_equal(out, chunk)
        np.testing.assert_array_equal(meta.codecs.decode(meta.codecs.encode(chunk), meta.chunk_grid_shape), chunk)


def test_encoded_chunks_equal_peer_bytes():
    data = np.arange(100, dtype="f8").reshape(10, 10)
    for kwargs in ({}, dict(compressors=BloscCodec()), dict(compressors=None), dict(compressors=[GzipCodec(), Crc32cCodec()])):
        peer, stored = peer_array(data, shape=(10, 10), chunks=(5, 5), dtype="float64", **kwargs)
        meta = parse_peer(stored)
        assert meta.codecs.encode(data[:5, 5:]) == stored["a/c/0/1"]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(compressors=None),
        dict(compressors=[BloscCodec(cname="lz4")]),
        dict(compressors=[znc.Zlib(level=1)]),
        dict(serializer=BytesCodec(endian="big")),
        dict(filters=[TransposeCodec(order=(1, 0))]),
        dict(chunk_key_encoding={"name": "v2", "separator": "/"}),
        dict(fill_value=-1.5, dimension_names=["x", "y"], attributes={"a": 1}),
        dict(shards=(6, 4)),
        dict(shards=(6, 4), compressors=None, dtype="uint8"),
        dict(dtype=str, shards=(6, 2)),
        dict(dtype="bytes"),
        dict(dtype="bool", compressors=BloscCodec()),
        dict(dtype="S4", fill_value=b"ab"),
        dict(dtype="<M8[s]", compressors=GzipCodec(level=9)),
    ],
)
def test_build_matches_peer(kwargs):
    kwargs = dict(kwargs)
    common = dict(shape=(6, 4), chunks=(3, 2), dtype=kwargs.pop("dtype", "float32"))
    _, stored = peer_array(None, **common, **kwargs)
    ours = build_array_metadata(zarr_format=3, **common, **kwargs)
    assert ours.to_json() == main_doc(stored)
    assert ours.to_documents()["zarr.json"] == stored["a/zarr.json"]


def test_numcodecs_objects_map_to_v3_names():
    import numcodecs

    meta = build_array_metadata(zarr_format=3, shape=(4,), chunks=(2,), dtype="i2", compressors=[numcodecs.Blosc(cname="lz4"), numcodecs.Zstd(level=1), numcodecs.GZip(2), numcodecs.CRC32C()])
    names = [c["name"] for c in meta.to_json()["codecs"]]
    assert names == ["bytes", "blosc", "zstd", "gzip", "crc32c"]
    assert meta.to_json()["codecs"][1]["configuration"] == {"typesize": 2, "cname": "lz4", "clevel": 5, "shuffle": "shuffle", "blocksize": 0}
    data = np.arange(2, dtype="i2")
    np.testing.assert_array_equal(meta.codecs.decode(meta.codecs.encode(data), (2,)), data)


def test_zero_dim_array():
    _, stored = peer_array(np.array(42, dtype="u2"), shape=(), chunks=(), dtype="uint16")
    meta = parse_peer(stored)
    assert meta.chunk_key(()) == "c" and "a/c" in stored
    assert meta.codecs.decode(stored["a/c"], ())[()] == 42
    assert meta.to_documents() == node_docs(stored)
    v2key = build_array_metadata(zarr_format=3, shape=(), chunks=(), dtype="u2", chunk_key_encoding={"name": "v2"})
    assert v2key.chunk_key(()) == "0"


def test_evolve_keeps_codecs_and_changes_json():
    meta = build_array_metadata(zarr_format=3, shape=(4, 4), chunks=(2, 2), dtype="i4", attributes={"a": 1})
    bigger = meta.evolve(shape=(8, 4), attributes={"b": 2})
    assert bigger.shape == (8, 4) and bigger.attributes == {"b": 2} and meta.shape == (4, 4)
    assert bigger.to_json()["shape"] == [8, 4] and bigger.codecs is meta.codecs


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_evolve_refuses_bad_changes_and_keeps_the_original(zarr_format):
    meta = build_array_metadata(zarr_format=zarr_format, shape=(4, 4), chunks=(2, 2), dtype="<i4", attributes={"a": 1})
    with pytest.raises(MetadataError, match="2 dimensions"):
        meta.evolve(shape=(8,))
    with pytest.raises(MetadataError, match="non-negative"):
        meta.evolve(shape=(8, -1))
    with pytest.raises(MetadataError, match="attributes"):
        meta.evolve(attributes=[1])
    with pytest.raises(TypeError, match="dtype"):
        meta.evolve(dtype="f8")
    assert meta.shape == (4, 4) and meta.attributes == {"a": 1}
    names = meta.evolve(dimension_names=("y", "x")) if zarr_format == 3 else None
    assert names is None or names.dimension_names == ("y", "x")
    if zarr_format == 2:
        with pytest.raises(TypeError, match="dimension_names"):
            meta.evolve(dimension_names=("y", "x"))


@pytest.mark.parametrize(
    ("dtype", "filters", "data"),
    [
        ("float64", [znc.FixedScaleOffset(offset=1, scale=10, dtype="<f8", astype="|u1")], np.linspace(1, 10, 12)),
        ("float64", [znc.Quantize(digits=2, dtype="<f8")], np.linspace(0, 1, 12)),
        ("float32", [znc.BitRound(keepbits=6)], np.linspace(0, 1, 12, dtype="f4")),
        ("float64", [znc.AsType(encode_dtype="<f4", decode_dtype="<f8")], np.linspace(0, 1, 12)),
        ("bool", [znc.PackBits()], np.arange(12) % 3 == 0),
    ],
    ids=["fixedscaleoffset", "quantize", "bitround", "astype", "packbits"],
)
def test_numcodecs_array_filters(dtype, filters, data):
    peer, stored = peer_array(data, shape=(12,), chunks=(12,), dtype=dtype, filters=filters)
    meta = parse_peer(stored)
    assert meta.to_documents()["zarr.json"] == stored["a/zarr.json"]
    decoded = meta.codecs.decode(stored["a/c/0"], (12,))
    np.testing.assert_array_equal(decoded, peer[...])
    assert meta.codecs.encode(decoded) == stored["a/c/0"]


def test_alike_documents_share_parsed_structure_but_not_what_differs() -> None:
    """The structure memo of parse_array_v3 reuses codecs yet keeps each document's own values."""
    import json as _json

    from zarrlayer.errors import MetadataError
    from zarrlayer.format import parse_node_metadata

    base = {
        "zarr_format": 3, "node_type": "array", "shape": [4], "data_type": "float32",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0.0, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "attributes": {"a": 1},
    }

    def parse(**changes):
        return parse_node_metadata({"zarr.json": _json.dumps({**base, **changes}).encode()}, path="p")

    first, second = parse(), parse(attributes={"b": 2}, dimension_names=["x"])
    assert first.codecs is second.codecs
    assert (first.attributes, second.attributes) == ({"a": 1}, {"b": 2})
    assert (first.dimension_names, second.dimension_names) == (None, ("x",))
    negative = parse(fill_value=-0.0).fill_value
    assert np.signbit(negative) and not np.signbit(first.fill_value)
    assert parse(fill_value="NaN").fill_value != parse(fill_value="NaN").fill_value  # NaN, not a cached 0
    assert parse(shape=[1]).shape == (1,)
    with pytest.raises(MetadataError):
        parse(shape=[True])  # equal to [1] as a key, still refused
    with pytest.raises(MetadataError):
        parse(dimension_names=["x", "y"])  # checked per document, against the shared shape
