"""Malformed metadata, unknown or unsafe codecs, and corrupt chunks: each a clear ZarrlayerError."""

from __future__ import annotations

import copy
import json

import numcodecs
import numpy as np
import pytest

import zarrlayer.config
from zarrlayer.errors import (
    ChunkDecodeError,
    CodecError,
    MetadataError,
    NodeNotFoundError,
    UnsafeCodecError,
    UnsupportedFeatureError,
)
from zarrlayer.format import build_array_metadata, parse_node_metadata

V3 = json.loads(build_array_metadata(zarr_format=3, shape=(4, 4), chunks=(2, 2), dtype="i4").to_documents()["zarr.json"])
V2 = json.loads(build_array_metadata(zarr_format=2, shape=(4, 4), chunks=(2, 2), dtype="<i4").to_documents()[".zarray"])


def _v3(**changes):
    doc = copy.deepcopy(V3)
    doc.update(changes)
    return {"zarr.json": json.dumps(doc).encode()}


def _v2(**changes):
    doc = copy.deepcopy(V2)
    doc.update(changes)
    return {".zarray": json.dumps(doc).encode()}


@pytest.mark.parametrize(
    ("docs", "match"),
    [
        ({"zarr.json": b"{not json"}, "invalid JSON"),
        ({"zarr.json": b"[1, 2]"}, "JSON object"),
        ({"zarr.json": b"\xff\xfe"}, "invalid JSON"),
        (_v3(zarr_format=2), "zarr_format 3"),
        (_v3(node_type="table"), "node_type"),
        (_v3(shape="big"), "shape"),
        (_v3(shape=[4, -1]), "shape"),
        (_v3(shape=[4, True]), "shape"),
        (_v3(chunk_grid={"name": "regular", "configuration": {"chunk_shape": [0, 2]}}), "positive"),
        (_v3(chunk_grid={"name": "regular", "configuration": {"chunk_shape": [2]}}), "dimensions"),
        (_v3(chunk_grid={"name": "regular"}), "configuration"),
        (_v3(data_type="int128"), "unknown data_type"),
        (_v3(data_type=7), "data_type"),
        (_v3(fill_value="abc"), "fill_value"),
        (_v3(fill_value=None), "fill_value"),
        (_v3(fill_value=1.5), "fill_value"),
        (_v3(fill_value=2**40), "out of range"),
        (_v3(chunk_key_encoding={"name": "weird"}), "chunk_key_encoding"),
        (_v3(chunk_key_encoding={"name": "default", "configuration": {"separator": "-"}}), "separator"),
        (_v3(dimension_names=["x"]), "dimension_names"),
        (_v3(dimension_names=[1, 2]), "dimension_names"),
        (_v3(attributes=[1]), "attributes"),
        (_v2(shape=[4]), "dimensions"),
        (_v2(chunks=[2, 0]), "positive"),
        (_v2(dtype="int32"), "byte order"),
        (_v2(dtype="<q9"), "dtype"),
        (_v2(dtype="|O"), "object codec"),
        (_v2(dtype=[["a", "|O"], ["b", "<i4"]], fill_value=None), "object fields"),
        (_v2(dtype=[["s", [["a", "<f8"], ["o", "|O"]]]], fill_value=None), "object fields"),
        (_v2(order="K"), "order"),
        (_v2(dimension_separator="-"), "dimension_separator"),
        (_v2(fill_value="NaN"), "fill_value"),
        (_v2(filters={"id": "zlib"}), "filters"),
        (_v2(zarr_format=3), "zarr_format 2"),
        ({".zarray": json.dumps(V2).encode(), ".zgroup": b'{"zarr_format": 2}'}, "both"),
        ({".zgroup": b'{"zarr_format": 2}', ".zattrs": b"[]"}, "JSON object"),
    ],
)
def test_malformed_metadata(docs, match):
    with pytest.raises(MetadataError, match=match) as info:
        parse_node_metadata(docs, path="grp/arr")
    assert "grp/arr/" in str(info.value)


def test_missing_node():
    with pytest.raises(NodeNotFoundError):
        parse_node_metadata({}, path="x")
    with pytest.raises(NodeNotFoundError):
        parse_node_metadata({"zarr.json": None, ".zattrs": b"{}"}, path="x")


def test_must_understand_extensions():
    with pytest.raises(UnsupportedFeatureError, match="'future'"):
        parse_node_metadata(_v3(future={"name": "x"}), path="a")
    with pytest.raises(UnsupportedFeatureError, match="'future'"):
        parse_node_metadata(_v3(future={"must_understand": True}), path="a")
    with pytest.raises(UnsupportedFeatureError, match="'future'"):
        parse_node_metadata(_v3(future=3), path="a")
    meta = parse_node_metadata(_v3(future={"must_understand": False, "x": 1}), path="a")
    assert meta.to_json()["future"] == {"must_understand": False, "x": 1}
    with pytest.raises(UnsupportedFeatureError, match="storage_transformers"):
        parse_node_metadata(_v3(storage_transformers=[{"name": "t"}]), path="a")
    with pytest.raises(UnsupportedFeatureError, match="rectangular"):
        parse_node_metadata(_v3(chunk_grid={"name": "rectangular", "configuration": {}}), path="a")
    group = {"zarr_format": 3, "node_type": "group", "ext": {"must_understand": True}}
    with pytest.raises(UnsupportedFeatureError, match="'ext'"):
        parse_node_metadata({"zarr.json": json.dumps(group).encode()}, path="g")


