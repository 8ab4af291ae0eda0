"""Helpers of FsspecStore: error classification, per-loop filesystem instances, URL credentials.

Kept apart from fsspec.py so that the store class reads as the Store contract and nothing else.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import weakref
from typing import Any

from zarrlayer.storage._base import ByteRequest, OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarrlayer.storage._remote import Failure, status_failure

logger = logging.getLogger(__name__)

__all__ = [
    "ALLOWED_EXCEPTIONS",
    "BACKENDS",
    "LOOP_ONLY_OPTIONS",
    "READ_ONLY_PROTOCOLS",
    "cat_batch",
    "classify_fsspec_error",
    "fsspec_limits",
    "http_pool_size",
    "instance_options",
    "short_read",
    "sized_client",
    "split_query",
    "loop_filesystems",
    "loop_filesystems_lock",
    "pipe_with_parents",
    "unsatisfiable",
    "userinfo",
    "userinfo_to_auth",
]

LOOP_ONLY_OPTIONS = ("asynchronous", "loop", "skip_instance_cache")
ALLOWED_EXCEPTIONS: tuple[type[BaseException], ...] = (FileNotFoundError, IsADirectoryError, NotADirectoryError)
"""The errors that mean "no such key" (zarr-python's default `allowed_exceptions`)."""
_BACKEND_MODULES = frozenset({"aiohttp", "botocore", "aiobotocore", "s3fs", "gcsfs", "adlfs", "google", "azure"})
_TRANSIENT_NAMES = frozenset(
    {
        "ServerDisconnectedError",
        "ClientPayloadError",
        "ServerTimeoutError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "ConnectionClosedError",
        "ResponseStreamingError",
        "IncompleteReadError",
    }
)
READ_ONLY_PROTOCOLS = frozenset({"http", "https"})
BACKENDS = {
    "s3": ("s3fs", "s3"),
    "s3a": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"),
    "gcs": ("gcsfs", "gcs"),
    "az": ("adlfs", "azure"),
    "abfs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
    "adl": ("adlfs", "azure"),
    "http": ("aiohttp", "http"),
    "https": ("aiohttp", "http"),
}
"""The package and zarrlayer extra behind each common fsspec protocol."""


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status behind `exc` or its causes (aiohttp and botocore errors), if any."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        status = getattr(current, "status", None)
        if isinstance(status, int):
            return status
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if isinstance(code, int):
                return code
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def classify_fsspec_error(exc: BaseException) -> Failure:
    """How a filesystem error is handled: missing keys pass, 429/5xx and dropped connections retry."""
    if isinstance(exc, (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError)):
        return Failure.PASS
    by_status = status_failure(_status_of(exc))
    if by_status is not None:
        return by_status
    if isinstance(exc, PermissionError):
        return Failure.FATAL
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return Failure.TRANSIENT
    if type(exc).__name__ in _TRANSIENT_NAMES:
        return Failure.TRANSIENT
    if isinstance(exc, ConnectionError) or type(exc).__name__ in ("ClientConnectorError", "EndpointConnectionError"):
        return Failure.FATAL
    if type(exc).__module__.split(".")[0] in _BACKEND_MODULES:
        return Failure.FATAL  # credentials, parameter validation, DNS...: ours to report, not to retry
    return Failure.PASS


def short_read(value: Any, request: ByteRequest | None) -> bool:
    """Whether `value` holds fewer bytes than `request` asks (it may still be the object's end)."""
    if isinstance(value, BaseException) or value is None or request is None:
        return False
    if isinstance(request, RangeByteRequest):
        return len(value) < request.end - request.start
    if isinstance(request, SuffixByteRequest):
        return len(value) < request.suffix
    return False


def split_query(path: str, http: bool) -> tuple[str, str]:
    """(path, "?query") of an HTTP(S) path with a query string (a signed URL), else (path, "")."""
    if not http or "?" not in path:
        return path, ""
    head, _, query = path.partition("?")
    return head, "?" + query


def instance_options(fs_cls: type, options: dict[str, Any]) -> dict[str, Any]:
    """`options` with the backend's own retries off where zarrlayer retries (s3fs's botocore client).

    Options the user set are kept as given.
    """
    if not any(c.__module__.split(".")[0] == "s3fs" for c in fs_cls.__mro__):
        return options
    config_kwargs = dict(options.get("config_kwargs") or {})
    config_kwargs.setdefault("retries", {"max_attempts": 0, "mode": "standard"})
    return {**options, "config_kwargs": config_kwargs}


_AIOHTTP_DEFAULT_POOL = 100
"""aiohttp's TCPConnector limit: connections open at once per session, all hosts together."""


def http_pool_size(fs_cls: type, options: dict[str, Any], concurrency: int) -> int | None:
    """Connections the per-loop HTTP session may open: the request limit, never below aiohttp's 100.

    None where the options choose their own client (`get_client`, a `connector` in
    `client_kwargs`) or the filesystem is not fsspec's HTTP one: those keep fsspec's behaviour.
    An HTTP/1.1 connection carries one request at a time, so a pool smaller than the
    request limit would queue the requests above it inside aiohttp, unseen by the limit.
    """
    if "get_client" in options or "connector" in (options.get("client_kwargs") or {}):
        return None
    if not any(c.__module__ == "fsspec.implementations.http" for c in fs_cls.__mro__):
        return None
    return max(_AIOHTTP_DEFAULT_POOL, concurrency)


def sized_client(limit: int) -> Any:
    """A `get_client` for fsspec's HTTPFileSystem whose session pools up to `limit` keep-alive connections."""

    async def get_client(**kwargs: Any) -> Any:
        import aiohttp

        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit), **kwargs)

    return get_client


