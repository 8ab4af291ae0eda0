"""What every remote store shares: a request limit, retries with backoff, credential redaction.

The limit on requests in flight is per store location and per event loop, shared by
every caller in the process (all synchronous callers run on zarrlayer's one loop).
Transient failures (timeouts, dropped connections, HTTP 429 and 5xx) are retried with
exponential backoff and full jitter; 403, 404 and other client errors never are.
"""

from __future__ import annotations

import asyncio
import enum
from abc import abstractmethod
import json
import logging
import random
import re
import threading
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Self, TypeVar

from zarrlayer import config
from zarrlayer.errors import RemoteStoreError
from zarrlayer.storage._base import Store

__all__ = [
    "Failure",
    "Limiter",
    "RemoteStore",
    "RetryPolicy",
    "ShortReadError",
    "call_with_retries",
    "collect_secrets",
    "get_limiter",
    "is_secret_name",
    "no_listing_error",
    "public_settings",
    "redact_options",
    "redact_text",
    "redact_url",
    "status_failure",
]

T = TypeVar("T")

logger = logging.getLogger(__name__)

REDACTED = "***"

# -- redaction ------------------------------------------------------------------------------

_SECRET_NAME = re.compile(
    r"(^|[_\-.])?(key|secret|token|password|passwd|pwd|credential|credentials|auth|authorization|"
    r"signature|sig|sas|session|cookie|private)([_\-.]|$)?",
    re.IGNORECASE,
)
_NOT_SECRET_NAMES = frozenset({"use_ssl", "anon", "requester_pays"})
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>[^/@\s?#]*)@")
_SECRET_QUERY = re.compile(
    r"(?P<name>[?&][^=&#\s]*(?:key|secret|token|password|signature|sig|credential|sas)[^=&#\s]*=)"
    r"(?P<value>[^&#\s]*)",
    re.IGNORECASE,
)


def is_secret_name(name: object) -> bool:
    """Whether an option named `name` (key, secret, token, password, ...) holds a credential."""
    return isinstance(name, str) and name.lower() not in _NOT_SECRET_NAMES and bool(_SECRET_NAME.search(name))


def redact_url(url: str) -> str:
    """`url` without userinfo (`user:password@`) and with secret-looking query values masked."""
    url = _USERINFO.sub(lambda m: m.group("scheme"), url)
    return _SECRET_QUERY.sub(lambda m: m.group("name") + REDACTED, url)


def redact_options(options: Any) -> Any:
    """A copy of `options` (nested dicts and lists) with the value of every secret-named entry masked."""
    if isinstance(options, Mapping):
        return {
            k: (REDACTED if is_secret_name(k) and v is not None else redact_options(v)) for k, v in options.items()
        }
    if isinstance(options, (list, tuple)):
        return type(options)(redact_options(v) for v in options)
    if isinstance(options, str):
        return redact_url(options)
    return options


def public_settings(options: Any) -> str:
    """The non-secret entries of `options` with plain values (an endpoint, a region), as canonical JSON.

    Two stores whose URLs agree but whose endpoints differ then get different cache identities.
    """

    def keep(value: Any) -> Any:
        if isinstance(value, Mapping):
            kept = {str(k): keep(v) for k, v in value.items() if not is_secret_name(k)}
            return {k: v for k, v in kept.items() if v is not None}
        if isinstance(value, (str, int, float, bool)):
            return redact_url(value) if isinstance(value, str) else value
        return None

    return json.dumps(keep(options) or {}, sort_keys=True)


def collect_secrets(options: Any) -> frozenset[str]:
    """Every string value held under a secret-named entry of `options` (searched recursively)."""
    found: set[str] = set()

    def walk(value: Any, secret: bool) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, secret or is_secret_name(k))
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, secret)
        elif secret and isinstance(value, (str, bytes)) and len(value) >= 3:
            found.add(value.decode(errors="replace") if isinstance(value, bytes) else value)

    walk(options, False)
    return frozenset(found)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL userinfo, secret query values and every one of `secrets` masked."""
    text = redact_url(text)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


# -- the request limit ------------------------------------------------------------------------


class Limiter:
    """A counting limit whose callers may take several slots at once, served first come, first served."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a request limit must be at least 1, found {capacity}")
        self.capacity = capacity
        self.limit = capacity
        """Slots granted now: halved on a transient failure, back up by one per `limit` successes (AIMD)."""
        self._free = capacity
        self._successes = 0
        self._ended = 0
        self._halved_at = -capacity
        self._waiters: deque[tuple[asyncio.Future[int], int]] = deque()

    @property
    def in_use(self) -> int:
        """Slots held now."""
        return self.limit - self._free

    def backoff(self) -> None:
        """A 429, 5xx or timeout: halve the slots granted (at least one); held slots drain back.

        A burst of failures from one round of requests halves once: the next halving waits
        until as many requests as the new limit have ended.
        """
        self._ended += 1
        if self._ended - self._halved_at < self.limit:
            return
        new = max(1, self.limit // 2)
        logger.debug("backing off: requests in flight limited to %d (was %d of %d) after a transient failure",
                     new, self.limit, self.capacity)
        self._free -= self.limit - new
        self.limit = new
        self._successes = 0
        self._halved_at = self._ended

    def succeeded(self) -> None:
        """A request answered: after `limit` of them in a row, grant one more slot, up to `capacity`."""
        self._ended += 1
        if self.limit >= self.capacity:
            return
        self._successes += 1
        if self._successes >= self.limit:
            self._successes = 0
            self.limit += 1
            self._free += 1
            self._grant()

    async def acquire(self, wanted: int = 1) -> int:
        """Wait for at least one free slot, take up to `wanted`, and return how many were taken."""
        wanted = max(1, min(wanted, self.limit))
        if self._free > 0 and not self._waiters:
            taken = min(wanted, self._free)
            self._free -= taken
            return taken
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters.append((waiter, wanted))
        self._grant()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())
            raise

    def release(self, count: int = 1) -> None:
        """Give back `count` slots."""
        self._free = min(self.limit, self._free + count)
        self._grant()

    def _grant(self) -> None:
        while self._waiters and self._free > 0:
            waiter, wanted = self._waiters.popleft()
            if waiter.done():
                continue
            taken = min(wanted, self._free)
            self._free -= taken
            waiter.set_result(taken)

    @asynccontextmanager
    async def slots(self, wanted: int = 1) -> AsyncIterator[int]:
        """Hold up to `wanted` slots (at least one) for the `async with` block."""
        taken = await self.acquire(wanted)
        try:
            yield taken
        finally:
            self.release(taken)


