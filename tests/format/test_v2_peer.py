"""v2 metadata and chunks against what zarr-python 3.1 writes (`zarr_format=2`)."""

from __future__ import annotations

import base64
import itertools
import json

import numcodecs
import numpy as np
import pytest

from tests.format._peer import gzip_mtime_zeroed, main_doc, parse_peer, peer_array
from zarrlayer.format import ArrayV2Metadata, build_array_metadata, parse_node_metadata

DTYPE_CASES = [
    ("<i4", None, np.arange(6, dtype="<i4") * -7),
    (">i4", 3, np.arange(6, dtype=">i4") * 100000),
    (">f8", np.nan, np.array([1.5, np.nan, -np.inf, 0, 2, 3], dtype=">f8")),
    ("<f4", -np.inf, np.linspace(0, 1, 6, dtype="<f4")),
    ("|b1", True, np.array([True, False] * 3)),
    ("|u1", 7, np.arange(6, dtype="u1")),
    ("<u8", 2**64 - 1, np.arange(6, dtype="<u8")),
    ("<c16", 1 - 1j, np.arange(6) * (1 + 1j)),
    ("<M8[ns]", None, np.arange(6).astype("M8[ns]")),
    ("<m8[s]", 4, np.arange(6).astype("m8[s]")),
    ("|S5", b"xy", np.array([b"abcde", b"", b"q", b"xy", b"z", b"zz"], dtype="S5")),
    ("<U3", "ab", np.array(["abc", "", "é", "ab", "z", "q"], dtype="<U3")),
    ("|V4", None, np.frombuffer(bytes(range(24)), dtype="V4")),
    (str, None, np.array(["a", "bb", "", "ccc", "é", "f"], dtype=object)),
    (str, "zz", np.array(["a", "bb", "", "ccc", "é", "f"], dtype=object)),
]


@pytest.mark.parametrize(("dtype", "fill", "data"), DTYPE_CASES, ids=[f"{c[0]}-{c[1]!r}" for c in DTYPE_CASES])
def test_dtype_fill_roundtrip(dtype, fill, data):
    kwargs = dict(shape=(6,), chunks=(4,), dtype=dtype, zarr_format=2)
    if fill is not None:
        kwargs["fill_value"] = fill
    peer, stored = peer_array(data, **kwargs)
    meta = parse_peer(stored)
    assert isinstance(meta, ArrayV2Metadata)
    assert meta.dtype == peer.dtype if not isinstance(peer.dtype, np.dtypes.StringDType) else meta.dtype == object
    assert meta.to_documents()[".zarray"] == stored["a/.zarray"]
    built = build_array_metadata(**kwargs)
    assert built.to_documents()[".zarray"] == stored["a/.zarray"]
    expected = peer[...]
    for i in range(2):
        chunk = meta.codecs.decode(stored[f"a/{i}"], (4,))
        n = min(4, 6 - 4 * i)
        assert chunk.dtype == meta.dtype
        want = expected[4 * i : 4 * i + n]
        if chunk.dtype == object:
            assert chunk[:n].tolist() == want.tolist()
        else:
            np.testing.assert_array_equal(chunk[:n], want)
            assert meta.codecs.encode(chunk) == stored[f"a/{i}"]


CODEC_CASES = {
    "default": {},
    "none": dict(compressors=None),
    "blosc": dict(compressors=numcodecs.Blosc(cname="lz4", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE)),
    "zstd-checksum": dict(compressors=numcodecs.Zstd(level=3, checksum=True)),
    "gzip": dict(compressors=numcodecs.GZip(5)),
    "zlib": dict(compressors=numcodecs.Zlib(1)),
    "delta-filter": dict(filters=[numcodecs.Delta(dtype="<i4")], compressors=numcodecs.LZ4()),
    "fixedscaleoffset": dict(filters=[numcodecs.Delta(dtype="<i4"), numcodecs.Shuffle(elementsize=4)]),
    "order-F": dict(order="F"),
    "order-F-none": dict(order="F", compressors=None),
    "order-F-filter": dict(order="F", filters=[numcodecs.Delta(dtype="<i4")]),
    "slash": dict(chunk_key_encoding={"name": "v2", "separator": "/"}),
    "attrs": dict(attributes={"x": [1, 2], "y": "z"}),
}


