"""`zarrlayer cache stats|clear`: a disk cache directory as a whole (every dataset cached in it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zarrlayer._cli._format import human_bytes
from zarrlayer.errors import NodeNotFoundError, missing_dependency

__all__ = ["cache_clear", "cache_directory", "cache_stats"]

_DB = "cache.db"


def cache_directory(directory: str | None) -> Path:
    """`directory`, or the default disk cache directory when None."""
    from zarrlayer.cache._spec import default_cache_directory

    return Path(directory or default_cache_directory()).expanduser().absolute()


def _open(path: Path) -> Any:
    """The diskcache.Cache in `path`; never creates one where there was none."""
    if not (path / _DB).is_file():
        raise NodeNotFoundError(
            f"expected a zarrlayer disk cache in {path} (a {_DB} file), found "
            + ("no such directory" if not path.exists() else f"no {_DB}")
        )
    try:
        import diskcache
    except ImportError:
        raise missing_dependency("diskcache", "cache", "zarrlayer cache") from None
    return diskcache.Cache(str(path))


def _namespaces(cache: Any) -> int:
    return len({key.split(":", 1)[0] for key in cache.iterkeys() if isinstance(key, str) and ":" in key})


def cache_stats(directory: str | None) -> str:
    """What the disk cache in `directory` holds: entries, bytes, budget and datasets."""
    path = cache_directory(directory)
    cache = _open(path)
    try:
        rows = [
            ("directory", str(path)),
            ("entries", str(len(cache))),
            ("size", f"{human_bytes(cache.volume())} ({cache.volume()} bytes)"),
            ("budget", human_bytes(cache.size_limit)),
            ("stores", str(_namespaces(cache))),
        ]
    finally:
        cache.close()
    return "\n".join(f"{name:<10} {value}" for name, value in rows)


def cache_clear(directory: str | None) -> str:
    """Empty the disk cache in `directory`; says how much was removed."""
    path = cache_directory(directory)
    cache = _open(path)
    try:
        entries, volume = len(cache), cache.volume()
        cache.clear(retry=True)
    finally:
        cache.close()
    return f"cleared {entries} entries ({human_bytes(volume)}) from {path}"
