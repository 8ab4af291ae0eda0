"""MemoryStore: the StoreTests contract, plain-bytes dict snapshots and named stores."""

from __future__ import annotations

import pickle
import uuid

import numpy as np
import pytest

from zarrlayer.core.sync import sync
from zarrlayer.storage import MemoryStore
from zarrlayer.testing import StoreTests


class TestMemoryStore(StoreTests):
    store_cls = MemoryStore
    pickle_shares_data = False
    pickle_compares_equal = True


class TestNamedMemoryStore(StoreTests):
    @pytest.fixture
    def store(self) -> MemoryStore:
        name = f"test-{uuid.uuid4().hex}"
        yield MemoryStore.named(name)
        MemoryStore.drop_named(name)


def test_user_dict_holds_plain_bytes() -> None:
    d: dict[str, bytes] = {}
    store = MemoryStore(d)
    sync(store.set("a", bytearray(b"xy")))
    sync(store.set("b", np.arange(3, dtype="u1")))
    sync(store.set("c", memoryview(b"abc")[1:]))
    assert d == {"a": b"xy", "b": b"\x00\x01\x02", "c": b"bc"}
    assert all(type(v) is bytes for v in d.values())
    assert pickle.loads(pickle.dumps(d)) == d


def test_existing_dict_is_read_and_shared() -> None:
    d = {"zarr.json": b"{}"}
    store = MemoryStore(d)
    assert sync(store.get("zarr.json")) == b"{}"
    d["late"] = b"1"
    assert sync(store.exists("late"))
    assert MemoryStore(d) == store
    assert MemoryStore(dict(d)) == store  # a snapshot with the same contents, as zarr-python compares
    assert MemoryStore({**d, "other": b"2"}) != store
    assert store.store_dict is d


def test_pickled_plain_store_is_an_independent_snapshot() -> None:
    store = MemoryStore({"k": b"v"})
    copy = pickle.loads(pickle.dumps(store))
    sync(copy.set("other", b"x"))
    assert sync(store.get("other")) is None
    assert copy.store_dict == {"k": b"v", "other": b"x"}


def test_read_only_pickles_as_read_only() -> None:
    store = MemoryStore({"k": b"v"}, read_only=True)
    assert pickle.loads(pickle.dumps(store)).read_only is True


def test_named_store_is_shared_by_name() -> None:
    name = f"shared-{uuid.uuid4().hex}"
    try:
        first = MemoryStore.named(name)
        sync(first.set("k", b"v"))
        second = MemoryStore.named(name)
        assert second == first and second.url == f"memory://{name}"
        assert sync(second.get("k")) == b"v"
        assert MemoryStore.is_named(name)
        assert pickle.loads(pickle.dumps(first)).store_dict is first.store_dict
    finally:
        MemoryStore.drop_named(name)
    assert not MemoryStore.is_named(name)


@pytest.mark.parametrize("name", ["", "a/b", None])
def test_bad_names_refused(name: object) -> None:
    with pytest.raises(ValueError):
        MemoryStore.named(name)  # type: ignore[arg-type]


def test_non_dict_refused() -> None:
    with pytest.raises(TypeError):
        MemoryStore([("a", b"b")])  # type: ignore[arg-type]


def test_non_contiguous_buffers_are_copied_in_c_order() -> None:
    strided = np.arange(120, dtype="<f8").reshape(10, 12)[:, ::3]
    store = MemoryStore()
    sync(store.set("k", strided))
    assert store.store_dict["k"] == np.ascontiguousarray(strided).tobytes()
