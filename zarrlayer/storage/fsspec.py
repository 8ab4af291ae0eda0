"""FsspecStore: a zarrlayer Store over any fsspec filesystem (s3fs, HTTP, GCS, chained caches...).

Async filesystems run natively on the event loop that calls them: the store makes one
instance per loop with `asynchronous=True` (built from the filesystem's class and
storage options), so that pickled copies in other processes reconnect on their own
loop. Synchronous filesystems are wrapped to run in threads. Every request goes
through the store's shared request limit and retry policy (see `_remote`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from functools import partial
from typing import Any

from fsspec.utils import tokenize

from zarrlayer.errors import ReadOnlyError, missing_dependency
from zarrlayer.storage._base import Buffer, ByteRequest, empty_request, normalize_prefix, validate_key, validate_prefix
from zarrlayer.storage._buffers import to_bytes
from zarrlayer.storage._fsspec_support import (
    ALLOWED_EXCEPTIONS,
    BACKENDS,
    LOOP_ONLY_OPTIONS,
    READ_ONLY_PROTOCOLS,
    cat_batch,
    classify_fsspec_error,
    fsspec_limits,
    http_pool_size,
    instance_options,
    short_read,
    sized_client,
    split_query,
    loop_filesystems,
    loop_filesystems_lock,
    pipe_with_parents,
    trim_ignored_range,
    unsatisfiable,
    userinfo,
    userinfo_to_auth,
)
from zarrlayer.storage._remote import (
    Failure,
    RemoteStore,
    RetryPolicy,
    ShortReadError,
    collect_secrets,
    no_listing_error,
    public_settings,
    redact_url,
    remote_error,
)

__all__ = ["FsspecStore"]


_splits_reads: dict[Any, bool] = {}


def _index_unlocked(fs: Any) -> bool:
    """Whether `fs` is fsspec's filecache or blockcache, whose cache index is read and written without a lock.

    Two threads reading through one of them can see a half-updated index (fsspec then fails
    with a TypeError inside `_open`), so such a store keeps one request in flight.
    simplecache keeps no index and stays concurrent.
    """
    try:
        from fsspec.implementations.cached import CachingFileSystem, SimpleCacheFileSystem
    except ImportError:
        return False
    return isinstance(fs, CachingFileSystem) and not isinstance(fs, SimpleCacheFileSystem)


def _cat_file_takes_concurrency(fs_cls: Any) -> bool:
    """Whether the filesystem's `_cat_file` splits one read into parallel parts (`max_concurrency=`); asked once per class."""
    known = _splits_reads.get(fs_cls)
    if known is None:
        known = _splits_reads[fs_cls] = "max_concurrency" in inspect.signature(fs_cls._cat_file).parameters
    return known


class _Unbatched(Exception):
    """A batch read failed as a whole (a chained cache raising for one missing key): read each key alone."""