async def cat_batch(
    fs: Any, paths: list[str], limits: list[tuple[int | None, int | None]], width: int, kwargs: dict[str, Any]
) -> list[Any]:
    """The bytes (or the exception) of each `paths[i]` between `limits[i]`, at most `width` requests in flight.

    What fsspec's generic `_cat_ranges(..., on_error="return")` does, with `width` workers
    that each take the next path when their request ends, instead of one task per path
    and an `asyncio.wait` over all pending tasks at every completion (about 10% of the
    client's CPU per request on 256 small objects). A filesystem with its own
    `_cat_ranges` (one that merges ranges, say) keeps it.
    """
    from fsspec.asyn import AsyncFileSystem

    if type(fs)._cat_ranges is not AsyncFileSystem._cat_ranges:
        return list(
            await fs._cat_ranges(
                paths, [s for s, _ in limits], [e for _, e in limits], on_error="return", batch_size=width, **kwargs
            )
        )
    out: list[Any] = [None] * len(paths)
    pending = iter(range(len(paths)))

    async def worker() -> None:
        for i in pending:
            start, end = limits[i]
            try:
                out[i] = await fs._cat_file(paths[i], start=start, end=end, **kwargs)
            except Exception as exc:  # noqa: BLE001 - returned in its place, as on_error="return"
                out[i] = exc

    await asyncio.gather(*(worker() for _ in range(max(1, min(width, len(paths))))))
    return out


def unsatisfiable(exc: BaseException) -> bool:
    return _status_of(exc) == 416


def fsspec_limits(request: ByteRequest | None) -> tuple[int | None, int | None]:
    """fsspec's (start, end) for a byte request; a suffix is a negative start."""
    if request is None:
        return None, None
    if isinstance(request, RangeByteRequest):
        return request.start, request.end
    if isinstance(request, OffsetByteRequest):
        return request.offset, None
    if isinstance(request, SuffixByteRequest):
        return -request.suffix, None
    raise TypeError(f"expected a ByteRequest or None, found {type(request).__name__}")


def trim_ignored_range(value: Any, request: ByteRequest | None) -> Any:
    """`value` cut to `request` when a server ignored the Range header and sent the whole object.

    Detectable when the answer is longer than asked for (ranges and suffixes shorter than
    the object); an offset request, or a range reaching past the end, gets an answer
    that looks valid and is returned as is.
    """
    if isinstance(value, BaseException) or value is None:
        return value
    if isinstance(request, RangeByteRequest) and len(value) > request.end - request.start:
        logger.debug("the server ignored a Range request (%s): kept that range of the %d bytes sent", request, len(value))
        return value[request.start : request.end]
    if isinstance(request, SuffixByteRequest) and len(value) > request.suffix:
        logger.debug("the server ignored a Range request (%s): kept that range of the %d bytes sent", request, len(value))
        return value[len(value) - request.suffix :]
    return value


loop_filesystems_lock = threading.Lock()
loop_filesystems: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()
"""Asynchronous filesystem instances per loop, shared by every store with the same configuration."""


@atexit.register
def _close_opened() -> None:
    """Close the sessions still open on zarrlayer's background loop, so exit is quiet."""
    from zarrlayer.core import sync as _sync

    loop = _sync._loop
    live = list(loop_filesystems.get(loop, {}).values()) if loop is not None else []
    if loop is None or loop.is_closed() or not loop.is_running() or not live:
        return
    try:
        future = asyncio.run_coroutine_threadsafe(_close_sessions(live), loop)
        future.result(timeout=5)
    except Exception:  # noqa: BLE001 - best effort at exit
        pass


async def _close_sessions(filesystems: list[Any]) -> None:
    await asyncio.gather(*(_close_session(fs) for fs in filesystems))


async def _close_session(fs: Any) -> None:
    """Close the HTTP session an asynchronous filesystem opened (best effort: s3fs, HTTP)."""
    try:
        session = getattr(fs, "_session", None)
        if session is not None and not session.closed:
            await session.close()
        creator = getattr(fs, "_s3creator", None)
        if creator is not None:
            await creator.__aexit__(None, None, None)
            fs._s3 = None
            fs._s3creator = None
    except Exception:  # noqa: BLE001 - closing must not fail a caller's cleanup
        pass


def pipe_with_parents(fs: Any, path: str, data: bytes) -> None:
    """Write `path` on a synchronous filesystem, making its parent directories first (local disks need them)."""
    parent = fs._parent(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    fs.pipe_file(path, data)


def userinfo_to_auth(url: str, storage_options: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    """For an http(s) URL with `user:password@`, the URL without it and the login as an Authorization header.

    The password then never travels in a URL, so neither fsspec's logs nor errors can show it.
    """
    import base64
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.scheme not in READ_ONLY_PROTOCOLS or "@" not in parts.netloc:
        return url, storage_options
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    options = dict(storage_options or {})
    headers = dict(options.get("headers") or {})
    headers.setdefault("Authorization", f"Basic {token}")
    options["headers"] = headers
    return urlunsplit(parts._replace(netloc=host)), options


def userinfo(path: str) -> str:
    """The `user:password` part of a URL path, or '' (kept only to mask it in errors)."""
    if "://" not in path:
        return ""
    netloc = path.split("://", 1)[1].split("/", 1)[0]
    return netloc.rsplit("@", 1)[0] if "@" in netloc else ""