@pytest.mark.parametrize(
    ("codecs", "error", "match"),
    [
        ([{"name": "bytes"}, {"name": "brotli9000"}], CodecError, "brotli9000"),
        ([{"name": "zstd"}], CodecError, "before any array->bytes"),
        ([{"name": "transpose", "configuration": {"order": [0, 1]}}], CodecError, "no array->bytes"),
        ([{"name": "bytes"}, {"name": "bytes"}], CodecError, "two array->bytes"),
        ([{"name": "bytes"}, {"name": "transpose", "configuration": {"order": [1, 0]}}], CodecError, "after the serializer"),
        ([{"name": "transpose", "configuration": {"order": [0, 0]}}, {"name": "bytes"}], CodecError, "permutation"),
        ([{"name": "transpose", "configuration": {"order": [0, 1, 2]}}, {"name": "bytes"}], CodecError, "axes"),
        ([{"name": "vlen-utf8"}], CodecError, "variable-length"),
        ([{"name": "bytes", "configuration": {"endian": "middle"}}], CodecError, "endian"),
        ([{"name": "bytes"}, {"name": "blosc", "configuration": {"cname": "nope"}}], CodecError, "cname"),
        ([{"name": "bytes"}, {"name": "gzip", "configuration": {"level": 42}}], CodecError, "level"),
        ([{"name": "bytes"}, {"name": "numcodecs.nonexistent"}], CodecError, "nonexistent"),
        ([{"name": "bytes"}, {"name": "numcodecs.pickle"}], UnsafeCodecError, "pickle"),
        ([{"name": "sharding_indexed", "configuration": {"chunk_shape": [3, 2], "codecs": [{"name": "bytes"}]}}], CodecError, "divide"),
        ("bytes", CodecError, "list"),
        ([], CodecError, "non-empty"),
    ],
)
def test_bad_v3_codecs(codecs, error, match):
    with pytest.raises(error, match=match) as info:
        parse_node_metadata(_v3(codecs=codecs), path="grp/arr")
    assert "grp/arr/zarr.json" in str(info.value)


def test_pickle_refused_unless_allowed():
    with pytest.raises(UnsafeCodecError, match="pickle"):
        parse_node_metadata(_v2(filters=[{"id": "pickle"}], dtype="|O"), path="p")
    with pytest.raises(UnsafeCodecError):
        parse_node_metadata(_v2(compressor={"id": "pickle"}), path="p")
    with pytest.raises(UnsafeCodecError):
        build_array_metadata(zarr_format=2, shape=(2,), chunks=(2,), dtype="i4", filters=[numcodecs.Pickle()])
    with pytest.raises(UnsafeCodecError):
        build_array_metadata(zarr_format=3, shape=(2,), chunks=(2,), dtype="i4", compressors=[numcodecs.Pickle()])
    with zarrlayer.config.override(allow_unsafe_codecs=True):
        meta = parse_node_metadata(_v2(filters=[{"id": "pickle"}], dtype="|O", fill_value=None), path="p")
        items = np.array([{"a": 1}, None, "s", 3], dtype=object).reshape(2, 2)
        np.testing.assert_array_equal(meta.codecs.decode(meta.codecs.encode(items), (2, 2)), items)


def test_unknown_v2_codec():
    with pytest.raises(CodecError, match="'nosuchcodec'") as info:
        parse_node_metadata(_v2(compressor={"id": "nosuchcodec"}), path="grp/arr")
    assert "grp/arr/.zarray" in str(info.value)
    with pytest.raises(CodecError, match="id"):
        parse_node_metadata(_v2(compressor="zlib"), path="grp/arr")


def _pipelines():
    yield "v3-zstd", build_array_metadata(zarr_format=3, shape=(8,), chunks=(8,), dtype="f8")
    yield "v3-blosc", build_array_metadata(zarr_format=3, shape=(8,), chunks=(8,), dtype="f8", compressors=numcodecs.Blosc())
    yield "v3-gzip-crc", build_array_metadata(zarr_format=3, shape=(8,), chunks=(8,), dtype="f8", compressors=[{"name": "gzip"}, {"name": "crc32c"}])
    yield "v3-raw", build_array_metadata(zarr_format=3, shape=(8,), chunks=(8,), dtype="f8", compressors=None)
    yield "v3-str", build_array_metadata(zarr_format=3, shape=(8,), chunks=(8,), dtype=str)
    yield "v3-shard", build_array_metadata(zarr_format=3, shape=(8,), chunks=(2,), shards=(8,), dtype="f8")
    yield "v2-zstd", build_array_metadata(zarr_format=2, shape=(8,), chunks=(8,), dtype="<f8")
    yield "v2-blosc", build_array_metadata(zarr_format=2, shape=(8,), chunks=(8,), dtype="<f8", compressors=numcodecs.Blosc())
    yield "v2-zlib", build_array_metadata(zarr_format=2, shape=(8,), chunks=(8,), dtype="<f8", compressors=numcodecs.Zlib())
    yield "v2-raw", build_array_metadata(zarr_format=2, shape=(8,), chunks=(8,), dtype="<f8", compressors=None)
    yield "v2-str", build_array_metadata(zarr_format=2, shape=(8,), chunks=(8,), dtype=str)