class FsspecStore(RemoteStore):
    """A store over an fsspec filesystem rooted at `path`; HTTP filesystems are read-only.

    `max_concurrency` bounds requests in flight (default: the `max_concurrency` setting)
    and `retries` the attempts after the first on transient errors (default: the
    `retries` setting). `allowed_exceptions` are the errors that mean "no such key".
    """

    def __init__(
        self,
        fs: Any,
        path: str = "",
        *,
        read_only: bool = False,
        allowed_exceptions: tuple[type[BaseException], ...] = ALLOWED_EXCEPTIONS,
        max_concurrency: int | None = None,
        retries: int | None = None,
        _url: str | None = None,
    ) -> None:
        from fsspec.asyn import AsyncFileSystem
        from fsspec.spec import AbstractFileSystem

        if not isinstance(fs, AbstractFileSystem):
            raise TypeError(f"FsspecStore needs an fsspec filesystem, found {type(fs).__name__}")
        protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
        self._http = bool(set(protocols) & READ_ONLY_PROTOCOLS)
        self.supports_writes = self.supports_deletes = not self._http
        super().__init__(
            read_only=read_only or not self.supports_writes, max_concurrency=max_concurrency, retries=retries
        )
        self._fs_cls = type(fs)
        self._fs_options = {k: v for k, v in fs.storage_options.items() if k not in LOOP_ONLY_OPTIONS}
        self._native = isinstance(fs, AsyncFileSystem)
        stripped, self._query = split_query(fs._strip_protocol(path) if path else "", self._http)
        self._path = stripped.rstrip("/")
        self._url = redact_url(
            _url.rstrip("/") if _url else fs.unstrip_protocol(self._path).rstrip("/") + self._query
        )
        self._allowed = tuple(allowed_exceptions)
        self._secrets = collect_secrets(self._fs_options) | collect_secrets({"password": userinfo(self._path)})
        if self._query:  # a signed URL's query is a credential: never in an error or log line
            self._secrets |= collect_secrets({"signature": self._query[1:]})
        self._sync_fs = None if self._native else fs
        self._fs_token = tokenize(self._fs_cls.__module__, self._fs_cls.__qualname__, self._fs_options)
        self._wrapped: Any = None
        self._lists: bool | None = None  # whether an HTTP server gives directory listings (asked once)
        if _index_unlocked(fs):
            self._max_concurrency = 1  # one request at a time, whatever the setting: see _index_unlocked
        self._full_read_kwargs: dict[str, Any] = (
            {"max_concurrency": 1} if self._native and _cat_file_takes_concurrency(self._fs_cls) else {}
        )

    @classmethod
    def from_upath(
        cls,
        upath: Any,
        read_only: bool = False,
        allowed_exceptions: tuple[type[BaseException], ...] = ALLOWED_EXCEPTIONS,
    ) -> FsspecStore:
        """A store at a universal-pathlib `UPath` (its `fs` and `path`), as zarr-python's `from_upath`."""
        fs, path = getattr(upath, "fs", None), getattr(upath, "path", None)
        if fs is None or not isinstance(path, str):
            raise TypeError(f"expected a UPath (with .fs and .path), found {type(upath).__name__}")
        return cls(fs, path.rstrip("/"), read_only=read_only, allowed_exceptions=allowed_exceptions)

    @classmethod
    def from_mapper(
        cls,
        fs_map: Any,
        read_only: bool = False,
        allowed_exceptions: tuple[type[BaseException], ...] = ALLOWED_EXCEPTIONS,
    ) -> FsspecStore:
        """A store over an fsspec mapper (`fsspec.get_mapper(url)`, `fs.get_mapper(root)`): its filesystem and root."""
        fs, root = getattr(fs_map, "fs", None), getattr(fs_map, "root", None)
        if fs is None or not isinstance(root, str):
            raise TypeError(f"expected an fsspec FSMap (with .fs and .root), found {type(fs_map).__name__}")
        return cls(fs, root, read_only=read_only, allowed_exceptions=allowed_exceptions)

    @classmethod
    def from_url(
        cls,
        url: str,
        storage_options: dict[str, Any] | None = None,
        read_only: bool = False,
        allowed_exceptions: tuple[type[BaseException], ...] = ALLOWED_EXCEPTIONS,
        **kwargs: Any,
    ) -> FsspecStore:
        """A store for an fsspec URL (`s3://bucket/path`, `https://...`, `simplecache::s3://...`).

        A query string (a signed URL's `?sig=...`) stays at the end of every key's URL.
        `kwargs` are the constructor's (`max_concurrency`, `retries`).
        """
        kwargs["allowed_exceptions"] = allowed_exceptions
        try:
            from fsspec.core import url_to_fs
        except ImportError:  # pragma: no cover - fsspec is a core dependency
            raise missing_dependency("fsspec", "s3", "FsspecStore") from None
        url, storage_options = userinfo_to_auth(url, storage_options)
        try:
            fs, path = url_to_fs(url, **(storage_options or {}))
        except ImportError:
            protocol = url.split("::", 1)[0].split("://", 1)[0] if "://" in url else "file"
            package, extra = BACKENDS.get(protocol, (f"the fsspec implementation of {protocol!r}", "all"))
            raise missing_dependency(package, extra, f"FsspecStore for {redact_url(url)!r}") from None
        if "::" in url:
            return cls(fs, path, read_only=read_only, _url=url, **kwargs)
        return cls(fs, path, read_only=read_only, **kwargs)

    # -- identity -------------------------------------------------------------------

    @property
    def cache_identity(self) -> str:
        return f"{self._url}#{public_settings(self._fs_options)}"

    @property
    def fs(self) -> Any:
        """The filesystem as configured (synchronous use); async work uses one instance per loop."""
        if self._sync_fs is not None:
            return self._sync_fs
        return self._fs_cls(**self._fs_options)

    @property
    def path(self) -> str:
        """The root inside the filesystem, without protocol or trailing '/'."""
        return self._path

    def _config(self) -> tuple[Any, ...]:
        return (self._fs_cls, self._fs_options, self._path, self._url)

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and self._config() == other._config()
            and self.read_only == other.read_only
        )

    __hash__ = RemoteStore.__hash__

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k != "_wrapped"}
        if self._sync_fs is not None:
            state["_sync_fs"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._wrapped = None
        if not self._native:
            self._sync_fs = self._fs_cls(**self._fs_options)

    # -- plumbing -------------------------------------------------------------------

    def _check_writable(self) -> None:
        if not self.supports_writes:
            raise ReadOnlyError(f"store {self.url} is read-only: its filesystem ({self._fs_cls.__name__}) cannot write")
        super()._check_writable()

    def _async_fs(self) -> Any:
        """The filesystem instance bound to the running loop (made on first use there)."""
        if self._sync_fs is not None:
            if self._wrapped is None:
                from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

                self._wrapped = AsyncFileSystemWrapper(self._sync_fs)
            return self._wrapped
        loop = asyncio.get_running_loop()
        with loop_filesystems_lock:
            on_loop = loop_filesystems.setdefault(loop, {})
        pool = http_pool_size(self._fs_cls, self._fs_options, self.max_concurrency)
        token = self._fs_token if pool is None else f"{self._fs_token}#pool={pool}"
        fs = on_loop.get(token)  # only this loop's thread touches its own dict
        if fs is None:
            options = instance_options(self._fs_cls, self._fs_options)
            if pool is not None:
                options = {**options, "get_client": sized_client(pool)}
            fs = self._fs_cls(**options, asynchronous=True, loop=loop, skip_instance_cache=True)
            if "retries" not in self._fs_options and isinstance(getattr(fs, "retries", None), int):
                fs.retries = 1  # s3fs: one attempt per call, zarrlayer's policy retries
            if "use_listings_cache" not in self._fs_options and hasattr(fs, "dircache"):
                from fsspec.dircache import DirCache

                fs.dircache = DirCache(use_listings_cache=False)
            on_loop[token] = fs
        return fs

    def _full_path(self, key: str) -> str:
        validate_key(key)
        return (f"{self._path}/{key}" if self._path else key) + self._query

    def _dir_path(self, prefix: str) -> str:
        prefix = prefix.rstrip("/")
        return f"{self._path}/{prefix}" if self._path and prefix else (prefix or self._path)

    def _relative(self, full: str) -> str | None:
        full = full.rstrip("/")
        if not self._path:
            return full or None
        head = self._path + "/"
        return full[len(head):] if full.startswith(head) else None

    def _classify(self, exc: BaseException) -> Failure:
        if isinstance(exc, self._allowed):
            return Failure.PASS
        return classify_fsspec_error(exc)

    # -- reading --------------------------------------------------------------------

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        return await self._get(key, byte_range, None)

    async def _check_length(self, fs: Any, path: str, value: Any, byte_range: ByteRequest | None) -> None:
        """ShortReadError when `value`, shorter than `byte_range` asks, is not the object's end."""
        from zarrlayer.storage._base import byte_request_slice

        info = await fs._info(path)
        size = info.get("size")
        if size is None:
            return
        begin, stop = byte_request_slice(byte_range, int(size))
        if len(value) < stop - begin:
            raise ShortReadError(
                f"range {byte_range} answered with {len(value)} bytes where the object of {size} bytes holds {stop - begin}"
            )

    async def _get(self, key: str, byte_range: ByteRequest | None, policy: RetryPolicy | None) -> Buffer | None:
        path = self._full_path(key)
        if empty_request(byte_range):
            return b"" if await self.exists(key) else None
        start, end = fsspec_limits(byte_range)
        fs = self._async_fs()
        kwargs = self._full_read_kwargs if byte_range is None else {}

        async def fetch() -> Any:
            value = trim_ignored_range(await fs._cat_file(path, start=start, end=end, **kwargs), byte_range)
            if short_read(value, byte_range):
                await self._check_length(fs, path, value, byte_range)
            return value

        try:
            return await self._call(fetch, key, policy)
        except self._allowed:
            return None
        except Exception as exc:
            if unsatisfiable(exc):
                return b"" if await self.exists(key) else None
            raise

    async def get_partial_values(
        self, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        requests = list(key_ranges)
        paths = [self._full_path(k) for k, _ in requests]
        results: list[Any] = [None] * len(requests)
        batch = [i for i, (_, r) in enumerate(requests) if not empty_request(r)]
        if not self._native:
            # a synchronous filesystem's cat_ranges is a loop anyway, and a chained cache's
            # (simplecache::) fails the whole batch on one missing key while its other
            # downloads still run, so a key read next may see a half-written local copy
            batch = []
        if batch:
            limits = [fsspec_limits(requests[i][1]) for i in batch]
            fs = self._async_fs()
            async with self._limiter().slots(len(batch)) as taken:
                full = self._full_read_kwargs if all(requests[i][1] is None for i in batch) else {}
                try:
                    async with asyncio.timeout(self._policy.attempt_timeout):
                        out = await cat_batch(fs, [paths[i] for i in batch], limits, taken, full)
                except TimeoutError:  # the batch was the first attempt: each is read again alone
                    out = [TimeoutError()] * len(batch)
                except Exception:  # noqa: BLE001 - one missing key fails a whole simplecache:: batch
                    out = [_Unbatched()] * len(batch)
            for i, value in zip(batch, out):
                value = trim_ignored_range(value, requests[i][1])
                results[i] = ShortReadError() if short_read(value, requests[i][1]) else value
        fetched = set(batch)
        redo = [i for i, v in enumerate(results) if isinstance(v, BaseException) or i not in fetched]
        for i in redo:
            exc = results[i]
            if isinstance(exc, BaseException) and not isinstance(exc, self._allowed) and not unsatisfiable(exc):
                if not isinstance(exc, (ShortReadError, TimeoutError, _Unbatched)) and self._classify(exc) is Failure.FATAL:
                    raise remote_error(exc, f"{self._url} key {requests[i][0]!r}", 1, Failure.FATAL, self._secrets)
        if redo:
            again = await asyncio.gather(*(self._settle(requests[i], results[i]) for i in redo))
            for i, value in zip(redo, again):
                results[i] = value
        return results

    async def _settle(self, request: tuple[str, ByteRequest | None], outcome: Any) -> Buffer | None:
        """The final answer for a batch entry that failed or was not fetched."""
        key, byte_range = request
        if isinstance(outcome, self._allowed):
            return None
        if isinstance(outcome, _Unbatched):
            return await self.get(key, byte_range)
        if isinstance(outcome, BaseException):  # the batch was this read's first attempt
            attempts = self._policy.attempts
            policy = replace(self._policy, retries=max(attempts - 2, 0)) if attempts > 1 else None
            return await self._get(key, byte_range, policy)
        return await self.get(key, byte_range)

    async def _info(self, key: str) -> dict[str, Any] | None:
        path = self._full_path(key)
        fs = self._async_fs()
        try:
            info = await self._call(lambda: fs._info(path), key)
        except self._allowed:
            return None
        return info if info.get("type", "file") == "file" else None

    async def exists(self, key: str) -> bool:
        return await self._info(key) is not None

    async def getsize(self, key: str) -> int:
        info = await self._info(key)
        if info is None or info.get("size") is None:
            raise FileNotFoundError(f"no value (or no known size) at key {key!r} in store {self.url}")
        return int(info["size"])

    async def getsize_prefix(self, prefix: str) -> int:
        total = 0
        unknown = []
        async for full, info in self._find(normalize_prefix(prefix)):
            if info.get("size") is None:
                unknown.append(self._relative(full) or "")
            else:
                total += int(info["size"])
        return total + sum(await asyncio.gather(*(self.getsize(key) for key in unknown)))

    # -- writing --------------------------------------------------------------------

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        path = self._full_path(key)
        data = to_bytes(value, key=key, url=self._url)
        if self._sync_fs is not None:
            await self._call(lambda: asyncio.to_thread(pipe_with_parents, self._sync_fs, path, data), key)
            return
        fs = self._async_fs()
        await self._call(lambda: fs._pipe_file(path, data), key)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        self._check_writable()
        path = self._full_path(key)
        data = to_bytes(value, key=key, url=self._url)
        fs = self._async_fs()
        if "mode" in inspect.signature(fs._pipe_file).parameters:
            try:
                await self._call(lambda: fs._pipe_file(path, data, mode="create"), key)
            except FileExistsError:
                pass
            return
        if not await self.exists(key):
            await self.set(key, data)

    async def delete(self, key: str) -> None:
        self._check_writable()
        path = self._full_path(key)
        fs = self._async_fs()
        try:
            await self._call(lambda: fs._rm_file(path), key)
        except self._allowed:
            pass

    async def delete_dir(self, prefix: str) -> None:
        self._check_writable()
        paths = [full async for full, _ in self._find(normalize_prefix(prefix))]
        if not paths:
            return
        fs = self._async_fs()
        try:
            await self._call(lambda: fs._rm(paths), prefix or "/")
        except NotImplementedError:
            await asyncio.gather(*(self.delete(self._relative(p) or "") for p in paths))
        except self._allowed:
            pass

    # -- listing --------------------------------------------------------------------

    async def _find(self, prefix: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(full path, info) of every file whose key starts with `prefix`."""
        validate_prefix(prefix)
        parent = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        root = self._dir_path(parent)
        found = await (self._walk_http(root, prefix) if self._http else self._find_flat(root, prefix))
        for full in sorted(found):
            info = found[full]
            relative = self._relative(full)
            if relative and info.get("type", "file") == "file" and relative.startswith(prefix):
                if all(segment not in ("", ".", "..") for segment in relative.split("/")):
                    yield full, info

    async def _find_flat(self, root: str, prefix: str) -> dict[str, dict[str, Any]]:
        fs = self._async_fs()
        try:
            return await self._call(lambda: fs._find(root, withdirs=False, detail=True), prefix or "/")
        except self._allowed:
            return {}

    async def _walk_http(self, root: str, prefix: str) -> dict[str, dict[str, Any]]:
        """Files under `root` from HTML listings, asking for each directory as `dir/` (a walk, not one call)."""
        fs = self._async_fs()
        found: dict[str, dict[str, Any]] = {}
        pending, seen = [root.rstrip("/")], set()
        while pending:
            directory = pending.pop()
            seen.add(directory)
            try:
                entries = await self._call(partial(fs._ls, directory + "/" + self._query, detail=True), prefix or "/")
            except self._allowed:
                await self._check_listings(prefix)
                continue
            for entry in entries:
                name = entry["name"]
                if not name.startswith(directory + "/") or name.rstrip("/") in seen:
                    continue
                if entry.get("type") == "directory" or name.endswith("/"):
                    pending.append(name.rstrip("/"))
                else:
                    found[name] = entry
        return found

    async def _check_listings(self, prefix: str) -> None:
        """RemoteStoreError when the HTTP server gives no directory listing even at the store's root
        (then a missing listing means "cannot list", not "nothing there")."""
        if self._lists is None:
            fs = self._async_fs()
            try:
                entries = await self._call(lambda: fs._ls(self._path + "/" + self._query, detail=False), "/")
                self._lists = bool(entries)
            except self._allowed:
                self._lists = False
        if not self._lists:
            raise no_listing_error(self.url, prefix)

    async def list(self) -> AsyncIterator[str]:
        async for key in self.list_prefix(""):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        async for full, _ in self._find(prefix):
            relative = self._relative(full)
            if relative is not None:
                yield relative

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = normalize_prefix(prefix)
        if not self._native:  # real directories may be empty: children are what holds a file
            children = sorted({key[len(prefix):].split("/", 1)[0] async for key in self.list_prefix(prefix)})
            for child in children:
                yield child
            return
        directory = self._dir_path(prefix)
        fs = self._async_fs()
        try:
            listed = directory + "/" + self._query if self._http else directory
            entries = await self._call(lambda: fs._ls(listed, detail=True), prefix or "/")
        except self._allowed:
            if self._http:
                await self._check_listings(prefix)
            return
        head = directory.rstrip("/") + "/" if directory else ""
        names = set()
        for entry in entries:
            name = entry["name"].rstrip("/")
            if head and not name.startswith(head):
                continue
            child = name[len(head):].split("/", 1)[0]
            if child:
                names.add(child)
        for name in sorted(names):
            yield name
