"""ObjectStore: a zarrlayer Store over an obstore store (S3, GCS, Azure, HTTP, local, memory).

obstore does the I/O in Rust; this class adds zarrlayer's key checks, byte-range
semantics, the shared request limit and retry policy, and credential-free URLs.
Several ranges of one object are fetched with one coalescing `get_ranges_async` call.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import logging
import re
import threading
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from functools import partial
from typing import Any

from zarrlayer.errors import RemoteStoreError, StoreError, ZarrlayerError, missing_dependency
from zarrlayer.storage._base import (
    Buffer,
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
    byte_request_slice,
    empty_request,
    normalize_prefix,
    validate_key,
    validate_prefix,
)
from zarrlayer.storage._buffers import to_bytes
from zarrlayer.storage._remote import (
    Failure,
    RemoteStore,
    ShortReadError,
    collect_secrets,
    no_listing_error,
    public_settings,
    redact_url,
    status_failure,
)

__all__ = ["ObjectStore"]

logger = logging.getLogger(__name__)

_STATUS = re.compile(r"status code:\s*(\d{3})")
_RANGE_TEXT = ("Range started at", "non-partial response", "range not satisfiable", "InvalidRange")
_DROPPED_TEXT = ("IncompleteMessage", "ConnectionReset", "connection reset", "BrokenPipe", "ConnectionAborted")
_HTTP_KIND = re.compile(r"HttpError \{\s*kind: (\w+)")
_SHORT_RANGE = re.compile(r"Requested \d+\.\.\d+, got \d+\.\.\d+")
"""object_store's complaint about a range answered with fewer bytes than asked (a transient fault)."""
_TRANSIENT_TEXT = ("timed out", "timeout", "connection reset", "connection closed", "incompletemessage", "broken pipe")


def _obstore() -> Any:
    try:
        import obstore
    except ImportError:
        raise missing_dependency("obstore", "obstore", "ObjectStore") from None
    return obstore


def classify_obstore_error(exc: BaseException) -> Failure:
    """How an obstore error is handled: missing keys pass, 429/5xx and dropped connections retry."""
    if isinstance(exc, (FileNotFoundError, FileExistsError)):
        return Failure.PASS
    name = type(exc).__name__
    if name in ("AlreadyExistsError", "NotSupportedError", "PreconditionError", "NotModifiedError"):
        return Failure.PASS
    if name in ("PermissionDeniedError", "UnauthenticatedError"):
        return Failure.FATAL
    if not type(exc).__module__.startswith("obstore"):
        return Failure.PASS
    text = str(exc)
    if _SHORT_RANGE.search(text):
        return Failure.TRANSIENT
    match = _STATUS.search(text)
    if match:
        return status_failure(int(match.group(1))) or Failure.FATAL
    if any(marker in text for marker in _RANGE_TEXT):
        return Failure.PASS
    if any(marker in text for marker in _DROPPED_TEXT):
        return Failure.TRANSIENT
    kind = _HTTP_KIND.search(text)
    if kind:
        return Failure.TRANSIENT if kind.group(1) in ("Timeout", "Interrupted", "Decode") else Failure.FATAL
    first_line = text.splitlines()[0].lower() if text else ""
    if any(marker in first_line for marker in _TRANSIENT_TEXT):
        return Failure.TRANSIENT
    return Failure.FATAL


def _range_option(request: ByteRequest | None) -> dict[str, Any]:
    if request is None:
        return {}
    if isinstance(request, RangeByteRequest):
        return {"range": (request.start, request.end)}
    if isinstance(request, OffsetByteRequest):
        return {"range": {"offset": request.offset}}
    if isinstance(request, SuffixByteRequest):
        return {"range": {"suffix": request.suffix}}
    raise TypeError(f"expected a ByteRequest or None, found {type(request).__name__}")


def _store_url(store: Any) -> str:
    """A credential-free URL naming an obstore store's location."""
    kind = type(store).__name__
    prefix = str(getattr(store, "prefix", None) or "").strip("/")
    config = getattr(store, "config", None) or {}
    if kind == "S3Store":
        base = f"s3://{config.get('bucket', '')}"
    elif kind == "GCSStore":
        base = f"gs://{config.get('bucket', '')}"
    elif kind == "AzureStore":
        base = f"az://{config.get('container_name', '')}"
    elif kind == "HTTPStore":
        base = str(getattr(store, "url", "")).rstrip("/")
    elif kind == "LocalStore":
        return f"file://{'/' + prefix if prefix else ''}"
    else:
        return f"{kind.lower()}://{id(store):x}"
    return redact_url(f"{base}/{prefix}" if prefix else base)


