"""Array semantics through the public API: selections, writes, fill chunks, resize/append, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zarrlayer
from zarrlayer.errors import BoundsCheckError, ChunkDecodeError, MetadataError, ReadOnlyError
from zarrlayer.storage import MemoryStore


def _chunk_keys(store: MemoryStore, path: str) -> list[str]:
    return sorted(k for k in store.store_dict if k.startswith(path + "/") and not k.endswith(("zarr.json", ".zarray", ".zattrs")))


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_selections_match_numpy(zarr_format):
    ref = np.arange(11 * 6 * 5, dtype="f8").reshape(11, 6, 5)
    a = zarrlayer.create_array(MemoryStore(), name="a", data=ref, chunks=(4, 4, 2), zarr_format=zarr_format)
    assert a.shape == ref.shape and a.dtype == ref.dtype and len(a) == 11 and a.ndim == 3
    assert a.nchunks == 3 * 2 * 3 and a.size == ref.size and a.nbytes == ref.nbytes
    scalar = a[3, 2, 1]
    assert isinstance(scalar, np.ndarray) and scalar.shape == () and scalar == ref[3, 2, 1]
    for sel in [(Ellipsis,), (-1,), (slice(1, 10, 3), slice(None), -2), (Ellipsis, 0), (slice(None, None, -3), 1)]:
        assert np.array_equal(a[sel], ref[sel]), sel
    assert np.array_equal(a.get_basic_selection((slice(2, 5), 1)), ref[2:5, 1])
    assert np.array_equal(a.oindex[[10, 0, 3], :, [4, 0]], ref[np.ix_([10, 0, 3], range(6), [4, 0])])
    mask = np.zeros(6, dtype=bool)
    mask[[1, 5]] = True
    assert np.array_equal(a.oindex[2, mask], ref[2][mask])
    assert np.array_equal(a[[1, 7]], ref[[1, 7]])
    assert np.array_equal(a.vindex[[0, 10, 5], [5, 0, 2], [1, 1, 4]], ref[[0, 10, 5], [5, 0, 2], [1, 1, 4]])
    full_mask = ref % 7 == 0
    assert np.array_equal(a.vindex[full_mask], ref[full_mask])
    assert np.array_equal(a[full_mask], ref[full_mask])
    assert np.array_equal(np.asarray(a), ref)


def test_out_of_bounds_selections_raise_bounds_check_error():
    a = zarrlayer.create_array({}, shape=(5, 5), dtype="i4")
    for sel in [(5,), (0, -6), (0, 0, 0)]:
        with pytest.raises(BoundsCheckError):
            a[sel]
    with pytest.raises(IndexError):
        a.oindex[[0, 9]]
    with pytest.raises(IndexError):
        a.vindex[[0], [5]] = 1


def test_writes_partial_and_whole_match_numpy_and_fill_chunks_are_not_stored():
    store = MemoryStore()
    a = zarrlayer.create_array(store, name="w", shape=(9, 7), dtype="i4", chunks=(4, 3), fill_value=-1)
    ref = np.full((9, 7), -1, dtype="i4")
    assert np.array_equal(a[...], ref) and _chunk_keys(store, "w") == []
    a[1:7, 2:5] = 3
    ref[1:7, 2:5] = 3
    a.oindex[[8, 0], [6, 0]] = [[1, 2], [3, 4]]
    ref[np.ix_([8, 0], [6, 0])] = [[1, 2], [3, 4]]
    a.vindex[[4, 5], [6, 6]] = 9
    ref[[4, 5], [6, 6]] = 9
    a.set_basic_selection((slice(0, 1),), np.arange(7))
    ref[0] = np.arange(7)
    assert np.array_equal(a[...], ref)
    assert "w/c/0/0" in store.store_dict
    a[0:4, 0:3] = -1
    ref[0:4, 0:3] = -1
    assert "w/c/0/0" not in store.store_dict
    assert np.array_equal(zarrlayer.open_array(store, path="w", mode="r")[...], ref)
    a[...] = -1
    assert _chunk_keys(store, "w") == []


def test_sharded_writes_keep_untouched_inner_chunks_and_drop_empty_shards():
    store = MemoryStore()
    a = zarrlayer.create_array(store, name="s", shape=(8, 8), dtype="u2", chunks=(2, 2), shards=(4, 4))
    ref = np.zeros((8, 8), dtype="u2")
    a[0:3, 0:3] = 5
    ref[0:3, 0:3] = 5
    a[5, 7] = 2
    ref[5, 7] = 2
    assert sorted(_chunk_keys(store, "s")) == ["s/c/0/0", "s/c/1/1"]
    assert np.array_equal(a[...], ref)
    assert np.array_equal(a[1:8:3, ::2], ref[1:8:3, ::2])
    a[4:8, 4:8] = 0
    assert _chunk_keys(store, "s") == ["s/c/0/0"]
    a[0:4, 0:4] = np.arange(16).reshape(4, 4)
    ref[0:4, 0:4] = np.arange(16).reshape(4, 4)
    ref[5, 7] = 0
    assert np.array_equal(a[...], ref) and a.nchunks_initialized == 4


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_resize_and_append(zarr_format):
    store = MemoryStore()
    a = zarrlayer.create_array(store, name="r", shape=(6, 4), dtype="i8", chunks=(2, 2), zarr_format=zarr_format)
    ref = np.arange(24).reshape(6, 4) + 1
    a[...] = ref
    a.resize((3, 4))
    assert a.shape == (3, 4) and np.array_equal(a[...], ref[:3])
    remaining = _chunk_keys(store, "r")
    assert len(remaining) == 2 * 2
    reopened = zarrlayer.open_array(store, path="r", mode="r")
    assert reopened.shape == (3, 4)
    assert a.append(np.full((2, 4), 7)) == (5, 4)
    assert np.array_equal(a[3:], np.full((2, 4), 7))
    assert a.append(np.zeros((5, 1), dtype="i8"), axis=1) == (5, 5)
    with pytest.raises(ValueError):
        a.append(np.zeros((2, 2)))


def test_create_array_options():
    a = zarrlayer.create_array({}, shape=(1000, 1000), dtype="f8")
    assert a.chunks != (1000, 1000) and np.prod(a.chunks) * 8 <= 2 * 1024 * 1024
    v3 = zarrlayer.create_array({}, shape=(4, 4), dtype="i4", dimension_names=["y", "x"],
                                attributes={"k": 1}, compressors=[{"name": "gzip", "configuration": {"level": 1}}])
    assert v3.metadata.dimension_names == ("y", "x") and dict(v3.attrs) == {"k": 1}
    assert v3.compressors == ({"name": "gzip", "configuration": {"level": 1}},)
    import numcodecs

    v2 = zarrlayer.create_array({}, shape=(4, 4), dtype="i4", zarr_format=2, order="F",
                                compressors=numcodecs.Zlib(level=2), filters=[numcodecs.Delta(dtype="i4")])
    assert v2.order == "F" and v2.compressors == (numcodecs.Zlib(level=2),)
    assert v2.filters == (numcodecs.Delta(dtype="<i4"),)
    v2[...] = np.arange(16).reshape(4, 4)
    assert np.array_equal(v2[...], np.arange(16).reshape(4, 4))
    assert repr(v2).startswith("<Array memory://") and "shape=(4, 4) dtype=int32>" in repr(v2)


def _corrupt_setup(**kwargs):
    kwargs = dict(kwargs)
    store = MemoryStore()
    kwargs.setdefault("chunks", (2, 2))
    a = zarrlayer.create_array(store, name="foo/bar", shape=(4, 4), dtype="i4", **kwargs)
    a[...] = np.arange(16).reshape(4, 4) + 1
    return store, a


@pytest.mark.parametrize(
    "kwargs, damage",
    [
        ({}, lambda b: b"\x00garbage\xff" * 3),
        ({}, lambda b: b[: len(b) // 2]),
        ({"compressors": None}, lambda b: b[:-4]),
        ({"compressors": [{"name": "crc32c"}]}, lambda b: b[:-1] + bytes([b[-1] ^ 0xFF])),
        ({"compressors": [{"name": "crc32c"}]}, lambda b: bytes([b[0] ^ 0xFF]) + b[1:]),
        ({"chunks": (1, 1), "shards": (2, 2)}, lambda b: b[:10]),
        ({"chunks": (1, 1), "shards": (2, 4)}, lambda b: b[:-3] + b"\x00\x00\x00"),
        ({"zarr_format": 2, "compressors": None}, lambda b: b + b"\x00"),
    ],
    ids=["zstd-garbage", "zstd-truncated", "raw-short", "crc-in-checksum", "crc-in-data", "shard-truncated",
         "shard-index-crc", "v2-raw-long"],
)
def test_bad_chunks_raise_chunk_decode_error_naming_path_and_key(kwargs, damage):
    store, a = _corrupt_setup(**kwargs)
    key = "foo/bar/" + a.metadata.chunk_key((0, 1) if a.shards is None else (0, 0))
    store.store_dict[key] = damage(store.store_dict[key])
    before = dict(store.store_dict)
    with pytest.raises(ChunkDecodeError) as info:
        a[...]
    message = str(info.value)
    assert "'foo/bar'" in message and a.metadata.chunk_key((0, 1) if a.shards is None else (0, 0)) in message
    assert store.url in message
    region = (slice(0, 1), slice(2, 3)) if a.shards is None else (slice(0, 1), slice(0, 1))
    with pytest.raises(ChunkDecodeError):
        a[region] = 5  # a partial write reads the damaged chunk (or shard) first
    assert store.store_dict == before


@pytest.mark.parametrize(
    "document, content",
    [
        ("zarr.json", b"{not json"),
        ("zarr.json", json.dumps({"zarr_format": 3, "node_type": "array", "shape": [2]}).encode()),
        (".zarray", json.dumps({"zarr_format": 2, "shape": [2], "chunks": [0], "dtype": "<i4",
                                "compressor": None, "filters": None, "fill_value": 0, "order": "C"}).encode()),
    ],
)
def test_malformed_metadata_raises_metadata_error_naming_the_node(document, content):
    store = MemoryStore({f"bad/node/{document}": content})
    before = dict(store.store_dict)
    with pytest.raises(MetadataError) as info:
        zarrlayer.open(store, path="bad/node", mode="r")
    assert "bad/node" in str(info.value)
    with pytest.raises(MetadataError):
        zarrlayer.open(store, path="bad/node", mode="a")
    assert store.store_dict == before


def test_read_only_array_rejects_every_write():
    store = MemoryStore()
    zarrlayer.create_array(store, name="x", shape=(4,), dtype="i4", chunks=(2,))[...] = 1
    before = dict(store.store_dict)
    a = zarrlayer.open_array(store, path="x", mode="r")
    for write in (lambda: a.__setitem__(0, 2), lambda: a.oindex.__setitem__([1], 2),
                  lambda: a.vindex.__setitem__([1], 2), lambda: a.append([1]), lambda: a.attrs.update(k=1)):
        with pytest.raises(ReadOnlyError):
            write()
    assert store.store_dict == before


def test_arrays_and_groups_pickle_for_dask_workers(tmp_path):
    import pickle

    a = zarrlayer.create_array(str(tmp_path), name="g/x", shape=(4, 4), dtype="f4", chunks=(2, 2), shards=(4, 4))
    a[...] = np.arange(16).reshape(4, 4)
    copy = pickle.loads(pickle.dumps(a))
    assert copy.path == "g/x" and np.array_equal(copy[...], a[...])
    group = pickle.loads(pickle.dumps(zarrlayer.open_group(str(tmp_path), mode="r")))
    assert group.read_only and list(group) == ["g"] and np.array_equal(group["g/x"][1], a[1])


def test_mask_and_negative_step_writes_match_numpy():
    a = zarrlayer.create_array({}, shape=(6, 5), dtype="i4", chunks=(4, 2))
    ref = np.zeros((6, 5), "i4")
    mask = np.arange(30).reshape(6, 5) % 4 == 0
    a[mask] = 7
    ref[mask] = 7
    a[::-2, 1] = [1, 2, 3]
    ref[::-2, 1] = [1, 2, 3]
    a.oindex[[5, 0], ::-1] = np.arange(10).reshape(2, 5)
    ref[np.ix_([5, 0], np.arange(5)[::-1])] = np.arange(10).reshape(2, 5)
    assert np.array_equal(a[...], ref) and np.array_equal(a[::-1, ::-3], ref[::-1, ::-3])


def test_unknown_and_unsafe_codecs_are_refused_on_open():
    from zarrlayer.errors import CodecError, UnsafeCodecError

    v3 = {
        "zarr_format": 3, "node_type": "array", "shape": [2], "data_type": "int32",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0, "attributes": {},
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "mystery"}],
    }
    v2 = {"zarr_format": 2, "shape": [2], "chunks": [2], "dtype": "|O", "compressor": None,
          "filters": [{"id": "pickle"}], "fill_value": None, "order": "C"}
    store = MemoryStore({"a/zarr.json": json.dumps(v3).encode(), "p/.zarray": json.dumps(v2).encode()})
    with pytest.raises(CodecError) as info:
        zarrlayer.open_array(store, path="a", mode="r")
    assert "mystery" in str(info.value) and "a/zarr.json" in str(info.value)
    with pytest.raises(UnsafeCodecError) as info:
        zarrlayer.open_array(store, path="p", mode="r")
    assert "p/.zarray" in str(info.value) and store.url in str(info.value)


def test_bad_create_options_fail_before_an_overwrite_clears_anything():
    from zarrlayer.errors import CodecError

    store = MemoryStore()
    zarrlayer.create_array(store, name="keep", shape=(3,), dtype="i4", chunks=(3,))[...] = [1, 2, 3]
    before = dict(store.store_dict)
    with pytest.raises(CodecError):
        zarrlayer.create_array(store, name="keep", shape=(3,), dtype="i4", overwrite=True,
                               compressors=[{"name": "no-such-codec"}])
    with pytest.raises((MetadataError, ValueError)):
        zarrlayer.open_array(store, path="keep", mode="w", shape=(3,), dtype="i4", chunks=(0,))
    assert store.store_dict == before
