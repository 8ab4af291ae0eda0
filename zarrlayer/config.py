"""Process-wide settings, with environment-variable defaults and a context manager to override.

    zarrlayer.config.set(remote_backend="obstore", max_concurrency=32)
    with zarrlayer.config.override(allow_unsafe_codecs=True):
        ...
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

__all__ = ["Settings", "get", "set", "override"]


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity under taskset, containers or dask), else all."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"expected an int in the environment variable {name}, found {value!r}") from None


@dataclass(frozen=True)
class Settings:
    """Every tunable of zarrlayer; see docs/configuration.md."""

    remote_backend: Literal["fsspec", "obstore"] = "fsspec"
    """Which store implicit creation makes for s3://, gs://, http(s):// ... URLs."""
    max_concurrency: int = 16
    """Requests in flight per remote store, shared by every thread of the process."""
    decode_threads: int = _usable_cpus()
    """Threads that decode and encode chunks in batches."""
    allow_unsafe_codecs: bool = False
    """Whether codecs that can run code on decode (numcodecs' pickle) may be used."""
    retries: int = 5
    """Attempts after the first for transient remote errors (timeouts, 429, 5xx)."""
    default_zarr_format: Literal[2, 3] = 3
    """The format new arrays and groups use when none is given."""

    @classmethod
    def from_env(cls) -> "Settings":
        """The defaults, as the ZARRLAYER_* environment variables change them (checked like `set`)."""
        values = dict(
            remote_backend=os.environ.get("ZARRLAYER_REMOTE_BACKEND", "fsspec"),
            max_concurrency=_env_int("ZARRLAYER_MAX_CONCURRENCY", 16),
            decode_threads=_env_int("ZARRLAYER_DECODE_THREADS", _usable_cpus()),
            allow_unsafe_codecs=os.environ.get("ZARRLAYER_ALLOW_UNSAFE_CODECS", "") in ("1", "true", "yes"),
        )
        try:
            _validate(values)
        except ValueError as e:
            raise ValueError(f"{e} (from the ZARRLAYER_* environment variables)") from None
        return cls(**values)


_lock = threading.Lock()
_names = {f.name for f in fields(Settings)}


def get() -> Settings:
    """The settings in force now."""
    return _current


def _validate(changes: dict[str, Any]) -> None:
    unknown = changes.keys() - _names
    if unknown:
        raise TypeError(f"unknown zarrlayer setting(s) {sorted(unknown)}; expected some of {sorted(_names)}")
    if "remote_backend" in changes and changes["remote_backend"] not in ("fsspec", "obstore"):
        raise ValueError(f"remote_backend must be 'fsspec' or 'obstore', found {changes['remote_backend']!r}")
    for name in ("max_concurrency", "decode_threads"):
        if name in changes and (not isinstance(changes[name], int) or changes[name] < 1):
            raise ValueError(f"{name} must be a positive int, found {changes[name]!r}")
    if "retries" in changes and (not isinstance(changes["retries"], int) or changes["retries"] < 0):
        raise ValueError(f"retries must be a non-negative int, found {changes['retries']!r}")
    if "default_zarr_format" in changes and changes["default_zarr_format"] not in (2, 3):
        raise ValueError(f"default_zarr_format must be 2 or 3, found {changes['default_zarr_format']!r}")
    if "allow_unsafe_codecs" in changes and not isinstance(changes["allow_unsafe_codecs"], bool):
        raise ValueError(f"allow_unsafe_codecs must be a bool, found {changes['allow_unsafe_codecs']!r}")


_current = Settings.from_env()


def set(**changes: Any) -> Settings:  # noqa: A001 - mirrors dask.config.set
    """Change settings for the whole process; returns the new settings."""
    global _current
    _validate(changes)
    with _lock:
        _current = replace(_current, **changes)
        return _current


@contextmanager
def override(**changes: Any) -> Iterator[Settings]:
    """Change settings inside a `with` block, restoring them afterwards."""
    global _current
    _validate(changes)
    with _lock:
        previous = _current
        _current = replace(_current, **changes)
    try:
        yield _current
    finally:
        with _lock:
            _current = previous
