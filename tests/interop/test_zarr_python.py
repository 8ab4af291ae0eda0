"""Bit-exact interop with zarr-python (the peer), both directions, over formats, dtypes and codecs.

For each case zarr-python writes one directory and zarrlayer another with the same
options and data; each library reads the other's directory, partial selections are
checked against numpy, and the chunk files (and metadata documents) are compared.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr

import zarrlayer
from tests.format._peer import gzip_mtime_zeroed


SHAPE = (13, 9)
CHUNKS = (4, 4)


def _blosc(typesize: int) -> dict:
    return {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": typesize, "blocksize": 0}}


V3 = [
    ("bool", "bool", {}),
    ("i1", "int8", {}),
    ("i2-gzip", "int16", {"compressors": [{"name": "gzip", "configuration": {"level": 5}}]}),
    ("i4-blosc", "int32", {"compressors": [_blosc(4)]}),
    ("i8", "int64", {}),
    ("u1-raw", "uint8", {"compressors": None}),
    ("u2", "uint16", {}),
    ("u4", "uint32", {}),
    ("u8", "uint64", {"compressors": [{"name": "zstd", "configuration": {"level": 3, "checksum": True}}]}),
    ("f4", "float32", {}),
    ("f8-raw", "float64", {"compressors": None}),
    ("c8", "complex64", {}),
    ("c16", "complex128", {}),
    ("f8-big-crc", "float64", {"serializer": {"name": "bytes", "configuration": {"endian": "big"}},
                               "compressors": [{"name": "crc32c"}]}),
    ("i4-transpose", "int32", {"filters": [{"name": "transpose", "configuration": {"order": [1, 0]}}]}),
    ("f8-sharded", "float64", {"chunks": (2, 2), "shards": (8, 4)}),
    ("f2", "float16", {}),
    ("i4-dot-keys", "int32", {"chunk_key_encoding": {"name": "default", "separator": "."}}),
    ("u2-v2-keys", "uint16", {"chunk_key_encoding": {"name": "v2", "separator": "."}}),
    ("i2-dims-attrs", "int16", {"dimension_names": ["y", "x"], "attributes": {"units": "m", "n": [1, 2]}}),
]
V2 = [
    ("i4-zstd", "int32", {}),
    ("f8-blosc", "float64", {"compressors": numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1)}),
    ("u2-zlib", "uint16", {"compressors": numcodecs.Zlib(level=4)}),
    ("i8-gzip", "int64", {"compressors": numcodecs.GZip(level=5)}),
    ("f4-raw", "float32", {"compressors": None}),
    ("i4-delta", "int32", {"filters": [numcodecs.Delta(dtype="<i4")]}),
    ("f8-orderF", "float64", {"order": "F"}),
    ("i4-big", ">i4", {}),
    ("c16", "complex128", {}),
    ("bool", "bool", {}),
    ("M8", "datetime64[ns]", {}),
    ("m8", "timedelta64[s]", {}),
    ("f2-big", ">f2", {}),
    ("i2-slash", "int16", {"chunk_key_encoding": {"name": "v2", "separator": "/"}}),
]
STRINGS = [
    (3, "str", {}),
    (2, "str", {}),
    (2, "<U5", {}),
    (2, "|S4", {}),
    (3, "bytes", {}),
    (2, "bytes", {}),
]


def _data(dtype: str, shape=SHAPE) -> np.ndarray:
    n = int(np.prod(shape))
    rng = np.random.default_rng(42)
    kind = np.dtype(dtype).kind
    if kind == "b":
        data = rng.random(n) > 0.5
    elif kind in "mM":
        data = (np.arange(n) * 86_400_000_000_000 + 1).astype(dtype)
    elif kind == "c":
        data = (rng.random(n) + 1j * rng.random(n)).astype(dtype)
    elif kind == "f":
        data = rng.random(n).astype(dtype)
    else:
        info = np.iinfo(np.dtype(dtype))
        data = rng.integers(max(info.min, -1000), min(info.max, 1000), n).astype(dtype)
    data = data.reshape(shape)
    data[0:4, 0:4] = np.zeros((), dtype=data.dtype)  # a whole chunk of fill: not stored by either side
    return data


def _equal(got: np.ndarray, want: np.ndarray) -> bool:
    if want.dtype.kind in "fc":
        return got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True)
    return got.dtype == want.dtype and np.array_equal(got, want)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _assert_same_files(ours: Path, theirs: Path) -> None:
    """The same keys; equal metadata documents (as JSON) and byte-identical chunks."""
    mine, peer = _files(ours), _files(theirs)
    assert sorted(mine) == sorted(peer)
    for key in peer:
        if key.endswith(("zarr.json", ".zarray", ".zattrs", ".zgroup")):
            assert json.loads(mine[key]) == json.loads(peer[key]), key
        else:
            assert gzip_mtime_zeroed(mine[key]) == gzip_mtime_zeroed(peer[key]), f"chunk {key} differs"


def _case_params():
    for name, dtype, kwargs in V3:
        yield pytest.param(3, dtype, kwargs, id=f"v3-{name}")
    for name, dtype, kwargs in V2:
        yield pytest.param(2, dtype, kwargs, id=f"v2-{name}")


@pytest.mark.parametrize("zarr_format, dtype, kwargs", list(_case_params()))
def test_roundtrip_both_directions(tmp_path, zarr_format, dtype, kwargs):
    kwargs = dict(kwargs)
    kwargs.setdefault("chunks", CHUNKS)
    data = _data(dtype)
    theirs, ours = tmp_path / "zarr_python", tmp_path / "zarrlayer"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        za = zarr.create_array(store=str(theirs), shape=SHAPE, dtype=dtype, zarr_format=zarr_format, **kwargs)
        za[...] = data
    la = zarrlayer.create_array(store=str(ours), shape=SHAPE, dtype=dtype, zarr_format=zarr_format, **kwargs)
    la[...] = data

    read_theirs = zarrlayer.open_array(str(theirs), mode="r")
    assert _equal(read_theirs[...], data)
    assert read_theirs.shape == SHAPE and read_theirs.chunks == za.chunks and read_theirs.shards == za.shards
    assert dict(read_theirs.attrs) == dict(za.attrs)
    assert _equal(read_theirs[1:12:3, ::2], data[1:12:3, ::2])
    assert _equal(read_theirs.oindex[[12, 0, 5], [8, 1]], data[np.ix_([12, 0, 5], [8, 1])])
    assert _equal(read_theirs.vindex[[12, 0, 5], [8, 1, 4]], data[[12, 0, 5], [8, 1, 4]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _equal(np.asarray(zarr.open_array(str(ours), mode="r")[...]), data)

    _assert_same_files(ours, theirs)


def _as_str_list(values) -> list:
    return [v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in np.asarray(values, dtype=object).ravel()]


@pytest.mark.parametrize("zarr_format, dtype, kwargs", [pytest.param(*c, id=f"v{c[0]}-{c[1]}") for c in STRINGS])
def test_strings_both_directions(tmp_path, zarr_format, dtype, kwargs):
    words = ["", "a", "bc", "déf", "ghij", "k", "lm", "nop", "q", "rs", "tuvw"]
    if dtype == "|S4":
        data = np.array([w.encode("ascii", "ignore")[:4] for w in words], dtype="S4")
    elif dtype == "<U5":
        data = np.array(words, dtype="<U5")
    elif dtype == "bytes":
        data = np.array([w.encode() + b"\x00\xff" for w in words], dtype=object)
    else:
        data = np.array(words, dtype=object)
    make = str if dtype == "str" else dtype
    peer_make = zarr.dtype.VariableLengthBytes() if dtype == "bytes" else make
    theirs, ours = tmp_path / "zarr_python", tmp_path / "zarrlayer"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        za = zarr.create_array(store=str(theirs), shape=data.shape, dtype=peer_make,
                               chunks=(4,), zarr_format=zarr_format, **kwargs)
        za[...] = data
    la = zarrlayer.create_array(store=str(ours), shape=data.shape, dtype=make,
                                chunks=(4,), zarr_format=zarr_format, **kwargs)
    la[...] = data
    got = zarrlayer.open_array(str(theirs), mode="r")
    assert _as_str_list(got[...]) == _as_str_list(data)
    if dtype == "bytes":
        assert list(got[...]) == list(data)
    assert _as_str_list(got[2:9:3]) == _as_str_list(data[2:9:3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _as_str_list(zarr.open_array(str(ours), mode="r")[...]) == _as_str_list(data)
    _assert_same_files(ours, theirs)


@pytest.mark.parametrize("index_location", ["start", "end"])
def test_partly_written_shards_written_by_zarr_python(tmp_path, index_location):
    from zarr.codecs import BytesCodec, ShardingCodec, ZstdCodec

    data = np.arange(12 * 10, dtype="<i4").reshape(12, 10) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        za = zarr.create(
            shape=data.shape, chunks=(8, 8), dtype="<i4", store=str(tmp_path), zarr_format=3, fill_value=0,
            codecs=[ShardingCodec(chunk_shape=(2, 4), codecs=[BytesCodec(), ZstdCodec()], index_location=index_location)],
        )
        za[1:5, 3:9] = data[1:5, 3:9]
        za[9:12, 0:2] = data[9:12, 0:2]
    expect = np.zeros_like(data)
    expect[1:5, 3:9] = data[1:5, 3:9]
    expect[9:12, 0:2] = data[9:12, 0:2]
    a = zarrlayer.open_array(str(tmp_path), mode="r")
    assert a.chunks == (2, 4) and a.shards == (8, 8)
    assert np.array_equal(a[...], expect)
    assert np.array_equal(a[2:11:2, 1::3], expect[2:11:2, 1::3])
    assert np.array_equal(a.vindex[[1, 4, 11], [3, 8, 1]], expect[[1, 4, 11], [3, 8, 1]])

    b = zarrlayer.open_array(str(tmp_path), mode="r+")
    b[0:8, 0:8] = 7
    expect[0:8, 0:8] = 7
    b[10, 9] = 3
    expect[10, 9] = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(np.asarray(zarr.open_array(str(tmp_path), mode="r")[...]), expect)
    assert np.array_equal(b[...], expect)


def test_nested_groups_attributes_and_consolidated_from_zarr_python(tmp_path):
    for zarr_format in (2, 3):
        root_path = tmp_path / f"v{zarr_format}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            root = zarr.open_group(str(root_path), mode="w", zarr_format=zarr_format, attributes={"title": "t"})
            sub = root.create_group("sub", attributes={"level": 1})
            arr = sub.create_array("deep", shape=(5,), dtype="i4", chunks=(2,))
            arr[...] = np.arange(5)
            root.create_array("top", shape=(3,), dtype="f8", chunks=(3,), attributes={"a": 1})
            zarr.consolidate_metadata(str(root_path))
        g = zarrlayer.open_group(str(root_path), mode="r", use_consolidated=True)
        assert g.metadata.consolidated is not None
        assert dict(g.attrs) == {"title": "t"}
        assert list(g) == ["sub", "top"]
        assert sorted(g.array_keys()) == ["top"] and sorted(g.group_keys()) == ["sub"]
        assert dict(g["sub"].attrs) == {"level": 1}
        assert np.array_equal(g["sub/deep"][...], np.arange(5))
        assert dict(g["top"].attrs) == {"a": 1}
        plain = zarrlayer.open_group(str(root_path), mode="r", use_consolidated=False)
        assert plain.metadata.consolidated is None and list(plain) == ["sub", "top"]


def test_consolidated_written_by_zarrlayer_is_read_by_zarr_python(tmp_path):
    for zarr_format in (2, 3):
        root_path = tmp_path / f"v{zarr_format}"
        root = zarrlayer.open_group(str(root_path), mode="w", zarr_format=zarr_format, attributes={"title": "t"})
        sub = root.create_group("sub", attributes={"level": 1})
        sub.create_array("deep", shape=(5,), dtype="i4", chunks=(2,), dimension_names=["t"] if zarr_format == 3 else None)[...] = np.arange(5)
        root.create_array("top", shape=(3,), dtype="f8", chunks=(3,))
        zarrlayer.consolidate_metadata(str(root_path))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zg = zarr.open_group(str(root_path), mode="r", use_consolidated=True)
            assert zg.metadata.consolidated_metadata is not None
            assert sorted(zg.metadata.consolidated_metadata.flattened_metadata) == ["sub", "sub/deep", "top"]
            assert dict(zg.attrs) == {"title": "t"}
            assert np.array_equal(zg["sub/deep"][...], np.arange(5))
            assert dict(zg["sub"].attrs) == {"level": 1}


@pytest.mark.parametrize(
    "shape, dtype, zarr_format",
    [((1000, 1000), "f8", 3), ((10000, 10000), "f4", 3), ((365, 720, 1440), "f4", 3), ((0, 10), "f8", 3),
     ((1000000,), str, 3), ((1000000,), str, 2), ((1000000,), "U10", 2)],
)
def test_automatic_chunks_match_zarr_python(shape, dtype, zarr_format):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = zarr.create_array({}, shape=shape, dtype=dtype, zarr_format=zarr_format).chunks
    assert zarrlayer.create_array({}, shape=shape, dtype=dtype, zarr_format=zarr_format).chunks == expected


@pytest.mark.parametrize("fill", ["omitted", None, 5])
def test_v2_fill_value_written_as_zarr_python_writes_it(tmp_path, fill):
    kwargs = {} if fill == "omitted" else {"fill_value": fill}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.create_array(store=str(tmp_path / "z"), shape=(4,), dtype="i4", chunks=(2,), zarr_format=2, **kwargs)
    a = zarrlayer.create_array(store=str(tmp_path / "l"), shape=(4,), dtype="i4", chunks=(2,), zarr_format=2, **kwargs)
    mine = json.loads((tmp_path / "l" / ".zarray").read_bytes())
    assert mine == json.loads((tmp_path / "z" / ".zarray").read_bytes())
    a[...] = [0, 0, 1, 2]
    assert ("0" in {p.name for p in (tmp_path / "l").iterdir()}) is (fill != 0 and fill != "omitted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert list(zarr.open_array(str(tmp_path / "l"), mode="r")[...]) == [0, 0, 1, 2]