_limiters_lock = threading.Lock()
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, Limiter]] = weakref.WeakKeyDictionary()


def get_limiter(identity: Any, capacity: int) -> Limiter:
    """The limiter of the store `identity` on the running loop (one per identity, capacity and loop)."""
    loop = asyncio.get_running_loop()
    with _limiters_lock:  # loops in several threads share the registry
        per_loop = _limiters.get(loop)
        if per_loop is None:
            per_loop = _limiters[loop] = {}
        limiter = per_loop.get((identity, capacity))
        if limiter is None:
            limiter = per_loop[(identity, capacity)] = Limiter(capacity)
        return limiter


# -- retries ------------------------------------------------------------------------------------


class Failure(enum.Enum):
    """How a backend error is handled."""

    TRANSIENT = "transient"
    """Retried with backoff (timeouts, dropped connections, 429, 5xx)."""
    FATAL = "fatal"
    """Raised at once as a RemoteStoreError (403, other client errors, refused connections)."""
    PASS = "pass"
    """Re-raised as is for the store to interpret (missing key, unsatisfiable range...)."""


def status_failure(status: int | None) -> Failure | None:
    """The handling of an HTTP status: 404 and 416 pass, 429 and 5xx (but 501, 505) are transient, others fatal."""
    if status is None:
        return None
    if status in (404, 416):
        return Failure.PASS
    if status == 429 or (500 <= status <= 599 and status not in (501, 505)):
        return Failure.TRANSIENT
    if status >= 400:
        return Failure.FATAL
    return None