PIPELINES = dict(_pipelines())


@pytest.mark.parametrize("name", list(PIPELINES))
def test_corrupt_chunks(name):
    meta = PIPELINES[name]
    chunk = np.array([f"v{i}" for i in range(8)], dtype=object) if meta.dtype == object else np.arange(8.0) + 0.5
    good = meta.codecs.encode(chunk)
    np.testing.assert_array_equal(meta.codecs.decode(good, (8,)), chunk)
    bad_inputs = {
        "truncated": good[: len(good) // 2],
        "empty": b"",
        "garbage": bytes(range(256)) * 3,
    }
    if name in ("v3-gzip-crc", "v2-zlib"):  # codecs with a checksum notice a flipped bit
        bad_inputs["bitflip"] = good[:-6] + bytes(b ^ 0x5A for b in good[-6:])
    for label, data in bad_inputs.items():
        with pytest.raises(ChunkDecodeError):
            meta.codecs.decode(data, (8,))
        if meta.dtype != object:
            out = np.empty((8,), dtype=meta.dtype)
            try:
                ok = meta.codecs.decode_into(data, out)
            except ChunkDecodeError:
                continue
            assert not ok, f"{label}: decode_into accepted a bad chunk"
    with pytest.raises(ChunkDecodeError):
        meta.codecs.decode(good, (9,))


def test_crc32c_mismatch_message():
    meta = PIPELINES["v3-gzip-crc"]
    data = bytearray(meta.codecs.encode(np.arange(8.0)))
    data[-1] ^= 1
    with pytest.raises(ChunkDecodeError, match="checksum mismatch"):
        meta.codecs.decode(bytes(data), (8,))


def test_bad_build_options():
    with pytest.raises(MetadataError, match="chunks"):
        build_array_metadata(zarr_format=3, shape=(4,), chunks=(0,), dtype="i4")
    with pytest.raises(MetadataError, match="dimensions"):
        build_array_metadata(zarr_format=3, shape=(4,), chunks=(2, 2), dtype="i4")
    with pytest.raises(MetadataError, match="shards"):
        build_array_metadata(zarr_format=3, shape=(4,), chunks=(3,), shards=(4,), dtype="i4")
    with pytest.raises(MetadataError, match="v3"):
        build_array_metadata(zarr_format=2, shape=(4,), chunks=(2,), shards=(4,), dtype="i4")
    with pytest.raises(MetadataError, match="data type"):
        build_array_metadata(zarr_format=3, shape=(4,), chunks=(2,), dtype="not-a-dtype")
    with pytest.raises(MetadataError, match="object fields"):
        build_array_metadata(zarr_format=2, shape=(4,), chunks=(2,), dtype=[("a", "O"), ("b", "<i4")])
    with pytest.raises(MetadataError, match="fill_value|fit"):
        build_array_metadata(zarr_format=3, shape=(4,), chunks=(2,), dtype="u1", fill_value=-1)
    with pytest.raises(CodecError, match="at most one"):
        build_array_metadata(zarr_format=2, shape=(4,), chunks=(2,), dtype="i4", compressors=[numcodecs.Zlib(), numcodecs.GZip()])
    with pytest.raises(CodecError, match="not a codec"):
        build_array_metadata(zarr_format=3, shape=(4,), chunks=(2,), dtype="i4", compressors=[object()])


@pytest.mark.parametrize("name", ["v3-zstd", "v3-blosc", "v3-gzip-crc", "v3-str", "v3-shard", "v2-blosc", "v2-str"])
def test_mutated_chunks_decode_or_raise_chunk_decode_error(name):
    """Random byte changes and truncations: a (possibly wrong) value or ChunkDecodeError, never another error."""
    import random

    meta = PIPELINES[name]
    chunk = np.array([f"s{i}" * (i % 3) for i in range(8)], dtype=object) if meta.dtype == object else np.sin(np.arange(8.0))
    good = meta.codecs.encode(chunk)
    rng = random.Random(name)
    outcomes = set()
    for _ in range(150):
        data = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.25:
            data = data[: rng.randrange(len(data))]
        try:
            decoded = meta.codecs.decode(bytes(data), (8,))
            assert decoded.shape == (8,) and decoded.dtype == meta.dtype
            outcomes.add("decoded")
        except ChunkDecodeError:
            outcomes.add("refused")
    assert "refused" in outcomes
