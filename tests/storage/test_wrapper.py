"""WrapperStore forwards the whole contract to the store it wraps."""

from __future__ import annotations

import pickle
import uuid

import pytest

from zarrlayer.core.sync import sync
from zarrlayer.storage import MemoryStore, WrapperStore
from zarrlayer.testing import StoreTests


class TestWrapperOverMemory(StoreTests):
    pickle_shares_data = False
    pickle_compares_equal = True

    @pytest.fixture
    def store(self) -> WrapperStore:
        return WrapperStore(MemoryStore())


class TestWrapperOverNamedMemory(StoreTests):
    @pytest.fixture
    def store(self) -> WrapperStore:
        name = f"wrap-{uuid.uuid4().hex}"
        yield WrapperStore(MemoryStore.named(name))
        MemoryStore.drop_named(name)


def test_wrapper_reports_inner_identity() -> None:
    inner = MemoryStore({"k": b"v"})
    wrapper = WrapperStore(inner)
    assert wrapper.url == inner.url and wrapper.supports_sync
    assert wrapper.with_read_only(True).store == inner.with_read_only(True)
    assert pickle.loads(pickle.dumps(wrapper)).store.store_dict == {"k": b"v"}
    assert sync(wrapper.get("k")) == b"v"


def test_wrapper_refuses_non_stores() -> None:
    with pytest.raises(TypeError):
        WrapperStore({"k": b"v"})  # type: ignore[arg-type]