class ShortReadError(Exception):
    """A range answered with fewer bytes than asked, on an object known to hold them (a transient fault)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure, and how long to wait for an answer."""

    retries: int | None = None
    """Attempts after the first; None means `zarrlayer.config.get().retries` at call time."""
    base_delay: float = 0.1
    max_delay: float = 5.0
    timeout: float | None = None
    """Seconds per attempt; None means the `request_timeout` setting at call time."""
    deadline: float | None = None
    """Seconds for all attempts of one request; None means the `read_deadline` setting at call time."""

    @property
    def attempts(self) -> int:
        """Attempts in all (the first plus the retries)."""
        retries = config.get().retries if self.retries is None else self.retries
        return max(0, retries) + 1

    @property
    def attempt_timeout(self) -> float:
        """Seconds one attempt may take."""
        return config.get().request_timeout if self.timeout is None else self.timeout

    @property
    def total_deadline(self) -> float:
        """Seconds all the attempts of one request may take together."""
        return config.get().read_deadline if self.deadline is None else self.deadline

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based): full jitter, exponential cap."""
        return random.uniform(0.0, min(self.max_delay, self.base_delay * (2**attempt)))


async def call_with_retries(
    request: Callable[[], Awaitable[T]],
    *,
    limiter: Limiter,
    policy: RetryPolicy,
    classify: Callable[[BaseException], Failure],
    where: str,
    secrets: Iterable[str] = (),
) -> T:
    """Run `request` (one remote request) under `limiter`, retrying transient failures.

    Each attempt may take `policy.attempt_timeout` seconds and all of them together
    `policy.total_deadline` (counted from the first attempt's start); a timeout is a
    transient failure. `where` names the store URL and key for errors; it and every
    message are redacted.
    """
    attempts = policy.attempts
    timeout = policy.attempt_timeout
    loop = asyncio.get_running_loop()
    deadline: float | None = None
    for attempt in range(attempts):
        async with limiter.slots(1):
            started = loop.time()
            if deadline is None:
                deadline = started + policy.total_deadline
            limit = min(timeout, deadline - started)
            try:
                async with asyncio.timeout(limit):
                    result = await request()
                limiter.succeeded()
                return result
            except Exception as exc:  # noqa: BLE001 - classified below
                timed_out = isinstance(exc, TimeoutError) and loop.time() - started >= limit * 0.99
                if timed_out:
                    failure = Failure.TRANSIENT
                    exc = TimeoutError(f"no complete answer within {limit:.3g} s (request_timeout {timeout:g} s)")
                elif isinstance(exc, ShortReadError):
                    failure = Failure.TRANSIENT
                else:
                    failure = classify(exc)
                if failure is Failure.PASS:
                    raise
                if failure is Failure.TRANSIENT:
                    limiter.backoff()
                if failure is Failure.FATAL or attempt == attempts - 1:
                    raise remote_error(exc, where, attempt + 1, failure, secrets) from None
                delay = policy.delay(attempt)
                if loop.time() + delay >= deadline:
                    raise RemoteStoreError(
                        f"request for {redact_text(where, secrets)} gave up after {attempt + 1} attempts: "
                        f"read_deadline of {policy.total_deadline:g} s reached; last error: "
                        + redact_text(f"{type(exc).__name__}: {_first_line(exc)}", secrets)
                    ) from None
                logger.debug(
                    "retrying %s in %.3fs after attempt %d of %d: %s",
                    redact_text(where, secrets), delay, attempt + 1, attempts,
                    redact_text(f"{type(exc).__name__}: {_first_line(exc)}", secrets),
                )
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def remote_error(
    exc: BaseException, where: str, attempts: int, failure: Failure, secrets: Iterable[str] = ()
) -> RemoteStoreError:
    """The RemoteStoreError for `exc` at `where`, with credentials masked."""
    detail = redact_text(f"{type(exc).__name__}: {_first_line(exc)}", secrets) + _hint(exc)
    where = redact_text(where, secrets)
    if failure is Failure.TRANSIENT:
        return RemoteStoreError(f"request for {where} failed after {attempts} attempts; last error: {detail}")
    return RemoteStoreError(f"request for {where} failed (not retried): {detail}")


def no_listing_error(url: str, prefix: str) -> RemoteStoreError:
    """The error for an HTTP server that gives no directory listings, saying what to do instead."""
    return RemoteStoreError(
        f"cannot list {repr(prefix) if prefix else 'the root'} of {url}: the HTTP server gives no "
        "directory listings, and finding a group's members without consolidated metadata needs one. "
        "Consolidate the hierarchy where it is written (zarrlayer.consolidate_metadata(path) or "
        "zarr.consolidate_metadata), then open it with xarray or open_group as before; or open each "
        "array by its path (zarrlayer.open_array(url, path='name', zarr_format=3))"
    )


_CREDENTIAL_ERRORS = frozenset(
    {"NoCredentialsError", "PartialCredentialsError", "UnauthenticatedError", "CredentialRetrievalError"}
)
_CONNECTION_ERRORS = frozenset(
    {"ClientConnectorError", "ClientConnectorDNSError", "EndpointConnectionError", "ConnectionRefusedError", "gaierror"}
)


def _hint(exc: BaseException) -> str:
    """What to do about a backend error whose kind is known (credentials, permission, connection, bad request)."""
    name = type(exc).__name__
    text = str(exc).lower()
    if name in _CREDENTIAL_ERRORS or "/latest/api/token" in text or "no credentials" in text:
        return (
            " (no usable credentials: pass them in storage_options, e.g. key/secret, set the backend's "
            "environment variables such as AWS_ACCESS_KEY_ID, or use anon=True for public data)"
        )
    if isinstance(exc, PermissionError) or name == "PermissionDeniedError":
        return " (permission denied: the credentials in use may not read this location)"
    if name in _CONNECTION_ERRORS or isinstance(exc, ConnectionRefusedError):
        return " (could not connect: check the host name, endpoint_url and network)"
    if name == "ParamValidationError":
        return " (the backend refused the request's parameters: check the bucket name and path in the URL)"
    return ""


def _first_line(exc: BaseException) -> str:
    """The message on one line (validation errors say what is wrong on their later lines)."""
    text = " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())
    return text[:500] if text else "(no message)"


# -- the shared base ----------------------------------------------------------------------------


class RemoteStore(Store):
    """What FsspecStore and ObjectStore share: a credential-free `url`, the request limit and retries.

    Subclasses set `_url` (redacted) and `_secrets` in their `__init__` and say how their
    backend's errors are handled in `_classify`; every request goes through `_call`.
    """

    _url: str
    _secrets: frozenset[str] = frozenset()

    def __init__(self, *, read_only: bool, max_concurrency: int | None, retries: int | None) -> None:
        if max_concurrency is not None and (
            isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1
        ):
            raise ValueError(f"max_concurrency must be a positive int, found {max_concurrency!r}")
        super().__init__(read_only=read_only)
        self._max_concurrency = max_concurrency
        self._policy = RetryPolicy(retries=retries)

    @property
    def url(self) -> str:
        return self._url

    def __hash__(self) -> int:
        return hash((type(self), self._url))

    def with_read_only(self, read_only: bool = False) -> Self:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._read_only = bool(read_only) or not self.supports_writes
        return clone

    @property
    def max_concurrency(self) -> int:
        """Requests in flight allowed at once for this store location (shared process-wide)."""
        return self._max_concurrency or config.get().max_concurrency

    def _limiter(self) -> Limiter:
        return get_limiter((type(self).__name__, self._url), self.max_concurrency)

    @abstractmethod
    def _classify(self, exc: BaseException) -> Failure:
        """How the backend error `exc` is handled (retried, raised, or passed to the caller)."""

    async def _call(self, request: Callable[[], Awaitable[T]], key: str, policy: RetryPolicy | None = None) -> T:
        """Run one request for `key` under the store's limit and retry policy (or `policy`)."""
        return await call_with_retries(
            request,
            limiter=self._limiter(),
            policy=self._policy if policy is None else policy,
            classify=self._classify,
            where=f"{self._url} key {key!r}",
            secrets=self._secrets,
        )
