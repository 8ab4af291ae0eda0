"""`zarrlayer cache stats|clear`: a disk cache directory as a whole (every dataset cached in it).

Sizes are the bytes of the cached values (what the byte budget counts); the files on disk
(SQLite database, its journal and the value files) are reported separately. A directory
with no cache in it is not an error: there is simply nothing cached yet.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from zarrlayer._cli._format import human_bytes
from zarrlayer.cache.disk import VALUE_BYTES_SQL
from zarrlayer.errors import StoreError, missing_dependency

__all__ = ["CacheSummary", "cache_clear", "cache_directory", "cache_stats", "summarize"]

_DB = "cache.db"
@dataclass(frozen=True)
class CacheSummary:
    """What a disk cache directory holds: entries, bytes of the cached values, files on disk, budget, datasets."""

    directory: Path
    entries: int
    value_bytes: int
    disk_bytes: int
    budget: int | None
    stores: int


def cache_directory(directory: str | None) -> Path:
    """`directory`, or the default disk cache directory when None."""
    from zarrlayer.cache._spec import default_cache_directory

    return Path(directory or default_cache_directory()).expanduser().absolute()


def _disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def summarize(path: Path) -> CacheSummary | None:
    """The summary of the disk cache in `path`, or None when there is none (never creates one)."""
    db = path / _DB
    if not db.is_file():
        return None
    try:
        with closing(sqlite3.connect(str(db), timeout=60)) as con:
            entries, value_bytes = con.execute(VALUE_BYTES_SQL).fetchone()
            row = con.execute("SELECT value FROM Settings WHERE key = 'size_limit'").fetchone()
            keys = con.execute("SELECT key FROM Cache").fetchall()
    except sqlite3.Error as error:
        raise StoreError(f"expected a zarrlayer disk cache in {path}, found an unreadable {_DB}: {error}") from error
    namespaces = {k.split(":", 1)[0] for (k,) in keys if isinstance(k, str) and ":" in k}
    return CacheSummary(path, int(entries), int(value_bytes), _disk_bytes(path), row[0] if row else None, len(namespaces))


def _none_here(path: Path) -> str:
    where = "no such directory" if not path.exists() else f"no {_DB} in it"
    return f"no zarrlayer disk cache in {path} ({where}): nothing is cached there yet"


def cache_stats(directory: str | None) -> str:
    """What the disk cache in `directory` holds: entries, bytes, files on disk, budget and datasets."""
    path = cache_directory(directory)
    summary = summarize(path)
    if summary is None:
        return _none_here(path)
    rows = [
        ("directory", str(path)),
        ("entries", str(summary.entries)),
        ("size", f"{human_bytes(summary.value_bytes)} ({summary.value_bytes} bytes of cached values)"),
        ("files", f"{human_bytes(summary.disk_bytes)} on disk (database and value files)"),
        ("budget", human_bytes(summary.budget) if summary.budget is not None else "unknown"),
        ("stores", str(summary.stores)),
    ]
    return "\n".join(f"{name:<10} {value}" for name, value in rows)


def cache_clear(directory: str | None) -> str:
    """Empty the disk cache in `directory`; says how much was removed (nothing when there is no cache)."""
    path = cache_directory(directory)
    summary = summarize(path)
    if summary is None:
        return _none_here(path).replace("nothing is cached there yet", "nothing to clear")
    try:
        import diskcache
    except ImportError:
        raise missing_dependency("diskcache", "cache", "zarrlayer cache clear") from None
    cache = diskcache.Cache(str(path))
    try:
        cache.clear(retry=True)
    finally:
        cache.close()
    return f"cleared {summary.entries} entries ({human_bytes(summary.value_bytes)} of cached values) from {path}"
