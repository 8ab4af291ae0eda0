"""Each tier (memory, disk, stacked) answers warm reads without the upstream, and forgets on writes."""

from __future__ import annotations

import pytest
from cache_helpers import DATA

from zarrlayer.core.sync import sync
from zarrlayer.errors import InvalidKeyError, ReadOnlyError
from zarrlayer.storage._base import OffsetByteRequest, RangeByteRequest, SuffixByteRequest


async def _read_everything(cache) -> dict:
    keys = sorted(DATA)
    return {
        "values": [await cache.get(k) for k in keys],
        "batch": await cache.get_partial_values([(k, None) for k in keys] + [("nope", None)]),
        "range": await cache.get("a/c/0", RangeByteRequest(10, 20)),
        "suffix": await cache.get("a/c/1", SuffixByteRequest(5)),
        "exists": [await cache.exists(k) for k in ("zarr.json", "missing/zarr.json")],
        "size": await cache.getsize("a/c/1"),
        "list": sorted([k async for k in cache.list()]),
        "prefix": sorted([k async for k in cache.list_prefix("a/")]),
        "dir": sorted([k async for k in cache.list_dir("")]),
        "missing": await cache.get("a/c/9"),
    }


def test_warm_reads_make_no_upstream_request(make_cache) -> None:
    cache, upstream = make_cache()
    cold = sync(_read_everything(cache))
    assert upstream.reads > 0
    upstream.reset()
    warm = sync(_read_everything(cache))
    assert warm == cold
    assert upstream.reads == 0, upstream.counts
    assert cold["values"] == [DATA[k] for k in sorted(DATA)]
    assert cold["range"] == DATA["a/c/0"][10:20] and cold["suffix"] == DATA["a/c/1"][-5:]
    assert cold["exists"] == [True, False] and cold["size"] == len(DATA["a/c/1"])
    assert cold["list"] == sorted(DATA) and cold["dir"] == ["a", "b", "zarr.json"]
    assert cold["missing"] is None and cold["batch"][-1] is None


def test_ranges_are_cached_per_request_and_served_from_whole_values(make_cache) -> None:
    cache, upstream = make_cache()
    first, second = RangeByteRequest(0, 8), OffsetByteRequest(1000)
    assert sync(cache.get("a/c/0", first)) == DATA["a/c/0"][:8]
    assert sync(cache.get("a/c/0", second)) == DATA["a/c/0"][1000:]
    assert upstream.counts["get"] == 2
    assert sync(cache.get("a/c/0", first)) == DATA["a/c/0"][:8]
    assert upstream.counts["get"] == 2
    assert sync(cache.get("a/c/0")) == DATA["a/c/0"]
    assert sync(cache.get("a/c/0", RangeByteRequest(3, 700))) == DATA["a/c/0"][3:700]
    assert upstream.counts["get"] == 3


def test_exists_and_size_follow_from_a_cached_value(make_cache) -> None:
    cache, upstream = make_cache()
    sync(cache.get("a/c/1"))
    sync(cache.get("gone"))
    upstream.reset()
    assert sync(cache.exists("a/c/1")) and not sync(cache.exists("gone"))
    assert sync(cache.getsize("a/c/1")) == len(DATA["a/c/1"])
    with pytest.raises(FileNotFoundError, match="gone"):
        sync(cache.getsize("gone"))
    assert upstream.reads == 0


def test_misses_are_cached_and_a_write_through_the_cache_ends_them(make_cache) -> None:
    cache, upstream = make_cache()
    assert sync(cache.get("a/c/7")) is None
    assert sync(cache.get("a/c/7")) is None
    assert not sync(cache.exists("a/c/7"))
    assert upstream.counts["get"] == 1 and upstream.counts["exists"] == 0
    sync(cache.set("a/c/7", b"seven"))
    assert sync(cache.get("a/c/7")) == b"seven"
    assert sync(cache.exists("a/c/7"))
    assert sync(cache.get("a/c/7", RangeByteRequest(1, 3))) == b"ev"


def test_set_replaces_every_cached_form_of_the_key(make_cache) -> None:
    cache, upstream = make_cache()
    request = RangeByteRequest(0, 3)
    sync(cache.get("a/c/1", request))
    sync(cache.getsize("a/c/1"))
    sync(cache.get("a/c/1"))
    sync(cache.set("a/c/1", b"new value"))
    assert sync(cache.get("a/c/1", request)) == b"new"
    assert sync(cache.getsize("a/c/1")) == 9
    assert sync(cache.get("a/c/1")) == b"new value"


def test_writes_invalidate_listings_of_every_parent(make_cache) -> None:
    cache, upstream = make_cache()
    listings = lambda: (  # noqa: E731
        sorted(k for k in sync(_collect(cache.list_dir("a/c")))),
        sorted(sync(_collect(cache.list_dir("")))),
        sorted(sync(_collect(cache.list_prefix("a/")))),
        sorted(sync(_collect(cache.list()))),
    )
    before = listings()
    sync(cache.set("a/c/2", b"2"))
    sync(cache.set("new/zarr.json", b"{}"))
    after = listings()
    assert after[0] == before[0] + ["2"]
    assert after[1] == sorted(before[1] + ["new"])
    assert after[2] == sorted(before[2] + ["a/c/2"])
    assert after[3] == sorted(before[3] + ["a/c/2", "new/zarr.json"])