@pytest.mark.parametrize("case", list(CODEC_CASES))
def test_codecs_roundtrip(case):
    data = np.arange(7 * 5, dtype="<i4").reshape(7, 5) * 1013
    kwargs = dict(shape=(7, 5), chunks=(3, 2), dtype="<i4", zarr_format=2, **CODEC_CASES[case])
    peer, stored = peer_array(data, **kwargs)
    meta = parse_peer(stored)
    docs = meta.to_documents()
    assert docs[".zarray"] == stored["a/.zarray"] and docs[".zattrs"] == stored["a/.zattrs"]
    assert build_array_metadata(**kwargs).to_documents() == docs
    sep = json.loads(stored["a/.zarray"])["dimension_separator"]
    for coords in itertools.product(range(3), range(3)):
        key = "a/" + sep.join(map(str, coords))
        assert meta.chunk_key(coords) == key[2:]
        chunk = meta.codecs.decode(stored[key], (3, 2))
        region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, (3, 2), (7, 5)))
        np.testing.assert_array_equal(chunk[: region[0].stop - region[0].start, : region[1].stop - region[1].start], data[region])
        assert gzip_mtime_zeroed(meta.codecs.encode(chunk)) == gzip_mtime_zeroed(stored[key])
        out = np.empty((3, 2), dtype="<i4")
        if meta.codecs.decode_into(stored[key], out):
            np.testing.assert_array_equal(out, chunk)
        else:
            assert case.startswith("order-F") or "filter" in case or case in ("gzip", "zlib", "delta-filter", "fixedscaleoffset")


def test_object_codecs_json2_and_vlen_bytes():
    arr = np.array([{"a": 1}, [1, 2], "s", None], dtype=object)
    doc = {"shape": [4], "chunks": [4], "dtype": "|O", "fill_value": None, "order": "C", "filters": [{"id": "json2"}], "compressor": None, "zarr_format": 2}
    parsed = parse_node_metadata({".zarray": json.dumps(doc).encode()}, path="j")
    np.testing.assert_array_equal(parsed.codecs.decode(parsed.codecs.encode(arr), (4,)), arr)
    raw = np.array([b"x", b"", b"\x00\xff", b"yz"], dtype=object)
    vb = build_array_metadata(zarr_format=2, shape=(4,), chunks=(2,), dtype=bytes)
    assert vb.to_json()["filters"] == [{"id": "vlen-bytes"}]
    assert vb.codecs.decode(vb.codecs.encode(raw[:2]), (2,)).tolist() == [b"x", b""]


def test_structured_dtype():
    dt = np.dtype([("a", "<i4"), ("b", "<f8", (2,))])
    data = np.zeros(3, dtype=dt)
    data["a"] = [1, 2, 3]
    data["b"] = [[1, 2], [3, 4], [5, 6]]
    fill = base64.b64encode(np.zeros((), dtype=dt).tobytes()).decode()
    doc = {"shape": [3], "chunks": [3], "dtype": [["a", "<i4"], ["b", "<f8", [2]]], "fill_value": fill, "order": "C", "filters": None, "compressor": {"id": "zlib", "level": 1}, "zarr_format": 2}
    meta = parse_node_metadata({".zarray": json.dumps(doc).encode()}, path="s")
    assert meta.dtype == dt and meta.to_json()["dtype"] == doc["dtype"] and meta.to_json()["fill_value"] == fill
    np.testing.assert_array_equal(meta.codecs.decode(meta.codecs.encode(data), (3,)), data)


@pytest.mark.parametrize("dtype", ["<i4", ">f8", "|b1", "<M8[s]", str])
def test_null_fill_value(dtype):
    """An explicit `fill_value=None` makes zarr-python write null; we parse it as None and write it back."""
    _, stored = peer_array(None, shape=(4,), chunks=(2,), dtype=dtype, fill_value=None, zarr_format=2)
    assert main_doc(stored)["fill_value"] is None
    meta = parse_peer(stored)
    assert meta.fill_value is None
    assert meta.to_documents()[".zarray"] == stored["a/.zarray"]


def test_zero_dim_key_and_fill_special_values():
    meta = build_array_metadata(zarr_format=2, shape=(), chunks=(), dtype="<f8", fill_value=np.nan)
    assert meta.chunk_key(()) == "0" and meta.to_json()["fill_value"] == "NaN"
    doc = dict(meta.to_json(), fill_value="-Infinity")
    assert parse_node_metadata({".zarray": json.dumps(doc).encode()}, path="z").fill_value == -np.inf


def test_group_documents_match_peer():
    import zarr
    from tests.format._peer import peer_store, raw

    store, backing = peer_store()
    zarr.open_group(store, mode="w", zarr_format=2, attributes={"k": "v"})
    stored = raw(backing)
    group = parse_node_metadata({".zgroup": stored[".zgroup"], ".zattrs": stored[".zattrs"]}, path="")
    assert group.zarr_format == 2 and group.attributes == {"k": "v"}
    assert group.to_documents() == {".zgroup": stored[".zgroup"], ".zattrs": stored[".zattrs"]}
