"""Store lifecycle as zarr-python 3's (issue 11, point 1), on every built-in store, wrapper and cache.

The issue's inputs: a plain `store.close()` on a ZipStore did nothing (a coroutine never
awaited) and left an invalid archive; `with ZipStore(...) as store:` raised TypeError;
`await LocalStore.open(path)` failed; `with_read_only()` defaulted to True.
"""

from __future__ import annotations

import inspect
import logging
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pytest

from zarrlayer.cache import DiskCacheStore, MemoryCacheStore
from zarrlayer.core.sync import sync
from zarrlayer.storage import LocalStore, LoggingStore, MemoryStore, Store, WrapperStore, ZipStore
from zarrlayer.testing import StoreTests


def _stacks(tmp_path: Path) -> dict[str, Store]:
    zip_path = tmp_path / "z.zip"
    return {
        "memory": MemoryStore(),
        "local": LocalStore(tmp_path / "local"),
        "zip": ZipStore(zip_path, mode="w"),
        "wrapper(zip)": WrapperStore(ZipStore(tmp_path / "w.zip", mode="w")),
        "logging(local)": LoggingStore(LocalStore(tmp_path / "logged"), log_level="WARNING"),
        "memory-cache(zip)": MemoryCacheStore(ZipStore(tmp_path / "mc.zip", mode="w"), "1 MiB"),
        "disk-cache(local)": DiskCacheStore(LocalStore(tmp_path / "dl"), tmp_path / "cache", "1 MiB"),
        "memory-cache(disk-cache(zip))": MemoryCacheStore(
            DiskCacheStore(ZipStore(tmp_path / "mdz.zip", mode="w"), tmp_path / "cache2", "1 MiB"), "1 MiB"
        ),
    }


def _innermost(store: Store) -> Store:
    while isinstance(store, WrapperStore):
        store = store.store
    return store


_KINDS = [
    "memory", "local", "zip", "wrapper(zip)", "logging(local)", "memory-cache(zip)", "disk-cache(local)",
    "memory-cache(disk-cache(zip))",
]


@pytest.mark.parametrize("kind", _KINDS)
def test_plain_close_and_with_statement_on_every_stack(tmp_path: Path, kind: str) -> None:
    store = _stacks(tmp_path)[kind]
    with store as s:
        assert s is store
        sync(s.set("zarr.json", b"{}"))
        sync(s.set("c/0", b"old"))
        sync(s.set("c/0", b"new"))
    assert store._is_open is False
    inner = _innermost(store)
    if isinstance(inner, ZipStore):  # a valid, compacted archive as soon as the block ends
        with zipfile.ZipFile(inner.path) as zf:
            assert zf.testzip() is None
            assert sorted(zf.namelist()) == ["c/0", "zarr.json"] and zf.read("c/0") == b"new"
    assert store.close() is None  # idempotent, and not a coroutine
    assert bytes(sync(store.get("c/0"))) == b"new"  # a closed store reopens on use
    store.close()


def test_every_close_is_synchronous() -> None:
    import zarrlayer.storage as storage

    classes = [storage.LocalStore, storage.MemoryStore, storage.ZipStore, storage.WrapperStore,
               storage.LoggingStore, MemoryCacheStore, DiskCacheStore, storage.FsspecStore, storage.ObjectStore]
    for cls in classes:
        assert not inspect.iscoroutinefunction(cls.close), cls
        assert isinstance(inspect.getattr_static(cls, "open"), classmethod), cls
        assert inspect.signature(cls.with_read_only).parameters["read_only"].default is False, cls


def test_await_store_open_constructs_and_opens(tmp_path: Path) -> None:
    local = sync(LocalStore.open(tmp_path / "new"))
    assert local._is_open and (tmp_path / "new").is_dir() and not local.read_only
    with pytest.raises(FileNotFoundError):
        sync(LocalStore.open(tmp_path / "missing", read_only=True))
    with pytest.raises(FileNotFoundError):
        sync(LocalStore.open(tmp_path / "missing", mode="r+"))
    writable = sync(LocalStore.open(tmp_path / "new", mode="r+"))
    assert writable._is_open and not writable.read_only
    memory = sync(MemoryStore.open({"k": b"v"}, read_only=True))
    assert memory._is_open and memory.read_only and bytes(sync(memory.get("k"))) == b"v"
    wrapped = sync(WrapperStore.open(MemoryStore))
    assert type(wrapped) is WrapperStore and wrapped._is_open and wrapped.store._is_open
    logged = sync(LoggingStore.open(LocalStore, tmp_path / "logged", log_level="WARNING"))
    assert logged._is_open and isinstance(logged.store, LocalStore) and logged.log_level == "WARNING"
    for store in (local, writable, memory, wrapped, logged):
        with pytest.raises(ValueError, match="already open"):
            sync(store._open())
        store.close()
        assert not store._is_open


def test_with_read_only_default_gives_a_writable_view(tmp_path: Path) -> None:
    for store in (LocalStore(tmp_path / "l", read_only=True), MemoryStore(read_only=True),
                  MemoryCacheStore(MemoryStore(read_only=True), "1 MiB")):
        view = store.with_read_only()
        assert view.read_only is False
        sync(view.set("k", b"v"))
        assert bytes(sync(store.get("k"))) == b"v"
    ZipStore(tmp_path / "z.zip", mode="w").close()
    writable = ZipStore(tmp_path / "z.zip", mode="r").with_read_only()
    assert writable.read_only is False
    sync(writable.set("k", b"v"))
    writable.close()
    assert zipfile.ZipFile(tmp_path / "z.zip").read("k") == b"v"


class TestLoggingStore(StoreTests):
    pickle_shares_data = False
    pickle_compares_equal = True

    @pytest.fixture
    def store(self) -> Any:
        store = LoggingStore(MemoryStore(), log_level="WARNING")
        yield store
        store.close()


def test_logging_store_logs_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    handler = logging.NullHandler()
    store = LoggingStore(MemoryStore(), log_level="INFO", log_handler=handler)
    with caplog.at_level(logging.INFO, logger=store.logger.name):
        sync(store.set("a/b", b"1"))
        assert bytes(sync(store.get("a/b"))) == b"1"
        sync(store.exists("a/b"))
        assert store.get_sync("a/b") == b"1"
    assert dict(store.counter) == {"set": 1, "get": 1, "exists": 1, "get_sync": 1}
    messages = [r.getMessage() for r in caplog.records]
    assert " Calling MemoryStore.set(a/b)" in messages
    assert any(m.startswith("Finished MemoryStore.get(a/b) [") for m in messages)
    copy = pickle.loads(pickle.dumps(store))
    assert isinstance(copy, LoggingStore) and copy.log_level == "INFO"
    params = list(inspect.signature(LoggingStore).parameters)
    assert params == ["store", "log_level", "log_handler"]
