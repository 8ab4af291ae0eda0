"""`write_empty_chunks=True`: give every chunk of a written region a stored object, even one of only fill values.

zarrlayer's chunk writer never stores a chunk that holds only the fill value (a reader sees
the same values either way). Some users want every chunk present on disk (tools that count
objects, or to tell "written as fill" from "never written"); after the data is written,
each chunk of the region that has no object gets one holding the fill value.

The fill chunk is stored with `set_if_not_exists` under the chunk's write lock, so a chunk
that another writer stores meanwhile (this process or another) keeps its data: a chunk of
fill values never replaces one that exists.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["store_empty_chunks"]


def _chunk_ranges(region: Sequence[slice], shape: Sequence[int], chunks: Sequence[int]) -> list[range]:
    out = []
    for sl, n, c in zip(region, shape, chunks, strict=True):
        start, stop, _ = sl.indices(n)
        out.append(range(start // c, -(-stop // c)) if stop > start else range(0))
    return out


def store_empty_chunks(array: Any, region: Sequence[slice]) -> None:
    """Store a chunk of fill values for every chunk of `array` touched by `region` that has no stored object.

    Sharded arrays are left as they are: their inner chunks live inside shard objects.
    """
    from zarrlayer.core.engine import fill_scalar
    from zarrlayer.core.io import fetch
    from zarrlayer.core.locks import hold
    from zarrlayer.core.sync import sync

    if getattr(array, "shards", None):
        return
    metadata = array.metadata
    prefix = f"{array.path}/" if array.path else ""
    indices = itertools.product(*_chunk_ranges(region, array.shape, array.chunks))
    keys = [prefix + metadata.chunk_key(tuple(idx)) for idx in indices]
    if not keys:
        return
    store = array.store
    with hold(store, keys):
        found = fetch(store, [(key, None) for key in keys])
        missing = [key for key, value in zip(keys, found, strict=True) if value is None]
        if not missing:
            return
        chunk = np.full(tuple(array.chunks), fill_scalar(metadata), dtype=metadata.dtype)
        encoded = metadata.codecs.encode(chunk)

        async def _store_absent() -> None:
            await asyncio.gather(*(store.set_if_not_exists(key, encoded) for key in missing))

        sync(_store_absent())
