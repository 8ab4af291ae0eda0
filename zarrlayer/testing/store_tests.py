"""StoreTests: the conformance suite every zarrlayer store passes; subclass it to test yours.

    class TestMyStore(StoreTests):
        store_cls = MyStore                 # built as MyStore(**store_kwargs), closed after

        @pytest.fixture
        def store_kwargs(self, tmp_path):
            return {"root": tmp_path}       # (or override `store` to build a fresh, empty store)

Stores that are read-only by nature (an HTTP server) subclass `ReadOnlyStoreTests` and
provide `populated_store`: a store holding exactly `STORE_DATA`. Coroutines run on
zarrlayer's background loop (`run`), so the suite needs no pytest-asyncio.
"""

from __future__ import annotations

import asyncio
import inspect
import pickle
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

try:
    import pytest
except ImportError as e:  # pragma: no cover - pytest is what runs this module
    from zarrlayer.errors import missing_dependency

    raise missing_dependency("pytest", "test", "zarrlayer.testing.StoreTests") from e

from zarrlayer.errors import InvalidKeyError, ReadOnlyError
from zarrlayer.storage._base import (
    Buffer,
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)

__all__ = ["BAD_KEYS", "STORE_DATA", "ReadOnlyStoreTests", "StoreTests"]

T = TypeVar("T")

STORE_DATA: dict[str, bytes] = {
    "zarr.json": b'{"zarr_format": 3, "node_type": "group"}',
    "a/zarr.json": b'{"zarr_format": 3, "node_type": "array"}',
    "a/c/0/0": bytes(range(256)),
    "a/c/0/1": b"",
    "a/c/1/0": b"x" * 1000,
    "ab/.zarray": b'{"zarr_format": 2}',
    "ab/0.0": bytes((i * 7) % 251 for i in range(5000)),
}
"""What a populated store holds: nested keys, an empty value, and sibling names `a` and `ab`."""

BAD_KEYS = ["../x", "a/../../x", "/abs", "a//b", "a/./b", "./a", "a/", "a\\b", "a\x00b", "", ".", ".."]
"""Keys every store refuses with InvalidKeyError before touching its backend."""

_BAD_PREFIXES = ["../", "/abs/", "a//b/", "a/./b", "a\\b/", "a\x00/", "../../etc/"]

_RANGE_TABLE = [
    RangeByteRequest(0, 0), RangeByteRequest(0, 1), RangeByteRequest(5, 10), RangeByteRequest(10, 10),
    RangeByteRequest(250, 256), RangeByteRequest(250, 300), RangeByteRequest(256, 300),
    RangeByteRequest(300, 400), RangeByteRequest(0, 10**9),
    OffsetByteRequest(0), OffsetByteRequest(10), OffsetByteRequest(255), OffsetByteRequest(256),
    OffsetByteRequest(1000),
    SuffixByteRequest(0), SuffixByteRequest(1), SuffixByteRequest(10), SuffixByteRequest(256),
    SuffixByteRequest(1000),
]


def _present(value: Buffer | None) -> bytes:
    """`value` as bytes; fails the test when the store returned None (reported the key missing)."""
    assert value is not None, "expected a value, found None (the store reports the key missing)"
    return bytes(value)


def _slice(value: bytes, request: Any) -> bytes:
    """The Python slice a byte request means, written out independently of the stores."""
    if isinstance(request, RangeByteRequest):
        return value[request.start:request.end]
    if isinstance(request, OffsetByteRequest):
        return value[request.offset:]
    return value[-request.suffix:] if request.suffix else b""


