"""Process-wide settings, with environment-variable defaults, set for the process or inside a `with` block.

    zarrlayer.config.set(remote_backend="obstore", max_concurrency=32)   # for the process
    with zarrlayer.config.set({"async.concurrency": 32}):                  # zarr-python's spelling, scoped
        ...
    zarrlayer.config.get("max_concurrency")                               # one value; get() is all of them
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from zarrlayer.errors import ArgumentError, ArgumentTypeError, UnknownSettingError

__all__ = [
    "ZARR_KEYS",
    "Settings",
    "get",
    "override",
    "pprint",
    "refresh",
    "reset",
    "set",
    "to_dict",
    "update",
]


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity under taskset, containers or dask), else all."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _env_bool(name: str, default: bool) -> bool:
    """A boolean environment variable: 1/true/yes/on or 0/false/no/off (any case); anything else a ValueError."""
    value = os.environ.get(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ArgumentError(
        f"expected a boolean in the environment variable {name} (one of {', '.join(_TRUE + _FALSE[:-1])}), "
        f"found {value!r}"
    )


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ArgumentError(f"expected a number of seconds in the environment variable {name}, found {value!r}") from None


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ArgumentError(f"expected an int in the environment variable {name}, found {value!r}") from None


@dataclass(frozen=True)
class Settings:
    """Every tunable of zarrlayer; see docs/configuration.md."""

    remote_backend: Literal["fsspec", "obstore"] = "fsspec"
    """Which store implicit creation makes for s3://, gs://, http(s):// ... URLs."""
    max_concurrency: int = 128
    """Requests in flight per remote store, shared by every thread of the process."""
    decode_threads: int = _usable_cpus()
    """Threads that decode and encode chunks in batches."""
    allow_unsafe_codecs: bool = False
    """Whether codecs that can run code on decode (numcodecs' pickle) may be used."""
    retries: int = 5
    """Attempts after the first for transient remote errors (timeouts, 429, 5xx)."""
    request_timeout: float = 60.0
    """Seconds one remote request attempt may take (connect to last byte) before it is retried."""
    read_deadline: float = 300.0
    """Seconds one remote read may take over all its attempts; then RemoteStoreError."""
    default_zarr_format: Literal[2, 3] = 3
    """The format new arrays and groups use when none is given."""

    @classmethod
    def from_env(cls) -> "Settings":
        """The defaults, as the ZARRLAYER_* environment variables change them (checked like `set`)."""
        values: dict[str, Any] = dict(
            remote_backend=os.environ.get("ZARRLAYER_REMOTE_BACKEND", "fsspec"),
            max_concurrency=_env_int("ZARRLAYER_MAX_CONCURRENCY", 128),
            decode_threads=_env_int("ZARRLAYER_DECODE_THREADS", _usable_cpus()),
            allow_unsafe_codecs=_env_bool("ZARRLAYER_ALLOW_UNSAFE_CODECS", False),
            retries=_env_int("ZARRLAYER_RETRIES", 5),
            request_timeout=_env_float("ZARRLAYER_REQUEST_TIMEOUT", 60.0),
            read_deadline=_env_float("ZARRLAYER_READ_DEADLINE", 300.0),
            default_zarr_format=_env_int("ZARRLAYER_DEFAULT_ZARR_FORMAT", 3),
        )
        try:
            _validate(values)
        except ValueError as e:
            raise ArgumentError(f"{e} (from the ZARRLAYER_* environment variables)") from None
        return cls(**values)


_lock = threading.Lock()
_names = {f.name for f in fields(Settings)}


def _validate(changes: dict[str, Any]) -> None:
    unknown = changes.keys() - _names
    if unknown:
        raise ArgumentTypeError(f"unknown zarrlayer setting(s) {sorted(unknown)}; expected some of {sorted(_names)}")
    if "remote_backend" in changes and changes["remote_backend"] not in ("fsspec", "obstore"):
        raise ArgumentError(f"remote_backend must be 'fsspec' or 'obstore', found {changes['remote_backend']!r}")
    for name in ("max_concurrency", "decode_threads"):
        if name in changes and (not isinstance(changes[name], int) or changes[name] < 1):
            raise ArgumentError(f"{name} must be a positive int, found {changes[name]!r}")
    if "retries" in changes and (not isinstance(changes["retries"], int) or changes["retries"] < 0):
        raise ArgumentError(f"retries must be a non-negative int, found {changes['retries']!r}")
    for name in ("request_timeout", "read_deadline"):
        value = changes.get(name)
        if name in changes and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
            raise ArgumentError(f"{name} must be a positive number of seconds, found {value!r}")
    if "default_zarr_format" in changes and changes["default_zarr_format"] not in (2, 3):
        raise ArgumentError(f"default_zarr_format must be 2 or 3, found {changes['default_zarr_format']!r}")
    if "allow_unsafe_codecs" in changes and not isinstance(changes["allow_unsafe_codecs"], bool):
        raise ArgumentError(f"allow_unsafe_codecs must be a bool, found {changes['allow_unsafe_codecs']!r}")


