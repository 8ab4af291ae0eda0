"""LocalStore: a directory on the local filesystem, one file per key.

Writes are atomic (a temporary file in the target directory, then `os.replace`), so a
reader never sees half a value and a failed write leaves the old value in place. Keys are
validated and every path is checked to lie under the root before any I/O, so no key can
reach outside it. Symbolic links placed inside the root by the user are followed.

Deleting a key leaves its (possibly empty) directory in place, so that concurrent writers
into the same directory never race a pruning delete; listings skip directories that hold no
value, and `delete_dir` removes the directories too.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Self

from zarrlayer.errors import InvalidKeyError, StoreError
from zarrlayer.storage._base import (
    Buffer,
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
    normalize_prefix,
    validate_key,
    validate_prefix,
)
from zarrlayer.storage._buffers import as_byte_view

__all__ = ["LocalStore"]

_TMP_MARK = ".zarrlayer-tmp-"
_MAKEDIR_ATTEMPTS = 8
_TMP_RE = re.compile(r"^\..*\.zarrlayer-tmp-[0-9a-f]{32}$")


class LocalStore(Store):
    """A store over the directory `root` (created on first write); `url` is `file://<abs root>`."""

    supports_sync = True

    def __init__(self, root: str | os.PathLike[str], *, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"expected a str or path for LocalStore root, found {type(root).__name__}")
        self._root = os.path.realpath(os.path.expanduser(os.fspath(root)))
        self._root_sep = self._root.rstrip(os.sep) + os.sep
        self._url = Path(self._root).as_uri()

    @property
    def root(self) -> Path:
        """The absolute, resolved root directory."""
        return Path(self._root)

    @property
    def url(self) -> str:
        return self._url

    def with_read_only(self, read_only: bool = True) -> Self:
        return type(self)(self._root, read_only=read_only)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalStore) and other._root == self._root and other.read_only == self.read_only

    def __hash__(self) -> int:
        return hash((LocalStore, self._root))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpickle, (self._root, self.read_only))

    # -- paths ------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        validate_key(key)
        if os.sep == "/":
            # a valid key has no '', '.' or '..' segment, so it cannot leave the root
            return self._root_sep + key
        path = os.path.normpath(os.path.join(self._root, *key.split("/")))
        if not path.startswith(self._root_sep):
            raise InvalidKeyError(f"key {key!r} resolves outside the root of store {self.url}")
        return path

    def _dir_path(self, prefix: str) -> str:
        """The directory for a normalized prefix ('' is the root)."""
        return self._path(prefix[:-1]) if prefix else self._root

    # -- synchronous fast path --------------------------------------------------------

    def get_sync(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        path = self._path(key)
        try:
            with open(path, "rb", buffering=0) as f:
                if byte_range is None:
                    return f.read()
                return _read_range(f, byte_range)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as e:
            raise StoreError(f"could not read key {key!r} from store {self.url}: {e.strerror or e}") from e

    def get_many_sync(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        return [self.get_sync(k, r) for k, r in key_ranges]

    def exists_sync(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def set_sync(self, key: str, value: Buffer) -> None:
        path = self._path(key)
        self._check_writable()
        view = as_byte_view(value, key=key, url=self.url)
        tmp = self._write_temp(key, path, view)
        try:
            os.replace(tmp, path)
        except OSError as e:
            _unlink_quietly(tmp)
            raise StoreError(f"could not write key {key!r} in store {self.url}: {e.strerror or e}") from e

    def delete_sync(self, key: str) -> None:
        path = self._path(key)
        self._check_writable()
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except OSError as e:
            raise StoreError(f"could not delete key {key!r} in store {self.url}: {e.strerror or e}") from e

    def set_if_not_exists_sync(self, key: str, value: Buffer) -> None:
        """Write `value` at `key` unless a value is there, atomically (a hard link never replaces)."""
        path = self._path(key)
        self._check_writable()
        view = as_byte_view(value, key=key, url=self.url)
        if os.path.lexists(path):
            return
        tmp = self._write_temp(key, path, view)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:
            _exclusive_write(path, view)
        finally:
            _unlink_quietly(tmp)

    def getsize_sync(self, key: str) -> int:
        """Synchronous `getsize` (one stat)."""
        path = self._path(key)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        if st is None or not _is_regular(st.st_mode):
            raise FileNotFoundError(f"no value at key {key!r} in store {self.url}")
        return st.st_size

    # -- async API --------------------------------------------------------------------

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        return await asyncio.to_thread(self.get_sync, key, byte_range)

    async def get_partial_values(
        self, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return await asyncio.to_thread(self.get_many_sync, list(key_ranges))

    async def exists(self, key: str) -> bool:
        return self.exists_sync(key)

    async def getsize(self, key: str) -> int:
        return self.getsize_sync(key)

    async def getsize_prefix(self, prefix: str) -> int:
        validate_prefix(prefix)
        return await asyncio.to_thread(lambda: sum(size for _, size in self._walk_prefix(prefix)))

    async def set(self, key: str, value: Buffer) -> None:
        self._path(key)
        self._check_writable()
        await asyncio.to_thread(self.set_sync, key, value)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        self._path(key)
        self._check_writable()
        await asyncio.to_thread(self.set_if_not_exists_sync, key, value)

    async def delete(self, key: str) -> None:
        self.delete_sync(key)

    async def delete_dir(self, prefix: str) -> None:
        prefix = normalize_prefix(prefix)
        self._check_writable()
        await asyncio.to_thread(self._delete_dir_sync, prefix)

    async def clear(self) -> None:
        self._check_writable()
        await asyncio.to_thread(self._delete_dir_sync, "")

    async def is_empty(self, prefix: str = "") -> bool:
        return not _has_file(self._dir_path(normalize_prefix(prefix)))

    async def list(self) -> AsyncIterator[str]:
        for key in await asyncio.to_thread(lambda: [k for k, _ in self._walk(self._root, "")]):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        validate_prefix(prefix)
        for key, _ in await asyncio.to_thread(lambda: list(self._walk_prefix(prefix))):
            yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = normalize_prefix(prefix)
        for name in await asyncio.to_thread(self._list_dir_sync, prefix):
            yield name

    # -- helpers ----------------------------------------------------------------------

    def _write_temp(self, key: str, path: str, view: memoryview) -> str:
        """Write `view` to a fresh temporary file beside `path`; return its name."""
        directory, name = os.path.split(path)
        tmp = os.path.join(directory, f".{name[:120]}{_TMP_MARK}{uuid.uuid4().hex}")
        for attempt in range(_MAKEDIR_ATTEMPTS):
            try:
                if attempt:  # the directory usually exists: create it only after a first miss
                    os.makedirs(directory, exist_ok=True)
                with open(tmp, "xb") as f:
                    f.write(view)
                return tmp
            except (FileNotFoundError, FileExistsError) as e:
                # A concurrent delete pruned a directory while makedirs or open ran: try again.
                if attempt + 1 < _MAKEDIR_ATTEMPTS:
                    continue
                error: OSError = e
            except OSError as e:
                error = e
            break
        _unlink_quietly(tmp)
        raise StoreError(f"could not write key {key!r} in store {self.url}: {error.strerror or error}") from error

    def _prune(self, directory: str) -> None:
        """Remove now-empty directories from `directory` up to (not including) the root."""
        while directory.startswith(self._root_sep):
            try:
                os.rmdir(directory)
            except OSError:
                return
            directory = os.path.dirname(directory)

    def _walk(self, directory: str, prefix: str) -> Iterator[tuple[str, int]]:
        """Every (key, size) under `directory`, whose keys start with the directory prefix `prefix`."""
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if _TMP_RE.match(entry.name):
                continue
            try:
                if entry.is_dir():
                    yield from self._walk(entry.path, f"{prefix}{entry.name}/")
                elif entry.is_file():
                    yield f"{prefix}{entry.name}", entry.stat().st_size
            except FileNotFoundError:
                continue

    def _walk_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        """Every (key, size) whose key starts with the string `prefix`."""
        head, _, tail = prefix.rpartition("/")
        dir_prefix = f"{head}/" if head else ""
        directory = self._dir_path(dir_prefix)
        if not tail:
            yield from self._walk(directory, dir_prefix)
            return
        for key, size in self._walk(directory, dir_prefix):
            if key.startswith(prefix):
                yield key, size

    def _list_dir_sync(self, prefix: str) -> list[str]:
        try:
            entries = list(os.scandir(self._dir_path(prefix)))
        except (FileNotFoundError, NotADirectoryError):
            return []
        names = []
        for entry in entries:
            if _TMP_RE.match(entry.name):
                continue
            try:
                if entry.is_file() or (entry.is_dir() and _has_file(entry.path)):
                    names.append(entry.name)
            except FileNotFoundError:
                continue
        return names

    def _delete_dir_sync(self, prefix: str) -> None:
        directory = self._dir_path(prefix)
        for key, _ in list(self._walk(directory, prefix)):
            try:
                os.unlink(self._path(key))
            except FileNotFoundError:
                pass
            except OSError as e:
                raise StoreError(f"could not delete key {key!r} in store {self.url}: {e.strerror or e}") from e
        for dirpath, _, _ in sorted(os.walk(directory), key=lambda t: -len(t[0])):
            if dirpath != self._root:
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
        self._prune(os.path.dirname(directory))


def _read_range(f: Any, request: ByteRequest) -> bytes:
    if isinstance(request, RangeByteRequest):
        f.seek(request.start)
        return _read_exact(f, request.end - request.start)
    if isinstance(request, OffsetByteRequest):
        f.seek(request.offset)
        return f.read()
    if isinstance(request, SuffixByteRequest):
        if request.suffix == 0:
            return b""
        size = os.fstat(f.fileno()).st_size
        f.seek(max(size - request.suffix, 0))
        return f.read()
    raise TypeError(f"expected a ByteRequest or None, found {type(request).__name__}")


def _read_exact(f: Any, n: int) -> bytes:
    """Up to `n` bytes (fewer only at end of file), looping over short reads."""
    parts = []
    while n > 0:
        chunk = f.read(n)
        if not chunk:
            break
        parts.append(chunk)
        n -= len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _exclusive_write(path: str, view: memoryview) -> None:
    """Create `path` with `view` only if it does not exist (for filesystems without hard links)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as f:
        f.write(view)


def _has_file(directory: str) -> bool:
    """Whether any value lies under `directory`, stopping at the first one found."""
    pending = [directory]
    while pending:
        subdirs = []
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.is_file() and not _TMP_RE.match(entry.name):
                        return True
                    if entry.is_dir():
                        subdirs.append(entry.path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        pending.extend(subdirs)
    return False


def _is_regular(mode: int) -> bool:
    return stat.S_ISREG(mode)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _unpickle(root: str, read_only: bool) -> LocalStore:
    return LocalStore(root, read_only=read_only)