def test_delete_and_delete_dir_invalidate_values_and_listings(make_cache) -> None:
    cache, upstream = make_cache()
    assert sorted(sync(_collect(cache.list_dir("a/c")))) == ["0", "1"]
    assert sync(cache.get("a/c/0")) == DATA["a/c/0"]
    sync(cache.delete("a/c/0"))
    assert sorted(sync(_collect(cache.list_dir("a/c")))) == ["1"]
    assert sync(cache.get("a/c/0")) is None and not sync(cache.exists("a/c/0"))
    sync(cache.get("a/zarr.json"))
    sync(cache.delete_dir("a"))
    assert sync(cache.get("a/zarr.json")) is None and sync(cache.get("a/c/1")) is None
    assert sorted(sync(_collect(cache.list_dir("")))) == ["b", "zarr.json"]
    assert sync(cache.get("b/.zarray")) == DATA["b/.zarray"]


def test_clear_cache_spares_the_store_and_clear_empties_it(make_cache) -> None:
    cache, upstream = make_cache()
    sync(_read_everything(cache))
    cache.clear_cache()
    upstream.reset()
    assert sync(cache.get("a/c/0")) == DATA["a/c/0"]
    assert upstream.counts["get"] == 1
    sync(cache.clear())
    assert sync(cache.get("a/c/0")) is None
    assert sync(_collect(cache.list())) == []
    assert upstream.store.store_dict == {}


def test_bad_keys_and_read_only_change_nothing(make_cache) -> None:
    cache, upstream = make_cache()
    with pytest.raises(InvalidKeyError):
        sync(cache.get("../etc/passwd"))
    with pytest.raises(InvalidKeyError):
        sync(cache.set("a//b", b"x"))
    assert upstream.reads == 0
    sync(cache.get("a/c/1"))
    view = cache.with_read_only(True)
    with pytest.raises(ReadOnlyError):
        sync(view.set("a/c/1", b"changed"))
    with pytest.raises(ReadOnlyError):
        sync(view.delete("a/c/1"))
    upstream.reset()
    assert sync(view.get("a/c/1")) == DATA["a/c/1"] and sync(cache.get("a/c/1")) == DATA["a/c/1"]
    assert upstream.reads == 0


def test_sync_fast_path_consults_the_cache(make_cache) -> None:
    cache, upstream = make_cache()
    assert cache.supports_sync
    assert cache.get_many_sync([("a/c/0", None), ("a/c/1", RangeByteRequest(0, 3)), ("zz", None)]) == [
        DATA["a/c/0"], b"one", None,
    ]
    upstream.reset()
    assert cache.get_sync("a/c/0") == DATA["a/c/0"] and cache.get_sync("zz") is None
    assert sync(cache.get("a/c/1", RangeByteRequest(0, 3))) == b"one"
    assert cache.exists_sync("a/c/0") and not cache.exists_sync("zz")
    assert upstream.reads == 0
    cache.set_sync("zz", b"now here")
    assert cache.get_sync("zz") == b"now here" and sync(cache.get("zz")) == b"now here"
    cache.delete_sync("a/c/0")
    assert cache.get_sync("a/c/0") is None and sync(cache.get("a/c/0")) is None


def test_upstream_errors_reach_the_caller_and_are_not_cached(make_cache) -> None:
    cache, upstream = make_cache()
    upstream.fail_with = ConnectionError("upstream down")
    with pytest.raises(ConnectionError, match="upstream down"):
        sync(cache.get("a/c/0"))
    upstream.fail_with = None
    assert sync(cache.get("a/c/0")) == DATA["a/c/0"]


def test_stats_count_hits_misses_and_upstream_bytes(make_cache, tier) -> None:
    cache, upstream = make_cache()
    sync(cache.get("a/c/0"))
    sync(cache.get("a/c/0"))
    sync(cache.get("a/c/1"))
    stats = cache.stats()
    assert stats["tier"] == ("disk" if tier == "disk" else "memory")
    assert (stats["hits"], stats["misses"]) == (1, 2)
    assert stats["upstream_bytes"] == len(DATA["a/c/0"]) + len(DATA["a/c/1"])
    assert stats["upstream_requests"] == 2
    assert stats["entries"] >= 2 and stats["bytes"] > 0 and stats["evictions"] == 0
    if tier == "stacked":
        assert stats["inner"]["tier"] == "disk"
        assert (stats["inner"]["hits"], stats["inner"]["misses"]) == (0, 2)
    cache.clear_cache()
    sync(cache.get("a/c/0"))
    if tier == "stacked":
        assert cache.stats()["inner"]["misses"] == 3


async def _collect(iterator) -> list:
    return [item async for item in iterator]
