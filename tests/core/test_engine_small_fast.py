"""Small chunks are read by one tight loop per task (core/_small_read.py): same values as numpy, every layout, the loop taken.

The loop is counted by wrapping `blosc_fast.decompress_ctx` (it looks the entry point up
when a read starts) and the engine's general decode (`engine.decode_entries`, its fallback),
so a test cannot pass through the general path unnoticed.
"""

from __future__ import annotations

import os
import random
import shutil
import threading

import numpy as np
import pytest

import zarrlayer
from zarrlayer.core import _small_read, engine
from zarrlayer.core._small_decoders import ChunkDecoder
from zarrlayer.core.indexing import SliceAxis, basic_plan
from zarrlayer.core.io import ArrayLocation
from zarrlayer.errors import ChunkDecodeError, InvalidKeyError
from zarrlayer.format.chunk_keys import ChunkKeyEncoding
from zarrlayer.format.codecs import blosc_fast
from zarrlayer.storage import LocalStore, MemoryStore
from zarrlayer.storage._base import validate_key, validate_keys

pytestmark = pytest.mark.skipif(blosc_fast.decompress_ctx is None, reason="c-blosc's context call is not loaded")

BLOSC3 = [{"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4, "blocksize": 0}}]
BLOSC2 = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}
CODECS = {  # v3 compressors, v2 compressor
    "blosc": (BLOSC3, BLOSC2),
    "zstd": ([{"name": "zstd", "configuration": {"level": 1, "checksum": True}}], {"id": "zstd", "level": 1}),
    "none": (None, None),
}
LAYOUTS = {
    "v3 c/": (3, {"name": "default", "separator": "/"}),
    "v3 c.": (3, {"name": "default", "separator": "."}),
    "v3 v2-encoding": (3, {"name": "v2", "separator": "."}),
    "v2 .": (2, "."),
    "v2 /": (2, "/"),
}
SHAPES = {1: ((1000,), (64,)), 2: ((100, 90), (16, 32)), 3: ((7, 20, 33), (2, 8, 16))}


class Counters:
    """Chunks the fast loop decoded (calls of its decoder) and chunks the engine's general decode took (its fallback)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fast = 0
        self.general = 0
        self.names: set[str] = set()
        real_decoder, real_entries = _small_read.chunk_decoder, engine.decode_entries

        def decoder(*args):
            made = real_decoder(*args)
            if made is None:
                return None
            self.names.add(made.name)

            def decode(*call):
                self.fast += 1
                return made.decode(*call)

            return ChunkDecoder(made.name, decode, made.read_size)

        def entries(loc, pipeline, shape, fill, items, work):
            items = list(items)
            self.general += len(items)
            return real_entries(loc, pipeline, shape, fill, items, work)

        monkeypatch.setattr(_small_read, "chunk_decoder", decoder)
        monkeypatch.setattr(engine, "decode_entries", entries)


def _create(path, ndim: int, layout: str, dtype="<f4", codec="blosc"):
    shape, chunks = SHAPES[ndim]
    zarr_format, encoding = LAYOUTS[layout]
    v3, v2 = CODECS[codec]
    data = (np.random.default_rng(ndim).normal(size=shape) * 100).astype(dtype)
    if zarr_format == 3:
        arr = zarrlayer.create_array(store=str(path), shape=shape, chunks=chunks, dtype=dtype, compressors=v3,
                                     chunk_key_encoding=encoding, fill_value=0, zarr_format=3)
    else:
        arr = zarrlayer.create_array(store=str(path), shape=shape, chunks=chunks, dtype=dtype, compressors=v2,
                                     chunk_key_encoding={"name": "v2", "separator": encoding}, fill_value=0, zarr_format=2)
    arr[...] = data
    return arr, data


def _chunk_files(root) -> list[str]:
    names = []
    for dirpath, _, files in os.walk(root):
        names += [os.path.join(dirpath, f) for f in files if not f.startswith((".z", "zarr.json"))]
    return sorted(names)


SELECTIONS = [
    Ellipsis,
    (slice(3, None),),
    (slice(5, 900, 3),),
    (slice(None, None, 2), Ellipsis),
    (Ellipsis, 3),
    (2, Ellipsis),
]


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_small_chunks_read_through_the_fast_loop(tmp_path, monkeypatch, threads, layout, ndim, codec):
    _, data = _create(tmp_path / "a.zarr", ndim, layout, codec=codec)
    files = _chunk_files(tmp_path / "a.zarr")
    os.unlink(files[1])  # a missing chunk reads as the fill value
    expected = data.copy()
    coords = [int(x) for x in os.path.relpath(files[1], tmp_path / "a.zarr").replace("c/", "").replace("c.", "").replace("/", ".").split(".")]
    expected[tuple(slice(k * c, (k + 1) * c) for k, c in zip(coords, SHAPES[ndim][1]))] = 0
    counters = Counters(monkeypatch)
    reader = zarrlayer.open_array(str(tmp_path / "a.zarr"), mode="r")
    with zarrlayer.config.set({"decode_threads": threads}):
        got = reader[...]
        np.testing.assert_array_equal(got, expected)
        assert (counters.fast, counters.general) == (len(files) - 1, 0)
        for sel in SELECTIONS:
            sel = sel if not isinstance(sel, tuple) or len(sel) <= ndim or Ellipsis in sel else sel[:ndim]
            np.testing.assert_array_equal(reader[sel], expected[sel], err_msg=str(sel))
        np.testing.assert_array_equal(reader.oindex[(np.array([0, 5, 3]),) + (slice(None),) * (ndim - 1)],
                                      expected[[0, 5, 3]])
        if ndim >= 2:  # two index arrays: np.ix_ selections in and out of the chunk
            rows, cols = np.array([6, 0, 3, 5]), np.array([1, 19, 17, 2])
            picked = reader.oindex[(rows, cols) + (slice(2, None),) * (ndim - 2)]
            np.testing.assert_array_equal(picked, expected[np.ix_(rows, cols)][(Ellipsis,) + (slice(2, None),) * (ndim - 2)])
        points = tuple(np.array([0, s - 1, 1]) for s in SHAPES[ndim][0])
        np.testing.assert_array_equal(reader.vindex[points], expected[points])
    assert counters.fast > len(files) and counters.general == 0 and counters.names == {codec}


def test_zarr_python_arrays_read_through_the_fast_loop(tmp_path, monkeypatch):
    zarr = pytest.importorskip("zarr")
    data = np.arange(100 * 70, dtype="<f4").reshape(100, 70) / 7
    z = zarr.create_array(str(tmp_path / "z.zarr"), shape=data.shape, chunks=(16, 16), dtype="<f4", compressors=BLOSC3, fill_value=0)
    z[...] = data
    counters = Counters(monkeypatch)
    got = zarrlayer.open_array(str(tmp_path / "z.zarr"), mode="r")[5:97, 3:]
    np.testing.assert_array_equal(got, z[5:97, 3:])
    assert counters.fast == 7 * 5 and counters.general == 0


def test_memory_store_values_go_through_the_fast_loop(monkeypatch):
    store = MemoryStore()
    data = np.arange(5000, dtype="<f4")
    arr = zarrlayer.create_array(store=store, shape=data.shape, chunks=(256,), dtype="<f4", compressors=BLOSC3, zarr_format=3)
    arr[...] = data
    counters = Counters(monkeypatch)
    np.testing.assert_array_equal(arr[7:4990], data[7:4990])
    assert counters.fast == 20 and counters.general == 0


def _one_d(tmp_path, chunks=4, codec="blosc"):
    data = np.arange(256 * chunks, dtype="<f4")
    arr = zarrlayer.create_array(store=str(tmp_path / "a.zarr"), shape=data.shape, chunks=(256,), dtype="<f4",
                                 compressors=CODECS[codec][0], zarr_format=3, fill_value=0)
    arr[...] = data
    return data, tmp_path / "a.zarr" / "c"


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize(
    "damage",
    ["truncated", "short header", "longer than its header", "oversized", "other chunk size", "empty"],
)
def test_damaged_chunks_raise_naming_store_and_key(tmp_path, monkeypatch, damage, codec):
    _, chunks = _one_d(tmp_path, codec=codec)
    path = chunks / "2"
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[:-5])
    elif damage == "short header":
        path.write_bytes(raw[:9])
    elif damage == "longer than its header":
        path.write_bytes(raw + b"\0")
    elif damage == "oversized":
        path.write_bytes(raw + os.urandom(4096))
    elif damage == "other chunk size":
        other = zarrlayer.create_array(store=str(tmp_path / "b.zarr"), shape=(512,), chunks=(512,), dtype="<f4",
                                       compressors=CODECS[codec][0], zarr_format=3)
        other[...] = 1
        shutil.copy(tmp_path / "b.zarr" / "c" / "0", path)
    else:
        path.write_bytes(b"")
    counters = Counters(monkeypatch)
    reader = zarrlayer.open_array(str(tmp_path / "a.zarr"), mode="r")
    with pytest.raises(ChunkDecodeError) as info:
        reader[...]
    assert "c/2" in str(info.value) and reader.store.url in str(info.value)
    assert counters.general >= 1  # handed to the general path, which names what is wrong


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_a_corrupt_stream_gives_what_the_general_path_gives(tmp_path, monkeypatch, codec):
    _, chunks = _one_d(tmp_path, codec=codec)
    raw = bytearray((chunks / "1").read_bytes())
    for i in range(16, len(raw), 7):
        raw[i] ^= 0x5A
    (chunks / "1").write_bytes(bytes(raw))
    reader = zarrlayer.open_array(str(tmp_path / "a.zarr"), mode="r")

    def outcome():
        try:
            return reader[...]
        except ChunkDecodeError as exc:
            assert "c/1" in str(exc)
            return "error"

    fast = outcome()
    monkeypatch.setattr(engine, "small_reader", lambda *a: None)
    general = outcome()
    assert type(fast) is type(general)
    if not isinstance(fast, str):
        np.testing.assert_array_equal(fast, general)


def test_a_directory_at_a_chunk_key_reads_as_fill(tmp_path, monkeypatch):
    data, chunks = _one_d(tmp_path)
    (chunks / "3").unlink()
    (chunks / "3").mkdir()
    data[768:] = 0
    counters = Counters(monkeypatch)
    np.testing.assert_array_equal(zarrlayer.open_array(str(tmp_path / "a.zarr"), mode="r")[...], data)
    assert counters.fast == 3


def test_a_chunk_directory_linked_outside_the_root_is_refused(tmp_path):
    _, chunks = _one_d(tmp_path / "root")
    outside = tmp_path / "outside"
    shutil.copytree(chunks, outside)
    shutil.rmtree(chunks)
    os.symlink(outside, chunks)
    reader = zarrlayer.open_array(zarrlayer.storage.LocalStore(tmp_path / "root"), path="a.zarr", mode="r")
    with pytest.raises(InvalidKeyError, match="symbolic link"):
        reader[...]


def test_a_chunk_file_linked_outside_is_refused_inside_is_followed(tmp_path):
    data, chunks = _one_d(tmp_path)
    os.replace(chunks / "1", tmp_path / "one")
    os.symlink(tmp_path / "one", chunks / "1")
    os.replace(chunks / "2", tmp_path / "a.zarr" / "two")
    os.symlink(tmp_path / "a.zarr" / "two", chunks / "2")
    store = LocalStore(tmp_path / "a.zarr")
    reader = zarrlayer.open_array(store, mode="r")
    with pytest.raises(InvalidKeyError, match="symbolic link"):
        reader[...]
    np.testing.assert_array_equal(reader[512:], data[512:])  # c/2 links inside the root


def test_read_many_into_refuses_bad_keys_before_any_io(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)
    (tmp_path / "x").write_bytes(b"12345")
    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    buffer = bytearray(16)
    for bad in (["x", "a/../x"], ["x", "/etc/passwd"], ["x", ""], ["x", "a//b"], ["x", "a\\b"], ["x", "."]):
        with pytest.raises(InvalidKeyError):
            list(store.read_many_into_sync(bad, buffer))
    assert opened == []
    assert list(store.read_many_into_sync(["x", "missing", "x"], buffer)) == [5, None, 5]
    assert list(store.read_many_into_sync(["x"], bytearray(5))) == [b"12345"]  # fills the buffer: whole value as bytes


def test_validate_keys_agrees_with_validate_key():
    rng = random.Random(5)
    alphabet = ["a", "b", ".", "..", "/", "\n", "\\", "\x00", "", "c0"]

    def valid(key):
        try:
            validate_key(key)
        except InvalidKeyError:
            return False
        return True

    for _ in range(20000):
        keys = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5))) for _ in range(rng.randint(0, 4))]
        try:
            validate_keys(keys)
            ok = True
        except InvalidKeyError:
            ok = False
        assert ok == all(valid(k) for k in keys), keys
    with pytest.raises(InvalidKeyError):
        validate_keys(["a", 3])  # type: ignore[list-item]


@pytest.mark.parametrize("name", ["default", "v2"])
@pytest.mark.parametrize("separator", ["/", "."])
def test_encode_many_matches_encode(name, separator):
    encoding = ChunkKeyEncoding(name, separator)
    for ndim in range(5):
        coords = [tuple(random.Random(ndim).randrange(1000) for _ in range(ndim)) for _ in range(20)]
        for prefix in ("", "g/a/"):
            assert encoding.encode_many(prefix, coords, ndim) == [prefix + encoding.encode(c) for c in coords]
    for prefix in ("", "g/a/"):
        assert encoding.encode_ids(prefix, [0, 7, 123]) == [prefix + encoding.encode((i,)) for i in (0, 7, 123)]


def test_plan_batches_are_the_entries_in_order():
    rng = random.Random(2)
    for _ in range(500):
        ndim = rng.randint(1, 4)
        shape = tuple(rng.randint(0, 20) for _ in range(ndim))
        chunks = tuple(rng.randint(1, 6) for _ in range(ndim))
        sel = tuple(slice(rng.choice([None, 0, 3]), rng.choice([None, 5, -1]), rng.choice([None, 1, 2])) for _ in range(ndim))
        entries = basic_plan(sel, shape, chunks).entries
        for size in (1, 3, 64):
            plan = basic_plan(sel, shape, chunks)
            assert plan.count == len(entries)
            assert [e for batch in plan.batches(size) for e in batch] == entries, (shape, chunks, sel, size)


def test_a_large_full_read_never_builds_the_whole_plan(tmp_path, monkeypatch):
    arr = zarrlayer.create_array(store=str(tmp_path / "a.zarr"), shape=(64 * 3000,), chunks=(64,), dtype="<f4",
                                 compressors=BLOSC3, zarr_format=3, fill_value=0)
    data = np.arange(64 * 3000, dtype="<f4")
    arr[...] = data
    counters = Counters(monkeypatch)
    reader = zarrlayer.open_array(str(tmp_path / "a.zarr"), mode="r")
    plan = basic_plan(Ellipsis, reader.shape, reader.chunks)
    built = []
    real_dim = SliceAxis.dim
    monkeypatch.setattr(SliceAxis, "dim", lambda self, *a: built.append(a) or real_dim(self, *a))
    with zarrlayer.config.set({"decode_threads": 1}):
        got = engine.read_plan(ArrayLocation(reader.store, ""), reader.metadata, plan)
    np.testing.assert_array_equal(got, data)
    assert plan._entries is None and counters.fast == 3000
    assert built == []  # 1-d runs of whole chunks: no plan entry built at all
    (tmp_path / "a.zarr" / "c" / "7").unlink()
    data[7 * 64 : 8 * 64] = 0
    got = engine.read_plan(ArrayLocation(reader.store, ""), reader.metadata, basic_plan((slice(5, None),), reader.shape, reader.chunks))
    np.testing.assert_array_equal(got, data[5:])
    assert len(built) == 2  # the partial first chunk and the missing one, each on its own
    assert _small_read.MAX_CHUNK_BYTES > 64 * 4


class _BytearrayStore(MemoryStore):
    """A sync store whose values come back as bytearrays."""

    def get_many_sync(self, key_ranges):
        return [None if v is None else bytearray(v) for v in super().get_many_sync(key_ranges)]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("store_kind", ["local", "bytearray", "refused"])
def test_whole_chunks_tiling_a_box_are_staged_and_copied_once(tmp_path, monkeypatch, threads, store_kind):
    store = _BytearrayStore() if store_kind == "bytearray" else LocalStore(tmp_path / "a.zarr")
    data = (np.arange(96 * 128, dtype="<f4").reshape(96, 128) * 3) % 1000
    arr = zarrlayer.create_array(store=store, shape=data.shape, chunks=(16, 32), dtype="<f4", compressors=BLOSC3,
                                 zarr_format=3, fill_value=0)
    arr[...] = data
    arr[16:32, 64:96] = 0  # one chunk of the fill value: not stored
    data[16:32, 64:96] = 0
    counters = Counters(monkeypatch)
    if store_kind == "refused":  # the loop's decoder refuses every third chunk: the general path decodes those
        counted = _small_read.chunk_decoder

        def refusing(*args):
            made = counted(*args)
            calls = []

            def decode(*call):
                calls.append(1)
                return len(calls) % 3 != 0 and made.decode(*call)

            return ChunkDecoder(made.name, decode, made.read_size)

        monkeypatch.setattr(_small_read, "chunk_decoder", refusing)
    boxes = []
    real = _small_read._unstage
    monkeypatch.setattr(_small_read, "_unstage", lambda *a: boxes.append(a[1]) or real(*a))
    with zarrlayer.config.set({"decode_threads": threads}):
        np.testing.assert_array_equal(arr[...], data)
        np.testing.assert_array_equal(arr[16:80, 32:], data[16:80, 32:])
        np.testing.assert_array_equal(arr[5:90, 3:127], data[5:90, 3:127])  # edges are partial: chunk by chunk
    assert boxes and all(len(b) == 2 for b in boxes)
    if store_kind == "refused":
        assert counters.fast > 0 and counters.general > 0
    else:
        assert counters.general == 0 and counters.fast > 0


def test_a_damaged_chunk_inside_a_box_raises(tmp_path):
    data = np.arange(64 * 64, dtype="<f4").reshape(64, 64)
    arr = zarrlayer.create_array(store=str(tmp_path / "a.zarr"), shape=data.shape, chunks=(16, 16), dtype="<f4",
                                 compressors=BLOSC3, zarr_format=3)
    arr[...] = data
    path = tmp_path / "a.zarr" / "c" / "1" / "2"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ChunkDecodeError, match="c/1/2"):
        zarrlayer.open_array(str(tmp_path / "a.zarr"), mode="r")[...]


def test_chunk_directories_linked_inside_the_root_are_read_in_a_group(tmp_path, monkeypatch):
    data = np.arange(64 * 64, dtype="<f4").reshape(64, 64)
    arr = zarrlayer.create_array(store=str(tmp_path / "g" / "a.zarr"), shape=data.shape, chunks=(16, 16), dtype="<f4",
                                 compressors=BLOSC3, zarr_format=3)
    arr[...] = data
    chunks = tmp_path / "g" / "a.zarr" / "c"
    os.replace(chunks / "2", tmp_path / "g" / "row2")
    os.symlink(tmp_path / "g" / "row2", chunks / "2")  # a row directory linked elsewhere inside the root
    shutil.rmtree(chunks / "3")  # a row directory missing: fill
    data[48:] = 0
    counters = Counters(monkeypatch)
    reader = zarrlayer.open_array(LocalStore(tmp_path / "g"), path="a.zarr", mode="r")
    np.testing.assert_array_equal(reader[...], data)
    assert counters.fast == 12 and counters.general == 0


def test_small_chunks_take_one_thread_large_ones_share_the_pool(tmp_path, monkeypatch):
    assert _small_read.small_tasks(10_000, 1024, 2) == (1, 256)
    assert _small_read.small_tasks(10_000, 4096, 2)[0] == 1
    data = np.random.default_rng(0).normal(size=32 * 16384).astype("<f4")
    arr = zarrlayer.create_array(store=str(tmp_path / "a.zarr"), shape=data.shape, chunks=(16384,), dtype="<f4",
                                 compressors=BLOSC3, zarr_format=3)
    arr[...] = data
    names = set()
    real = blosc_fast.decompress_ctx

    def decode(*args):
        names.add(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(blosc_fast, "decompress_ctx", decode)
    with zarrlayer.config.set({"decode_threads": 2}):
        np.testing.assert_array_equal(zarrlayer.open_array(str(tmp_path / "a.zarr"), mode="r")[...], data)
    assert names and all(n.startswith("zarrlayer-codec") for n in names)
    names.clear()
    with zarrlayer.config.set({"decode_threads": 2}):
        np.testing.assert_array_equal(zarrlayer.open_array(str(tmp_path / "a.zarr"), mode="r")[:4096 * 7], data[:4096 * 7])
    assert names == {threading.current_thread().name}  # 2 chunks: inline


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_chunks_of_tens_of_kib_go_through_the_loop(tmp_path, monkeypatch, codec):
    data = np.random.default_rng(4).normal(size=10 * 8192 + 100).astype("<f4")  # 32 KiB chunks, a partial last one
    arr = zarrlayer.create_array(store=str(tmp_path / "a.zarr"), shape=data.shape, chunks=(8192,), dtype="<f4",
                                 compressors=CODECS[codec][0], zarr_format=3)
    arr[...] = data
    counters = Counters(monkeypatch)
    reader = zarrlayer.open_array(str(tmp_path / "a.zarr"), mode="r")
    np.testing.assert_array_equal(reader[...], data)
    np.testing.assert_array_equal(reader[5000:70001:3], data[5000:70001:3])
    assert counters.fast == 11 + 9 and counters.general == 0 and counters.names == {codec}


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_other_dtypes_and_zero_dimensions(tmp_path, monkeypatch, codec, zarr_format):
    counters = Counters(monkeypatch)
    v3, v2 = CODECS[codec]
    compressors = v3 if zarr_format == 3 else v2
    cases = [(">f8" if zarr_format == 2 else "<f8", (50, 7), (8, 4)), ("bool", (33,), (5,)), ("M8[s]", (20,), (6,)), ("<i2", (), ())]
    for i, (dtype, shape, chunks) in enumerate(cases):
        data = np.asarray(np.random.default_rng(i).integers(0, 1000, size=shape)).astype(dtype)
        arr = zarrlayer.create_array(store=str(tmp_path / f"{i}.zarr"), shape=shape, chunks=chunks or None, dtype=dtype,
                                     compressors=compressors, zarr_format=zarr_format)
        arr[...] = data
        got = zarrlayer.open_array(str(tmp_path / f"{i}.zarr"), mode="r")[...]
        assert np.asarray(got).dtype == data.dtype
        np.testing.assert_array_equal(got, data)
    assert counters.general == 0 and counters.fast > 0


def test_zip_store_values_go_through_the_loop(tmp_path, monkeypatch):
    from zarrlayer.storage import ZipStore

    data = np.arange(40 * 64, dtype="<f4").reshape(40, 64)
    with ZipStore(tmp_path / "a.zip", mode="w") as store:
        arr = zarrlayer.create_array(store=store, shape=data.shape, chunks=(8, 16), dtype="<f4", compressors=BLOSC3,
                                     zarr_format=3)
        arr[...] = data
    counters = Counters(monkeypatch)
    with ZipStore(tmp_path / "a.zip", mode="r") as store:
        np.testing.assert_array_equal(zarrlayer.open_array(store, mode="r")[3:, 5:], data[3:, 5:])
    assert counters.fast == 20 and counters.general == 0
