"""from_zarrlayer / to_zarrlayer on the threaded scheduler: chunks, names, batched reads, aligned writes."""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

import zarrlayer  # noqa: E402
from zarrlayer.integrations.dask import UnalignedWriteError, from_zarrlayer, to_zarrlayer  # noqa: E402
from zarrlayer.storage import LocalStore, MemoryStore  # noqa: E402
from integ_helpers import record_store_calls  # noqa: E402

DATA = np.arange(100 * 60, dtype="f8").reshape(100, 60)


def _array(store, *, shards=(20, 30), chunks=(10, 10), name="v"):
    arr = zarrlayer.create_array(store, name=name, shape=DATA.shape, dtype="f8", chunks=chunks, shards=shards)
    arr[...] = DATA
    return arr


def test_default_chunks_are_shards_then_chunks(tmp_path):
    sharded = _array(LocalStore(str(tmp_path / "s.zarr")))
    x = from_zarrlayer(sharded)
    assert x.chunks == ((20,) * 5, (30, 30))
    np.testing.assert_array_equal(x.compute(), DATA)
    plain = _array(LocalStore(str(tmp_path / "p.zarr")), shards=None)
    assert from_zarrlayer(plain).chunks == ((10,) * 10, (10,) * 6)
    assert from_zarrlayer(plain, chunks=(50, 60)).chunks == ((50, 50), (60,))


def test_open_by_path_and_component(tmp_path):
    path = str(tmp_path / "c.zarr")
    _array(LocalStore(path), name="group/v")
    x = from_zarrlayer(path, component="group/v", cache="memory")
    np.testing.assert_array_equal(x[5:55:3].compute(), DATA[5:55:3])


def test_names_are_deterministic_and_track_content(tmp_path):
    path = str(tmp_path / "n.zarr")
    arr = _array(LocalStore(path))
    first = from_zarrlayer(arr).name
    assert first == from_zarrlayer(zarrlayer.open_array(LocalStore(path), path="v", mode="r")).name
    assert first != from_zarrlayer(arr, chunks=(50, 60)).name
    assert from_zarrlayer(arr, name="mine").name == "mine"
    other = _array(LocalStore(str(tmp_path / "other.zarr")))
    assert from_zarrlayer(other).name != first
    arr.resize((120, 60))
    assert from_zarrlayer(zarrlayer.open_array(LocalStore(path), path="v", mode="r")).name != first


def test_each_task_reads_its_chunks_in_one_call(tmp_path, counting_store):
    inner = LocalStore(str(tmp_path / "b.zarr"))
    _array(inner, shards=None)
    store = counting_store(inner)
    arr = zarrlayer.open_array(store, path="v", mode="r")
    calls = []

    class Counted:
        shape, dtype, chunks, shards, ndim = arr.shape, arr.dtype, arr.chunks, arr.shards, arr.ndim

        def __getitem__(self, key):
            calls.append(key)
            return arr[key]

    x = from_zarrlayer(Counted(), chunks=(50, 60), name="counted")
    store.keys_read.clear()
    np.testing.assert_array_equal(x.compute(scheduler="threads"), DATA)
    assert len(calls) == 2
    assert len(set(store.chunk_keys())) == 60


def test_write_rechunks_to_storage_units(tmp_path, monkeypatch):
    calls = record_store_calls(monkeypatch)
    target = zarrlayer.create_array(
        MemoryStore(), name="w", shape=DATA.shape, dtype="f8", chunks=(10, 10), shards=(20, 30)
    )
    x = da.from_array(DATA, chunks=(7, 13))
    result = to_zarrlayer(x, target)
    np.testing.assert_array_equal(result[...], DATA)
    (call,) = calls
    for sizes, unit in zip(call["chunks"], (20, 30)):
        assert all(size % unit == 0 for size in sizes[:-1]), call["chunks"]


def test_write_creates_target(tmp_path):
    path = str(tmp_path / "new.zarr")
    x = da.from_array(DATA, chunks=(25, 20))
    arr = to_zarrlayer(x, path, component="made", chunks=(25, 20))
    assert arr.chunks == (25, 20)
    np.testing.assert_array_equal(zarrlayer.open_array(path, path="made", mode="r")[...], DATA)


def test_region_write_alignment(tmp_path):
    target = _array(MemoryStore(), shards=(20, 30))
    to_zarrlayer(da.zeros((20, 30), chunks=7), target, region=(slice(20, 40), slice(30, 60)))
    assert target[20:40, 30:60].sum() == 0
    np.testing.assert_array_equal(target[0:20], DATA[0:20])
    before = target[...]
    with pytest.raises(UnalignedWriteError, match="not aligned"):
        to_zarrlayer(da.ones((10, 30), chunks=5), target, region=(slice(10, 20), slice(30, 60)))
    np.testing.assert_array_equal(target[...], before)
    with pytest.raises(ValueError, match="shape"):
        to_zarrlayer(da.ones((20, 20)), target, region=(slice(0, 20), slice(0, 30)))


def test_stores_tokenize_from_identity_not_contents(monkeypatch):
    from dask.base import tokenize

    big = MemoryStore({"zarr.json": b"{}", "a/c/0": b"x" * 1000})

    def no_pickling(self):
        raise AssertionError("tokenize pickled the store")

    monkeypatch.setattr(MemoryStore, "__reduce__", no_pickling)
    assert tokenize(big) == tokenize(big)
    assert tokenize(big) != tokenize(MemoryStore())
    assert tokenize(LocalStore("/tmp/a.zarr")) == tokenize(LocalStore("/tmp/a.zarr"))
    assert tokenize(LocalStore("/tmp/a.zarr")) != tokenize(LocalStore("/tmp/b.zarr"))


def test_arrays_tokenize_natively_without_importing_the_integration():
    """`__dask_tokenize__` on stores and arrays: deterministic names before any zarrlayer dask entry point ran."""
    import subprocess
    import sys

    code = (
        "import zarrlayer, sys\n"
        "from dask.base import tokenize\n"
        "a = zarrlayer.create_array(store={}, shape=(4,), dtype='i4')\n"
        "b = zarrlayer.create_array(store={}, shape=(5,), dtype='i4')\n"
        "assert 'zarrlayer.integrations.dask' not in sys.modules\n"
        "assert tokenize(a) == tokenize(a) and tokenize(a) != tokenize(b)\n"
        "a.__class__.__reduce__ = None\n"
        "print(tokenize(a))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_bad_region_for_a_new_array_creates_nothing(tmp_path):
    from zarrlayer.errors import ZarrlayerError
    from zarrlayer.integrations.dask import InvalidWriteError

    path = tmp_path / "never.zarr"
    with pytest.raises(InvalidWriteError, match="region has shape") as info:
        to_zarrlayer(da.ones((10, 10), chunks=5), str(path), component="v", region=(slice(0, 5), slice(0, 10)))
    assert isinstance(info.value, ZarrlayerError) and isinstance(info.value, ValueError)
    assert not path.exists()
    with pytest.raises(InvalidWriteError, match="must be slices"):
        to_zarrlayer(da.ones((10,), chunks=5), str(path), component="v", region=(3,))
    assert not path.exists()


def test_write_uses_no_lock(monkeypatch):
    calls = record_store_calls(monkeypatch)
    target = _array(MemoryStore(), shards=(20, 30))
    to_zarrlayer(da.from_array(DATA * 3, chunks=(20, 30)), target)
    assert [call["lock"] for call in calls] == [False]
    np.testing.assert_array_equal(target[...], DATA * 3)