_live: weakref.WeakValueDictionary[int, ObjectStore] = weakref.WeakValueDictionary()
_exit_hook = threading.Lock()


def _release_at_exit(store: ObjectStore) -> None:
    """Drop obstore clients before the interpreter finalizes: a client (and its Rust runtime handle)
    freed during finalization can abort the process (SIGABRT after a successful run, about 1 exit in 15)."""
    with _exit_hook:
        if not _live:
            atexit.unregister(_release_all)
            atexit.register(_release_all)
        _live[id(store)] = store


def _release_all() -> None:
    for store in list(_live.values()):
        store.__dict__.pop("_store", None)
    _live.clear()
    gc.collect()


class ObjectStore(RemoteStore):
    """A store over an obstore store; `max_concurrency` and `retries` as for FsspecStore.

    Build it with `ObjectStore.from_url(url, **options)` so that obstore's own retries
    are off and zarrlayer's policy is the one in force.
    """

    def __init__(
        self, store: Any, *, read_only: bool = False, max_concurrency: int | None = None, retries: int | None = None
    ) -> None:
        obstore = _obstore()
        if not isinstance(store, tuple(_store_classes(obstore))):
            raise TypeError(f"ObjectStore needs an obstore store (S3Store, LocalStore...), found {type(store).__name__}")
        super().__init__(read_only=read_only, max_concurrency=max_concurrency, retries=retries)
        self._store = store
        self._url = _store_url(store)
        _release_at_exit(self)
        self._secrets = collect_secrets(getattr(store, "config", None) or {})
        self.supports_listing = type(store).__name__ != "HTTPStore"

    @classmethod
    def from_url(cls, url: str, *, read_only: bool = False, **options: Any) -> ObjectStore:
        """A store for `url` through `obstore.store.from_url(url, **options)`.

        `max_concurrency` and `retries` are zarrlayer's; every other option is obstore's.
        """
        _obstore()
        from obstore.store import from_url

        ours = {k: options.pop(k) for k in ("max_concurrency", "retries") if k in options}
        options = _from_s3fs_options(url, options)
        options.setdefault("retry_config", {"max_retries": 0})
        if url.startswith("http://"):
            client = dict(options.get("client_options") or {})
            client.setdefault("allow_http", True)
            options["client_options"] = client
        return cls(from_url(url, **options), read_only=read_only, **ours)

    # -- identity -------------------------------------------------------------------

    @property
    def cache_identity(self) -> str:
        settings = {"config": getattr(self._store, "config", None), "client": getattr(self._store, "client_options", None)}
        return f"{self._url}#{public_settings(settings)}"

    @property
    def store(self) -> Any:
        """The obstore store underneath."""
        return self._store

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and (self._store is other._store or self._store == other._store)
            and self.read_only == other.read_only
        )

    __hash__ = RemoteStore.__hash__

    def __getstate__(self) -> dict[str, Any]:
        if type(self._store).__name__ == "MemoryStore":
            raise TypeError(
                f"ObjectStore over obstore's MemoryStore ({self._url}) cannot be pickled: its data lives in "
                "this process only; use zarrlayer's MemoryStore or a shared location (S3, a directory)"
            )
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        _release_at_exit(self)

    # -- plumbing -------------------------------------------------------------------

    def _classify(self, exc: BaseException) -> Failure:
        return classify_obstore_error(exc)

    async def _size(self, key: str) -> int | None:
        obstore = _obstore()
        try:
            meta = await self._call(lambda: obstore.head_async(self._store, key), key)
        except FileNotFoundError:
            return None
        return int(meta["size"])

    # -- reading --------------------------------------------------------------------

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        validate_key(key)
        if empty_request(byte_range):
            return b"" if await self._size(key) is not None else None
        obstore = _obstore()
        options = _range_option(byte_range)

        async def fetch() -> bytes:
            result = await obstore.get_async(self._store, key, options=options)
            data = (await result.bytes_async()).to_bytes()
            if byte_range is not None:
                size = int(result.meta["size"])
                start, stop = byte_request_slice(byte_range, size)
                if len(data) < stop - start:
                    raise ShortReadError(
                        f"range {byte_range} answered with {len(data)} bytes where the object of {size} bytes "
                        f"holds {stop - start}"
                    )
            return data

        try:
            return await self._call(fetch, key)
        except FileNotFoundError:
            return None
        except Exception as exc:
            if byte_range is None or isinstance(exc, ZarrlayerError) or classify_obstore_error(exc) is not Failure.PASS:
                raise
            size = await self._size(key)
            if size is None:
                return None
            start, stop = byte_request_slice(byte_range, size)
            if start >= stop:
                return b""
            if "RangeNotSupported" in str(exc):  # the server ignores Range: read it all, keep the range
                logger.debug("%s does not support range requests; reading all of %r for %s", self.url, key, byte_range)
                whole = await self.get(key)
                return None if whole is None else bytes(whole)[start:stop]
            raise StoreError(f"range {byte_range} of key {key!r} in store {self.url} failed: {type(exc).__name__}") from None

    async def get_partial_values(
        self, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        requests = list(key_ranges)
        for key, _ in requests:
            validate_key(key)
        ranged: dict[str, list[int]] = defaultdict(list)
        single: list[int] = []
        for i, (key, request) in enumerate(requests):
            if isinstance(request, RangeByteRequest) and request.start < request.end:
                ranged[key].append(i)
            else:
                single.append(i)
        for key in [k for k, idx in ranged.items() if len(idx) == 1]:
            single.extend(ranged.pop(key))
        results: list[Buffer | None] = [None] * len(requests)

        async def one(i: int) -> None:
            results[i] = await self.get(*requests[i])

        async def many(key: str, indices: list[int]) -> None:
            values = await self._get_ranges(key, [requests[i][1] for i in indices])  # type: ignore[misc]
            if values is False:
                await asyncio.gather(*(one(i) for i in indices))
                return
            for i, value in zip(indices, values):  # type: ignore[arg-type]
                results[i] = value

        await asyncio.gather(*(one(i) for i in single), *(many(k, idx) for k, idx in ranged.items()))
        return results

    async def _get_ranges(self, key: str, ranges: list[RangeByteRequest]) -> list[bytes | None] | bool:
        """The ranges of one object in one coalesced call; False when they must be read one by one."""
        obstore = _obstore()

        async def fetch() -> list[bytes | None]:
            values = await obstore.get_ranges_async(
                self._store, key, starts=[r.start for r in ranges], ends=[r.end for r in ranges]
            )
            out: list[bytes | None] = [v.to_bytes() for v in values]
            if any(len(v or b"") < r.end - r.start for v, r in zip(out, ranges)):
                size = int((await obstore.head_async(self._store, key))["size"])  # the object's end, or a fault?
                if any(len(v or b"") < min(r.end, size) - r.start for v, r in zip(out, ranges)):
                    raise ShortReadError(f"a range of {key!r} answered with fewer bytes than asked")
            return out

        try:
            return await self._call(fetch, key)
        except FileNotFoundError:
            return [None] * len(ranges)
        except Exception as exc:
            if not isinstance(exc, ZarrlayerError) and classify_obstore_error(exc) is Failure.PASS:
                return False
            raise
        except BaseException as exc:
            if type(exc).__name__ == "PanicException":  # obstore panics on ranges past the end
                return False
            raise

    async def exists(self, key: str) -> bool:
        validate_key(key)
        return await self._size(key) is not None

    async def getsize(self, key: str) -> int:
        validate_key(key)
        size = await self._size(key)
        if size is None:
            raise FileNotFoundError(f"no value at key {key!r} in store {self.url}")
        return size

    async def getsize_prefix(self, prefix: str) -> int:
        return sum([int(meta["size"]) async for meta in self._list_meta(normalize_prefix(prefix))])

    # -- writing --------------------------------------------------------------------

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        validate_key(key)
        obstore = _obstore()
        data = to_bytes(value, key=key, url=self._url)
        await self._call(lambda: obstore.put_async(self._store, key, data), key)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        self._check_writable()
        validate_key(key)
        obstore = _obstore()
        data = to_bytes(value, key=key, url=self._url)
        try:
            await self._call(lambda: obstore.put_async(self._store, key, data, mode="create"), key)
        except Exception as exc:
            if type(exc).__name__ in ("AlreadyExistsError", "PreconditionError") or isinstance(exc, FileExistsError):
                return
            if type(exc).__name__ == "NotSupportedError":
                if await self._size(key) is None:
                    await self.set(key, data)
                return
            raise

    async def delete(self, key: str) -> None:
        self._check_writable()
        validate_key(key)
        obstore = _obstore()
        try:
            await self._call(lambda: obstore.delete_async(self._store, key), key)
        except FileNotFoundError:
            pass

    async def delete_dir(self, prefix: str) -> None:
        self._check_writable()
        obstore = _obstore()
        paths = [meta["path"] async for meta in self._list_meta(normalize_prefix(prefix))]
        for start in range(0, len(paths), 1000):
            batch = paths[start : start + 1000]
            try:
                await self._call(partial(obstore.delete_async, self._store, batch), prefix or "/")
            except FileNotFoundError:
                await asyncio.gather(*(self.delete(p) for p in batch))

    # -- listing --------------------------------------------------------------------

    async def _list_meta(self, prefix: str) -> AsyncIterator[dict[str, Any]]:
        """The metadata of every object whose key starts with `prefix` (a string prefix)."""
        validate_prefix(prefix)
        obstore = _obstore()
        parent = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        limiter = self._limiter()
        stream = obstore.list(self._store, prefix=parent or None, chunk_size=1000)
        while True:
            async with limiter.slots(1):
                try:
                    async with asyncio.timeout(self._policy.attempt_timeout):
                        chunk = await stream.__anext__()
                except StopAsyncIteration:
                    return
                except FileNotFoundError:
                    return
                except TimeoutError:
                    raise RemoteStoreError(
                        f"listing {prefix or '/'!r} in {self.url} got no answer within "
                        f"{self._policy.attempt_timeout:g} s (request_timeout)"
                    ) from None
                except Exception:
                    if not self.supports_listing:
                        raise no_listing_error(self.url, prefix) from None
                    raise
            for meta in chunk:
                if meta["path"].startswith(prefix):
                    yield meta

    async def list(self) -> AsyncIterator[str]:
        async for key in self.list_prefix(""):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        keys = sorted([meta["path"] async for meta in self._list_meta(prefix)])
        for key in keys:
            yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = normalize_prefix(prefix)
        obstore = _obstore()
        directory = prefix.rstrip("/") or None
        try:
            found = await self._call(lambda: obstore.list_with_delimiter_async(self._store, directory), prefix or "/")
        except FileNotFoundError:
            return
        except ZarrlayerError:
            if not self.supports_listing:  # HTTP: obstore asks for WebDAV listings, which few servers give
                raise no_listing_error(self.url, prefix) from None
            raise
        names = {p.rstrip("/").rsplit("/", 1)[-1] for p in found["common_prefixes"]}
        names.update(meta["path"].rsplit("/", 1)[-1] for meta in found["objects"])
        for name in sorted(n for n in names if n):
            yield name


_S3FS_ONLY = ("key", "secret", "token", "client_kwargs", "anon", "endpoint_url")


def _from_s3fs_options(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """obstore options for s3fs-style storage_options (key, secret, client_kwargs...), so that the same
    options work whichever `remote_backend` is configured; obstore-style options pass unchanged."""
    if not url.startswith(("s3://", "s3a://")) or not any(k in options for k in _S3FS_ONLY):
        return options
    out = {k: v for k, v in options.items() if k not in _S3FS_ONLY}
    for ours, theirs in (("key", "access_key_id"), ("secret", "secret_access_key"), ("token", "session_token")):
        if options.get(ours) is not None:
            out.setdefault(theirs, options[ours])
    client = options.get("client_kwargs") or {}
    endpoint = client.get("endpoint_url") or options.get("endpoint_url")
    if endpoint:
        out.setdefault("endpoint", endpoint)
        out.setdefault("virtual_hosted_style_request", False)
        if endpoint.startswith("http://"):
            out["client_options"] = {"allow_http": True, **(out.get("client_options") or {})}
    if client.get("region_name"):
        out.setdefault("region", client["region_name"])
    if options.get("anon"):
        out.setdefault("skip_signature", True)
    return out


def _store_classes(obstore: Any) -> list[type]:
    from obstore import store as stores

    return [
        getattr(stores, name)
        for name in ("S3Store", "GCSStore", "AzureStore", "HTTPStore", "LocalStore", "MemoryStore")
        if hasattr(stores, name)
    ]
