"""`resolve_cache(store, cache)`: the `cache=` option of open/open_group/open_array, and size parsing.

Accepted specs:

- `None`: the store unchanged;
- `"memory"`: a `MemoryCacheStore` of `DEFAULT_MEMORY_BYTES` (1 GiB);
- `"disk"`: a `DiskCacheStore` of `DEFAULT_DISK_BYTES` (10 GiB) in
  `platformdirs.user_cache_dir("zarrlayer")`;
- a dict, e.g. `{"memory": "2 GiB", "disk": {"directory": "/scratch/c", "max_bytes": "20 GiB"},
  "metadata_ttl": 60, "chunk_ttl": 3600}`: each tier present is stacked as memory over disk over the store;
  a tier's value is a size, `True` (its default size) or a dict of its options;
- a ready `Store` (already wrapping the data store): used as is, as a read-only view when
  `store` is read-only (mode 'r'); one over another location is refused.
"""

from __future__ import annotations

import math
import re
from typing import Any

from zarrlayer.storage._base import Store

__all__ = ["DEFAULT_DISK_BYTES", "DEFAULT_MEMORY_BYTES", "default_cache_directory", "parse_size", "resolve_cache"]

DEFAULT_MEMORY_BYTES = 2**30
"""Default budget of a memory cache: 1 GiB."""
DEFAULT_DISK_BYTES = 10 * 2**30
"""Default budget of a disk cache: 10 GiB."""

_UNITS = {
    "": 1, "b": 1,
    "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9, "t": 10**12, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40,
}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_TIER_OPTIONS = {"memory": {"max_bytes"}, "disk": {"directory", "max_bytes", "eviction_policy", "namespace"}}


def parse_size(value: int | str, what: str = "size") -> int:
    """Bytes from an int or a string like "512 MiB", "2GB", "1.5 GiB" (decimal kB/MB/GB, binary KiB/MiB/GiB)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"expected {what} as an int or a string like '512 MiB', found {type(value).__name__}: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected a non-negative {what} in bytes, found {value}")
        return value
    match = _SIZE.match(value)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"expected {what} like '512 MiB', '2GB' or '1.5 GiB' (units B, kB, MB, GB, TB, KiB, MiB, GiB, TiB), "
            f"found {value!r}"
        )
    number = float(match.group(1)) * _UNITS[unit]
    if not math.isfinite(number):
        raise ValueError(f"expected a finite {what}, found {value!r}")
    return int(number)


def default_cache_directory() -> str:
    """The per-user cache directory disk caches use when none is given."""
    import platformdirs

    return platformdirs.user_cache_dir("zarrlayer")


def _check_ttl(value: Any, name: str = "metadata_ttl") -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"expected {name} as None or a non-negative number of seconds, found {value!r}")
    return float(value)


def _tier_options(name: str, value: Any, default_bytes: int) -> dict[str, Any]:
    if value is True:
        return {"max_bytes": default_bytes}
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return {"max_bytes": parse_size(value, f"the {name} cache size")}
    if isinstance(value, dict):
        unknown = set(value) - _TIER_OPTIONS[name]
        if unknown:
            raise ValueError(
                f"unknown option(s) {sorted(unknown)} for the {name} cache; expected some of {sorted(_TIER_OPTIONS[name])}"
            )
        options = dict(value)
        options["max_bytes"] = parse_size(options.get("max_bytes", default_bytes), f"the {name} cache max_bytes")
        return options
    raise TypeError(
        f"expected the {name} cache as True, a size (int or '2 GiB') or a dict of options, "
        f"found {type(value).__name__}: {value!r}"
    )


def _ready_cache(store: Store, cache: Store) -> Store:
    if cache.url != store.url:
        raise ValueError(
            f"expected cache= to be a store over the data being opened ({store.url}), "
            f"found one over {cache.url}"
        )
    return cache.with_read_only(True) if store.read_only and not cache.read_only else cache


def resolve_cache(store: Store, cache: None | str | dict[str, Any] | Store) -> Store:
    """`store` wrapped in the caching tiers that `cache` asks for (see the module docstring)."""
    from zarrlayer.cache.disk import DiskCacheStore
    from zarrlayer.cache.memory import MemoryCacheStore

    if not isinstance(store, Store):
        raise TypeError(f"expected a zarrlayer Store to cache, found {type(store).__name__}")
    if cache is None:
        return store
    if isinstance(cache, Store):
        return _ready_cache(store, cache)
    if cache == "memory":
        return MemoryCacheStore(store, DEFAULT_MEMORY_BYTES)
    if cache == "disk":
        return DiskCacheStore(store, default_cache_directory(), DEFAULT_DISK_BYTES)
    if not isinstance(cache, dict):
        raise ValueError(
            "expected cache= as None, 'memory', 'disk', a dict like "
            "{'memory': '2 GiB', 'disk': {'directory': ..., 'max_bytes': '20 GiB'}, 'metadata_ttl': 60} "
            f"or a Store, found {cache!r}"
        )
    unknown = set(cache) - {"memory", "disk", "metadata_ttl", "chunk_ttl"}
    if unknown:
        raise ValueError(
            f"unknown cache option(s) {sorted(unknown)}; expected some of ['chunk_ttl', 'disk', 'memory', 'metadata_ttl']"
        )
    ttl = _check_ttl(cache.get("metadata_ttl"))
    chunk_ttl = _check_ttl(cache.get("chunk_ttl"), "chunk_ttl")
    tiers = {name: cache[name] for name in ("memory", "disk") if cache.get(name) not in (None, False)}
    if not tiers:
        raise ValueError(f"expected a 'memory' and/or 'disk' tier in the cache spec, found {cache!r}")
    disk = _tier_options("disk", tiers["disk"], DEFAULT_DISK_BYTES) if "disk" in tiers else None
    memory = _tier_options("memory", tiers["memory"], DEFAULT_MEMORY_BYTES) if "memory" in tiers else None
    if disk is not None:
        directory = disk.pop("directory", None) or default_cache_directory()
        store = DiskCacheStore(store, directory, disk.pop("max_bytes"), metadata_ttl=ttl, chunk_ttl=chunk_ttl, **disk)
    if memory is not None:
        store = MemoryCacheStore(store, memory["max_bytes"], metadata_ttl=ttl, chunk_ttl=chunk_ttl)
    return store
