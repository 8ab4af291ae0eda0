"""The demo's caching tier: a fresh memory cache over a persistent disk cache, and their counters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["CACHE_SPEC", "build_cache", "cache_stats", "stats_delta"]

CACHE_SPEC: dict[str, Any] = {"memory": "1 GiB", "disk": {"max_bytes": "4 GiB"}}
"""What the demo asks for; the disk directory is filled in per run."""


def build_cache(url: str, cache_dir: Path) -> Any:
    """`MemoryCacheStore(DiskCacheStore(<store for url>))`, the memory tier new, the disk tier persistent."""
    from zarrlayer.cache import resolve_cache
    from zarrlayer.storage.resolve import make_store_path

    spec = {"memory": CACHE_SPEC["memory"], "disk": {**CACHE_SPEC["disk"], "directory": str(cache_dir)}}
    return resolve_cache(make_store_path(url, mode="r").store, spec)


def cache_stats(cache: Any) -> dict[str, int]:
    """Hits and misses of each tier, and the requests the bottom tier sent to the store."""
    flat: dict[str, int] = {}
    tier = cache.stats()
    while tier is not None:
        name = tier["tier"]
        flat[f"{name}_hits"] = tier["hits"]
        flat[f"{name}_misses"] = tier["misses"]
        flat["upstream_requests"] = tier["upstream_requests"]
        flat["upstream_bytes"] = tier["upstream_bytes"]
        tier = tier.get("inner")
    return flat


def stats_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The counters of one step."""
    return {name: after[name] - before.get(name, 0) for name in after}
