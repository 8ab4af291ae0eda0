"""Which cached chunks a change of array metadata can make stale.

When a cache refreshes an array's metadata document (`zarr.json` or `.zarray`) and finds it
different from the one it held, the chunks the change can affect must be fetched again:

- the shape grew or shrank (an append, a resize), nothing else changed: the chunks whose index,
  along a dimension that changed, is at or past the last chunk of the smaller extent (the old
  boundary chunk held fill values where the new data now is; chunks past a shrink are gone);
- anything else changed (chunk shape, key encoding, codecs, data type, fill value, order), or a
  document cannot be read: every chunk of the array.

Parsing is deliberately small and self-contained: the cache sits at the storage layer and does
not depend on the format package.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["ARRAY_DOCUMENTS", "stale_chunks"]

ARRAY_DOCUMENTS = frozenset({"zarr.json", ".zarray"})
"""The document names that may hold array metadata."""

_V3_LAYOUT: tuple[str, ...] = ("chunk_grid", "chunk_key_encoding", "codecs", "data_type", "fill_value", "storage_transformers")
_V2_LAYOUT: tuple[str, ...] = ("chunks", "dtype", "compressor", "filters", "fill_value", "order", "dimension_separator")

Predicate = Callable[[str], bool]


def _everything(_: str) -> bool:
    return True


def _load(document: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(document)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _int_list(value: Any) -> list[int] | None:
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return list(value)
    return None


def _v3_key_parser(doc: dict[str, Any]) -> Callable[[str], list[int] | None] | None:
    encoding = doc.get("chunk_key_encoding") or {"name": "default"}
    if not isinstance(encoding, dict):
        return None
    name = encoding.get("name")
    configuration = encoding.get("configuration") or {}
    if name == "default":
        separator = configuration.get("separator", "/")

        def default(key: str) -> list[int] | None:
            if key == "c":
                return []
            if not key.startswith("c" + separator):
                return None
            return _ints(key[2:].split(separator))

        return default
    if name == "v2":
        return _v2_key_parser(configuration.get("separator", "."))
    return None


def _v2_key_parser(separator: str) -> Callable[[str], list[int] | None]:
    def v2(key: str) -> list[int] | None:
        return _ints(key.split(separator))

    return v2


def _ints(parts: list[str]) -> list[int] | None:
    if not all(p.isdigit() for p in parts):
        return None
    return [int(p) for p in parts]


def stale_chunks(name: str, old: bytes, new: bytes) -> Predicate | None:
    """For the array document `name` changing from `old` to `new`: a test of chunk keys (relative to the
    array's directory) whose cached values must be dropped, or None when no chunk is affected."""
    if old == new:
        return None
    before, after = _load(old), _load(new)
    if before is None or after is None:
        return _everything
    if name == "zarr.json":
        if before.get("node_type") != "array" and after.get("node_type") != "array":
            return None  # a group's attributes changed: it has no chunks
        if before.get("node_type") != after.get("node_type"):
            return _everything
        layout, chunks = _V3_LAYOUT, (before.get("chunk_grid") or {}).get("configuration", {}).get("chunk_shape")
        parse = _v3_key_parser(before)
    else:
        layout, chunks = _V2_LAYOUT, before.get("chunks")
        separator = before.get("dimension_separator") or "."
        parse = _v2_key_parser(separator) if isinstance(separator, str) else None
    if any(before.get(field) != after.get(field) for field in layout):
        return _everything
    old_shape, new_shape, grid = _int_list(before.get("shape")), _int_list(after.get("shape")), _int_list(chunks)
    if old_shape is None or new_shape is None or grid is None or parse is None:
        return _everything
    if len(old_shape) != len(new_shape) or len(grid) != len(old_shape) or 0 in grid:
        return _everything
    first_stale = {
        d: min(o, n) // c for d, (o, n, c) in enumerate(zip(old_shape, new_shape, grid)) if o != n
    }
    if not first_stale:
        return None  # only attributes (or other fields that do not touch chunks) changed

    def boundary(key: str) -> bool:
        index = parse(key)
        if index is None:
            return False  # not a chunk key of this array
        if len(index) != len(grid):
            return True
        return any(index[d] >= first for d, first in first_stale.items())

    return boundary