_current = Settings.from_env()

ZARR_KEYS: dict[str, str] = {
    "default_zarr_format": "default_zarr_format",
    "async.concurrency": "max_concurrency",
    "threading.max_workers": "decode_threads",
}
"""zarr-python's config keys that map to a zarrlayer setting (same meaning)."""

_FIXED: dict[str, Any] = {"array.order": "C", "array.write_empty_chunks": False}
"""zarr-python keys whose value zarrlayer does not change: reading gives it, setting it to another is refused."""

_NO_DEFAULT: Any = object()


def _setting_name(key: str) -> str:
    name = ZARR_KEYS.get(key, key.replace("__", "."))
    name = ZARR_KEYS.get(name, name)
    if name not in _names:
        raise UnknownSettingError(
            f"unknown zarrlayer setting {key!r}; expected one of {sorted(_names)} "
            f"or zarr-python's {sorted([*ZARR_KEYS, *_FIXED])}"
        )
    return name


def get(key: str | None = None, default: Any = _NO_DEFAULT) -> Any:
    """The settings in force (a frozen Settings), or with `key` one value (zarr-python's dotted keys work too).

    An unknown `key` returns `default` when given, else raises KeyError.
    """
    if key is None:
        return _current
    if key in _FIXED:
        return _FIXED[key]
    try:
        return getattr(_current, _setting_name(key))
    except KeyError:
        if default is _NO_DEFAULT:
            raise
        return default


def _changes(arg: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Setting names and values from a dict (dotted zarr-python keys allowed) and keywords ('__' for '.')."""
    if arg is not None and not isinstance(arg, Mapping):
        raise ArgumentTypeError(f"expected a dict of settings, found {type(arg).__name__}")
    raw = {**dict(arg or {}), **kwargs}
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = key.replace("__", ".")
        if dotted in _FIXED:
            if value != _FIXED[dotted]:
                raise ArgumentError(f"zarrlayer always uses {dotted}={_FIXED[dotted]!r}; found {value!r}")
            continue
        try:
            name = _setting_name(key)
        except KeyError as exc:
            raise ArgumentTypeError(str(exc.args[0])) from None
        if name == "decode_threads" and value is None:
            value = _usable_cpus()
        changes[name] = value
    _validate(changes)
    return changes


class _Applied:
    """What `set` returns: the new settings (attributes read through) and a context manager restoring the old."""

    def __init__(self, previous: Settings, current: Settings) -> None:
        self._previous = previous
        self._settings = current

    def __getattr__(self, name: str) -> Any:
        return getattr(self._settings, name)

    def __eq__(self, other: object) -> bool:
        return self._settings == (other._settings if isinstance(other, _Applied) else other)

    def __hash__(self) -> int:
        return hash(self._settings)

    def __repr__(self) -> str:
        return repr(self._settings)

    def __enter__(self) -> Settings:
        return self._settings

    def __exit__(self, *exc: object) -> None:
        global _current
        with _lock:
            _current = self._previous


def set(arg: Mapping[str, Any] | None = None, **changes: Any) -> _Applied:  # noqa: A001 - mirrors zarr.config.set
    """Change settings now, for the process; used as `with config.set(...):` they are restored at the end.

    Takes a dict (`{"async.concurrency": 32}`, zarr-python's keys or zarrlayer's names) and/or keywords.
    Unknown names raise TypeError, bad values ValueError; either way nothing changes.
    """
    global _current
    parsed = _changes(arg, changes)
    with _lock:
        previous = _current
        _current = replace(_current, **parsed)
        return _Applied(previous, _current)


@contextmanager
def override(**changes: Any) -> Iterator[Settings]:
    """Change settings inside a `with` block, restoring them afterwards."""
    global _current
    parsed = _changes(None, changes)
    with _lock:
        previous = _current
        _current = replace(_current, **parsed)
    try:
        yield _current
    finally:
        with _lock:
            _current = previous


def update(new: Mapping[str, Any], priority: Literal["new", "old"] = "new") -> Settings:
    """`set(new)` for the process (zarr-python's `config.update`); with priority 'old' the values in force stay."""
    if priority not in ("new", "old"):
        raise ArgumentError(f"priority must be 'new' or 'old', found {priority!r}")
    if priority == "old":
        _changes(new, {})
        return _current
    return set(new)._settings


def reset() -> Settings:
    """Back to the defaults as the environment variables give them now (zarr-python's `config.reset`)."""
    global _current
    fresh = Settings.from_env()
    with _lock:
        _current = fresh
    return fresh


refresh = reset


def to_dict() -> dict[str, Any]:
    """The settings in force as a plain dict."""
    return {f.name: getattr(_current, f.name) for f in fields(Settings)}


def pprint() -> None:
    """Print the settings in force, one per line."""
    for name, value in to_dict().items():
        print(f"{name}: {value!r}")