class ReadOnlyStoreTests:
    """The read contract: subclasses provide `populated_store`, holding exactly STORE_DATA."""

    pickle_shares_data: bool = True
    """Whether an unpickled copy shares the original's data, seeing its later writes too."""
    pickle_compares_equal: bool | None = None
    """Whether an unpickled copy compares equal to the original (default: pickle_shares_data)."""

    def _pickle_equal(self) -> bool:
        return self.pickle_shares_data if self.pickle_compares_equal is None else self.pickle_compares_equal

    @pytest.fixture
    def populated_store(self) -> Store:
        raise NotImplementedError("subclasses provide a store that holds exactly STORE_DATA")

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine to completion (on zarrlayer's background loop)."""
        from zarrlayer.core.sync import sync

        return sync(coro)

    def keys(self, store: Store, prefix: str | None = None) -> list[str]:
        """Sorted keys of `store` (under `prefix` when given)."""
        async def collect() -> list[str]:
            source = store.list() if prefix is None else store.list_prefix(prefix)
            return sorted([k async for k in source])

        return self.run(collect())

    def list_dir(self, store: Store, prefix: str) -> list[str]:
        """`list_dir` as a list, in the store's order."""
        async def collect() -> list[str]:
            return [k async for k in store.list_dir(prefix)]

        return self.run(collect())

    def snapshot(self, store: Store) -> dict[str, bytes]:
        """Every key and value of `store`, to prove that an operation changed nothing."""
        return {k: _present(self.run(store.get(k))) for k in self.keys(store)}

    # -- get ------------------------------------------------------------------------

    def test_get_returns_every_value(self, populated_store: Store) -> None:
        for key, value in STORE_DATA.items():
            got = self.run(populated_store.get(key))
            assert isinstance(got, (bytes, memoryview)), f"{key}: {type(got).__name__}"
            assert bytes(got) == value, key

    @pytest.mark.parametrize("key", ["missing", "a/missing", "a/c/9/9", "a", "a/c", "zarr.json/x"])
    def test_get_missing_is_none(self, populated_store: Store, key: str) -> None:
        assert self.run(populated_store.get(key)) is None
        assert self.run(populated_store.get(key, RangeByteRequest(0, 4))) is None

    @pytest.mark.parametrize("request_", _RANGE_TABLE, ids=repr)
    def test_byte_request_equals_python_slicing(self, populated_store: Store, request_: Any) -> None:
        value = STORE_DATA["a/c/0/0"]
        got = self.run(populated_store.get("a/c/0/0", request_))
        assert _present(got) == _slice(value, request_)

    def test_every_small_range_equals_slicing(self, populated_store: Store) -> None:
        value = STORE_DATA["a/zarr.json"]
        n = len(value)
        requests: list[ByteRequest] = [RangeByteRequest(s, e) for s in range(0, n + 3, 3) for e in range(s, n + 4, 5)]
        requests += [OffsetByteRequest(o) for o in range(n + 3)] + [SuffixByteRequest(s) for s in range(n + 3)]
        got = self.run(populated_store.get_partial_values([("a/zarr.json", r) for r in requests]))
        assert [_present(g) for g in got] == [_slice(value, r) for r in requests]

    @pytest.mark.parametrize("request_", _RANGE_TABLE[:3] + _RANGE_TABLE[9:11] + _RANGE_TABLE[14:16], ids=repr)
    def test_byte_request_on_empty_value(self, populated_store: Store, request_: Any) -> None:
        assert _present(self.run(populated_store.get("a/c/0/1", request_))) == b""

    @pytest.mark.parametrize(
        "make", [lambda: RangeByteRequest(5, 2), lambda: RangeByteRequest(-1, 3), lambda: OffsetByteRequest(-1),
                 lambda: SuffixByteRequest(-2), lambda: RangeByteRequest(0.5, 2)],  # type: ignore[arg-type]
    )
    def test_negative_or_inverted_range_is_value_error(self, make: Any) -> None:
        with pytest.raises(ValueError):
            make()

    def test_get_partial_values_keeps_order_and_none_for_missing(self, populated_store: Store) -> None:
        requests = [
            ("ab/0.0", RangeByteRequest(100, 200)), ("missing", None), ("a/c/0/0", SuffixByteRequest(3)),
            ("zarr.json", None), ("a/missing", RangeByteRequest(0, 1)), ("ab/0.0", OffsetByteRequest(4990)),
        ]
        got = self.run(populated_store.get_partial_values(requests))
        expected = [
            STORE_DATA["ab/0.0"][100:200], None, STORE_DATA["a/c/0/0"][-3:], STORE_DATA["zarr.json"], None,
            STORE_DATA["ab/0.0"][4990:],
        ]
        assert [None if g is None else bytes(g) for g in got] == expected
        assert self.run(populated_store.get_partial_values([])) == []

    # -- exists, sizes, listing ---------------------------------------------------------

    def test_exists(self, populated_store: Store) -> None:
        for key in STORE_DATA:
            assert self.run(populated_store.exists(key)) is True, key
        for key in ["missing", "a", "a/c", "a/c/0/2"]:
            assert self.run(populated_store.exists(key)) is False, key

    def test_getsize(self, populated_store: Store) -> None:
        for key, value in STORE_DATA.items():
            assert self.run(populated_store.getsize(key)) == len(value), key
        with pytest.raises(FileNotFoundError):
            self.run(populated_store.getsize("missing"))

    def test_getsize_prefix(self, populated_store: Store) -> None:
        total = lambda p: sum(len(v) for k, v in STORE_DATA.items() if k.startswith(p))  # noqa: E731
        for prefix in ["", "a/", "a/c/", "ab/", "nothing/"]:
            assert self.run(populated_store.getsize_prefix(prefix)) == total(prefix), prefix

    def test_list(self, populated_store: Store) -> None:
        assert self.keys(populated_store) == sorted(STORE_DATA)

    @pytest.mark.parametrize("prefix", ["", "a/", "a/c/", "a/c/0/", "ab/", "nothing/"])
    def test_list_prefix(self, populated_store: Store, prefix: str) -> None:
        assert self.keys(populated_store, prefix) == sorted(k for k in STORE_DATA if k.startswith(prefix))

    @pytest.mark.parametrize(
        ("prefix", "expected"),
        [("", ["a", "ab", "zarr.json"]), ("a", ["c", "zarr.json"]), ("a/", ["c", "zarr.json"]),
         ("a/c/", ["0", "1"]), ("a/c/0", ["0", "1"]), ("ab/", [".zarray", "0.0"]), ("nothing/", [])],
    )
    def test_list_dir_children_without_duplicates(self, populated_store: Store, prefix: str, expected: list) -> None:
        children = self.list_dir(populated_store, prefix)
        assert len(children) == len(set(children)), children
        assert sorted(children) == expected

    def test_is_empty(self, populated_store: Store) -> None:
        assert self.run(populated_store.is_empty("")) is False
        assert self.run(populated_store.is_empty("a/c")) is False
        assert self.run(populated_store.is_empty("a/c/1/")) is False
        assert self.run(populated_store.is_empty("nothing")) is True
        assert self.run(populated_store.is_empty("a/c/2/")) is True

    # -- bad keys ---------------------------------------------------------------------

    @pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
    def test_bad_key_refused_by_every_read(self, populated_store: Store, key: str) -> None:
        for call in (
            lambda: populated_store.get(key), lambda: populated_store.get(key, RangeByteRequest(0, 1)),
            lambda: populated_store.exists(key), lambda: populated_store.getsize(key),
            lambda: populated_store.get_partial_values([("zarr.json", None), (key, None)]),
        ):
            with pytest.raises(InvalidKeyError):
                self.run(call())

    @pytest.mark.parametrize("prefix", _BAD_PREFIXES, ids=repr)
    def test_bad_prefix_refused_by_listing(self, populated_store: Store, prefix: str) -> None:
        with pytest.raises(InvalidKeyError):
            self.keys(populated_store, prefix)
        with pytest.raises(InvalidKeyError):
            self.list_dir(populated_store, prefix)
        with pytest.raises(InvalidKeyError):
            self.run(populated_store.is_empty(prefix))
        with pytest.raises(InvalidKeyError):
            self.run(populated_store.getsize_prefix(prefix))

    # -- identity, lifecycle, read-only ------------------------------------------------

    def test_pickle_round_trip(self, populated_store: Store) -> None:
        copy = pickle.loads(pickle.dumps(populated_store))
        assert type(copy) is type(populated_store)
        assert copy.read_only == populated_store.read_only
        assert self.snapshot(copy) == STORE_DATA
        if self._pickle_equal():
            assert copy == populated_store
            assert hash(copy) == hash(populated_store)

    def test_equality_and_views(self, populated_store: Store) -> None:
        assert populated_store == populated_store
        assert populated_store != object()
        view = populated_store.with_read_only(True)
        assert view.read_only is True
        assert view == populated_store.with_read_only(True)
        assert view.with_read_only(populated_store.read_only) == populated_store
        assert view.url == populated_store.url

    def test_read_only_view_refuses_writes(self, populated_store: Store) -> None:
        view = populated_store.with_read_only(True)
        for call in (
            lambda: view.set("zarr.json", b"changed"), lambda: view.set("new", b"x"),
            lambda: view.set_if_not_exists("new", b"x"), lambda: view.delete("zarr.json"),
            lambda: view.delete_dir("a"), lambda: view.clear(),
        ):
            with pytest.raises(ReadOnlyError):
                self.run(call())
        if view.supports_sync:
            with pytest.raises(ReadOnlyError):
                view.set_sync("zarr.json", b"changed")
            with pytest.raises(ReadOnlyError):
                view.delete_sync("zarr.json")
        assert self.snapshot(view) == STORE_DATA
        assert self.snapshot(populated_store) == STORE_DATA

    def test_repr_names_the_type_and_location(self, populated_store: Store) -> None:
        text = repr(populated_store)
        assert type(populated_store).__name__ in text
        assert isinstance(populated_store.url, str) and "://" in populated_store.url

    def test_with_statement_closes_and_close_is_a_plain_call(self, populated_store: Store) -> None:
        with populated_store as s:
            assert s is populated_store
            assert _present(self.run(s.get("zarr.json"))) == STORE_DATA["zarr.json"]
        assert populated_store._is_open is False
        close: Callable[[], object] = populated_store.close  # typed as returning something, to check it is None
        result = close()
        assert result is None, f"close() must be a plain call, it returned {type(result).__name__}"
        assert close() is None
        assert _present(self.run(populated_store.get("a/c/0/0"))) == STORE_DATA["a/c/0/0"]

    def test_async_spellings_stay_as_extras(self, populated_store: Store) -> None:
        async def scenario() -> bytes | None:
            async with populated_store as s:
                assert s is populated_store and s._is_open
                await s._ensure_open()
                value = await s.get("zarr.json")
            assert not populated_store._is_open
            await populated_store.aclose()
            return None if value is None else bytes(value)

        assert self.run(scenario()) == STORE_DATA["zarr.json"]

    def test_open_and_is_open(self, populated_store: Store) -> None:
        assert inspect.iscoroutinefunction(type(populated_store).open)
        assert isinstance(inspect.getattr_static(type(populated_store), "open"), classmethod)
        populated_store.close()
        self.run(populated_store._open())
        assert populated_store._is_open is True
        with pytest.raises(ValueError, match="already open"):
            self.run(populated_store._open())
        self.run(populated_store._ensure_open())
        populated_store.close()
        assert populated_store._is_open is False

    def test_with_read_only_defaults_to_writable(self, populated_store: Store) -> None:
        default = inspect.signature(type(populated_store).with_read_only).parameters["read_only"].default
        assert default is False
        view = populated_store.with_read_only(True)
        assert view.read_only is True
        if populated_store.supports_writes and not populated_store.read_only:
            assert view.with_read_only().read_only is False
            assert view.with_read_only() == populated_store

    def test_concurrent_gets(self, populated_store: Store) -> None:
        keys = [list(STORE_DATA)[i % len(STORE_DATA)] for i in range(100)]

        async def many() -> list[Any]:
            return list(await asyncio.gather(*(populated_store.get(k) for k in keys)))

        assert [bytes(v) for v in self.run(many())] == [STORE_DATA[k] for k in keys]

    def test_thread_concurrent_reads(self, populated_store: Store) -> None:
        errors: list[BaseException] = []

        def reader(offset: int) -> None:
            try:
                for i in range(20):
                    key = list(STORE_DATA)[(i + offset) % len(STORE_DATA)]
                    assert _present(self.run(populated_store.get(key))) == STORE_DATA[key]
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        _run_threads(reader, 6)
        assert errors == []

    def test_sync_fast_path_reads_agree(self, populated_store: Store) -> None:
        if not populated_store.supports_sync:
            with pytest.raises(NotImplementedError):
                populated_store.get_sync("zarr.json")
            return
        for key, value in STORE_DATA.items():
            assert _present(populated_store.get_sync(key)) == value
            assert populated_store.exists_sync(key) is True
        assert populated_store.get_sync("missing") is None
        assert populated_store.exists_sync("a") is False
        requests = [("ab/0.0", RangeByteRequest(7, 70)), ("nope", None), ("a/c/0/0", SuffixByteRequest(5))]
        assert populated_store.get_many_sync(requests) == self.run(populated_store.get_partial_values(requests))
        with pytest.raises(InvalidKeyError):
            populated_store.get_sync("../x")


def _run_threads(target: Any, n: int) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class StoreTests(ReadOnlyStoreTests):
    """The full contract for writable stores: subclasses provide `store`, a fresh empty writable store."""

    store_cls: type[Store] | None = None
    """The store class the default `store` fixture builds as `store_cls(**store_kwargs)`."""

    @pytest.fixture
    def store_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `store_cls` (override, e.g. to point at a tmp_path)."""
        return {}

    @pytest.fixture
    def store(self, store_kwargs: dict[str, Any]) -> Iterator[Store]:
        """A fresh, empty, writable store; override it, or set `store_cls` (and `store_kwargs`)."""
        if self.store_cls is None:
            raise NotImplementedError("set store_cls or override the `store` fixture with a fresh, empty store")
        store = self.store_cls(**store_kwargs)
        yield store
        store.close()

    @pytest.fixture
    def populated_store(self, store: Store) -> Store:
        for key, value in STORE_DATA.items():
            self.run(store.set(key, value))
        return store

    def reopen(self, store: Store) -> Store:
        """A new store over the location of `store` (default: a pickle round trip); override where
        pickling does not reach the same data, or to reopen from disk in another way."""
        return pickle.loads(pickle.dumps(store))

    def test_store_cls_open_constructs_and_opens(self, store: Store, store_kwargs: dict[str, Any]) -> None:
        if self.store_cls is None:  # the suite builds its store itself: hold the class to the shape of `open`
            assert isinstance(inspect.getattr_static(type(store), "open"), classmethod)
            assert inspect.iscoroutinefunction(type(store).open)
            return
        opened = self.run(self.store_cls.open(**store_kwargs))
        try:
            assert type(opened) is self.store_cls and opened._is_open is True
            with pytest.raises(ValueError, match="already open"):
                self.run(opened._open())
        finally:
            opened.close()
        assert opened._is_open is False

    def test_close_leaves_every_write_durable(self, store: Store) -> None:
        for key, value in STORE_DATA.items():
            self.run(store.set(key, value))
        self.run(store.set("a/c/0/0", b"rewritten"))
        self.run(store.delete("ab/0.0"))
        expected = {**STORE_DATA, "a/c/0/0": b"rewritten"}
        del expected["ab/0.0"]
        store.close()
        assert self.snapshot(self.reopen(store)) == expected
        assert self.snapshot(store) == expected

    def test_fresh_store_is_empty_and_writable(self, store: Store) -> None:
        assert store.read_only is False
        assert self.keys(store) == []
        assert self.run(store.is_empty()) is True

    @pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "numpy", "numpy-2d"])
    def test_set_get_round_trip_buffers(self, store: Store, kind: str) -> None:
        value, expected = _buffer(kind)
        self.run(store.set("c/0", value))
        assert _present(self.run(store.get("c/0"))) == expected
        assert self.run(store.getsize("c/0")) == len(expected)

    def test_set_copies_the_callers_buffer(self, store: Store) -> None:
        buf = bytearray(b"original")
        self.run(store.set("k", buf))
        buf[:] = b"mutated!"
        assert _present(self.run(store.get("k"))) == b"original"

    def test_set_rejects_non_buffers(self, store: Store) -> None:
        for value in ("text", 12, None, [1, 2]):
            with pytest.raises(TypeError):
                self.run(store.set("k", value))  # type: ignore[arg-type]
        assert self.keys(store) == []

    def test_set_overwrites_and_empty_values(self, store: Store) -> None:
        self.run(store.set("a/b", b"first value"))
        self.run(store.set("a/b", b"2nd"))
        self.run(store.set("empty", b""))
        assert _present(self.run(store.get("a/b"))) == b"2nd"
        assert _present(self.run(store.get("empty"))) == b""
        assert self.run(store.exists("empty")) is True
        assert self.keys(store) == ["a/b", "empty"]

    def test_set_if_not_exists(self, store: Store) -> None:
        self.run(store.set("k", b"old"))
        self.run(store.set_if_not_exists("k", b"new"))
        self.run(store.set_if_not_exists("fresh/k", b"made"))
        assert _present(self.run(store.get("k"))) == b"old"
        assert _present(self.run(store.get("fresh/k"))) == b"made"

    def test_delete(self, populated_store: Store) -> None:
        self.run(populated_store.delete("a/c/0/0"))
        self.run(populated_store.delete("a/c/0/0"))
        self.run(populated_store.delete("never/was"))
        expected = {k: v for k, v in STORE_DATA.items() if k != "a/c/0/0"}
        assert self.snapshot(populated_store) == expected
        assert self.run(populated_store.get("a/c/0/0")) is None

    def test_delete_dir_spares_siblings(self, populated_store: Store) -> None:
        self.run(populated_store.delete_dir("a"))
        assert self.keys(populated_store) == ["ab/.zarray", "ab/0.0", "zarr.json"]
        self.run(populated_store.delete_dir("ab/"))
        self.run(populated_store.delete_dir("nothing/"))
        assert self.keys(populated_store) == ["zarr.json"]
        assert self.list_dir(populated_store, "") == ["zarr.json"]

    def test_listing_forgets_emptied_directories(self, populated_store: Store) -> None:
        for key in ["a/c/0/0", "a/c/0/1"]:
            self.run(populated_store.delete(key))
        assert sorted(self.list_dir(populated_store, "a/c/")) == ["1"]
        assert self.run(populated_store.is_empty("a/c/0")) is True

    def test_clear(self, populated_store: Store) -> None:
        self.run(populated_store.clear())
        assert self.keys(populated_store) == []
        assert self.run(populated_store.is_empty("")) is True
        self.run(populated_store.set("again", b"1"))
        assert self.keys(populated_store) == ["again"]

    @pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
    def test_bad_key_refused_by_every_write(self, populated_store: Store, key: str) -> None:
        calls = [
            lambda: populated_store.set(key, b"x"), lambda: populated_store.set_if_not_exists(key, b"x"),
            lambda: populated_store.delete(key),
        ]
        for call in calls:
            with pytest.raises(InvalidKeyError):
                self.run(call())
        if populated_store.supports_sync:
            with pytest.raises(InvalidKeyError):
                populated_store.set_sync(key, b"x")
            with pytest.raises(InvalidKeyError):
                populated_store.delete_sync(key)
        assert self.snapshot(populated_store) == STORE_DATA

    @pytest.mark.parametrize("prefix", _BAD_PREFIXES, ids=repr)
    def test_bad_prefix_refused_by_delete_dir(self, populated_store: Store, prefix: str) -> None:
        with pytest.raises(InvalidKeyError):
            self.run(populated_store.delete_dir(prefix))
        assert self.snapshot(populated_store) == STORE_DATA

    def test_read_only_view_sees_later_writes(self, store: Store) -> None:
        view = store.with_read_only(True)
        self.run(store.set("k", b"v"))
        assert _present(self.run(view.get("k"))) == b"v"
        assert self.keys(view) == ["k"]

    def test_pickle_after_writes(self, store: Store) -> None:
        self.run(store.set("k/0", b"data"))
        copy = pickle.loads(pickle.dumps(store))
        assert _present(self.run(copy.get("k/0"))) == b"data"
        if self._pickle_equal():
            assert copy == store
        if self.pickle_shares_data:
            self.run(store.set("k/1", b"later"))
            assert _present(self.run(copy.get("k/1"))) == b"later"

    def test_concurrent_sets_and_gets(self, store: Store) -> None:
        async def scenario() -> list[Any]:
            await asyncio.gather(*(store.set(f"c/{i % 10}/{i}", i.to_bytes(4, "little") * i) for i in range(100)))
            return list(await asyncio.gather(*(store.get(f"c/{i % 10}/{i}") for i in range(100))))

        got = self.run(scenario())
        assert [bytes(v) for v in got] == [i.to_bytes(4, "little") * i for i in range(100)]
        assert len(self.keys(store)) == 100
        assert sorted(self.list_dir(store, "c")) == [str(i) for i in range(10)]

    def test_thread_concurrent_writes_and_reads(self, store: Store) -> None:
        errors: list[BaseException] = []

        def worker(t: int) -> None:
            try:
                for i in range(15):
                    key, value = f"t{t}/{i}", f"{t}-{i}".encode() * 10
                    self.run(store.set(key, value))
                    assert _present(self.run(store.get(key))) == value
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        _run_threads(worker, 6)
        assert errors == []
        assert len(self.keys(store)) == 90

    def test_sync_fast_path_writes_agree(self, store: Store) -> None:
        if not store.supports_sync:
            with pytest.raises(NotImplementedError):
                store.set_sync("s/0", b"sync")
            return
        store.set_sync("s/0", bytearray(b"sync"))
        assert _present(self.run(store.get("s/0"))) == b"sync"
        self.run(store.set("s/1", b"async"))
        assert _present(store.get_sync("s/1")) == b"async"
        assert store.exists_sync("s/0") and store.exists_sync("s/1")
        store.delete_sync("s/0")
        store.delete_sync("s/0")
        assert self.run(store.get("s/0")) is None
        assert self.keys(store) == ["s/1"]


def _buffer(kind: str) -> tuple[Any, bytes]:
    """A contiguous value of the given buffer kind and the bytes a store must return for it."""
    raw = bytes(range(200)) * 3
    if kind == "bytes":
        return raw, raw
    if kind == "bytearray":
        return bytearray(raw), raw
    if kind == "memoryview":
        return memoryview(raw)[10:500], raw[10:500]
    import numpy as np

    array = np.arange(120, dtype="<f8")
    if kind == "numpy":
        return array, array.tobytes()
    return array.reshape(10, 12), array.tobytes()

