"""Fetching the metadata documents of nodes: every candidate at once, or zarr.json first.

Opening a node of unknown format asks for `zarr.json` and the v2 documents (`.zarray`,
`.zgroup`, `.zattrs`) in one batch: one round trip whichever format it is. On a remote
store that has already served a `zarr.json` in this process, the v2 requests are almost
always 404s that the server and client still pay for (on a 2-core machine about 1 ms of a
5 ms round trip), so there `zarr.json` is asked for alone and the v2 documents only for
paths where it is missing (one more round trip for those). The result is the same either
way: a `zarr.json` wins over v2 documents at the same path, so they are never needed
where it exists. A location whose hinted fetch finds v2 documents but no `zarr.json` loses
its hint, and the next open asks for everything at once again.

Caching stores (those with `drop_cached`) always get every candidate: a cache keeps the
answers, misses included, so a later open, in this process or another one sharing a disk
cache, is served without a request; a hinted open would leave the v2 documents uncached
and send those requests upstream then.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from zarrlayer.core.io import fetch, join_path
from zarrlayer.format import V3_METADATA_KEY
from zarrlayer.storage._base import Buffer, Store

__all__ = ["fetch_documents", "v3_seen"]

_SEEN_MAX = 1024
_seen: OrderedDict[tuple[str, str], None] = OrderedDict()
_seen_lock = threading.Lock()


def _location(store: Store) -> tuple[str, str]:
    return (type(store).__qualname__, store.url)


def v3_seen(store: Store) -> bool:
    """Whether `store` is remote, not a cache, and its location has served a `zarr.json` in this process."""
    if store.supports_sync or hasattr(store, "drop_cached"):
        return False
    with _seen_lock:
        return _location(store) in _seen


def _remember(store: Store, seen: bool) -> None:
    if store.supports_sync or hasattr(store, "drop_cached"):
        return
    key = _location(store)
    with _seen_lock:
        if not seen:
            _seen.pop(key, None)
            return
        _seen[key] = None
        _seen.move_to_end(key)
        while len(_seen) > _SEEN_MAX:
            _seen.popitem(last=False)


def fetch_documents(store: Store, paths: Sequence[str], names: Sequence[str]) -> list[Buffer | None]:
    """The documents `names` at each of `paths`, laid out path by path (None where missing or not needed).

    A v2 document is left None (not fetched) at a path whose `zarr.json` exists, only when the
    store's location has shown v3 before (see the module docstring); `names` starts with
    `zarr.json` when it is among them.
    """
    width = len(names)
    if width < 2 or names[0] != V3_METADATA_KEY or not v3_seen(store):
        every = fetch(store, [(join_path(p, n), None) for p in paths for n in names])
        if V3_METADATA_KEY in names:
            column = names.index(V3_METADATA_KEY)
            if any(every[i * width + column] is not None for i in range(len(paths))):
                _remember(store, True)
        return every
    first = fetch(store, [(join_path(p, V3_METADATA_KEY), None) for p in paths])
    values: list[Buffer | None] = [None] * (len(paths) * width)
    missing = [i for i, doc in enumerate(first) if doc is None]
    for i, doc in enumerate(first):
        values[i * width] = doc
    if missing:
        rest = fetch(store, [(join_path(paths[i], n), None) for i in missing for n in names[1:]])
        for k, i in enumerate(missing):
            values[i * width + 1 : (i + 1) * width] = rest[k * (width - 1) : (k + 1) * (width - 1)]
        if len(missing) == len(paths) and any(doc is not None for doc in rest):
            _remember(store, False)
    return values
