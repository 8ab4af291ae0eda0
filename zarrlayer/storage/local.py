"""LocalStore: a directory on the local filesystem, one file per key.

Writes are atomic (a temporary file in the target directory, then `os.replace`), so a
reader never sees half a value and a failed write leaves the old value in place. Keys are
validated and every path is checked to lie under the root before any I/O, so no key can
reach outside it: a symbolic link inside the root is followed only while its target lies
under the root too; a key that passes through a link leading elsewhere is refused with
InvalidKeyError (before anything outside is read, written or deleted), and listings do not
descend into such links. Each directory of a key is checked once per store object (then
remembered); the final component is checked on every read.

Deleting a key leaves its (possibly empty) directory in place, so that concurrent writers
into the same directory never race a pruning delete; listings skip directories that hold no
value, and `delete_dir` removes the directories too.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import stat
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Self

from zarrlayer.errors import InvalidKeyError, StoreError
from zarrlayer.storage._base import (
    Buffer,
    ByteRequest,
    Store,
    normalize_prefix,
    validate_key,
    validate_keys,
    validate_prefix,
)
from zarrlayer.storage._buffers import as_byte_view
from zarrlayer.storage._local_files import (
    _DIR_FD_WRITES,
    _DIR_FLAGS,
    _NOFOLLOW,
    _READ_FLAGS,
    _RELATIVE_READS,
    _TMP_MARK,
    _OpenDirectory,
    _exclusive_write,
    _is_regular,
    _pread_into,
    _read_range,
    _read_rest,
    _read_whole,
    _temp_token,
    _unlink_quietly,
    _write_new,
)
from zarrlayer.storage._local_listing import _LocalListing

__all__ = ["LocalStore"]

_MAKEDIR_ATTEMPTS = 8
_INSIDE_LIMIT = 1 << 16


class LocalStore(_LocalListing, Store):
    """A store over the directory `root` (created on first write); `url` is `file://<abs root>`."""

    supports_sync = True

    def __init__(self, root: str | os.PathLike[str], *, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"expected a str or path for LocalStore root, found {type(root).__name__}")
        self._root = os.path.realpath(os.path.expanduser(os.fspath(root)))
        self._root_sep = self._root.rstrip(os.sep) + os.sep
        self._url = Path(self._root).as_uri()
        self._inside: set[str] = set()
        """Directory keys checked to stay under the root (not links, or links to inside it)."""

    @property
    def root(self) -> Path:
        """The absolute, resolved root directory."""
        return Path(self._root)

    @property
    def url(self) -> str:
        return self._url

    def with_read_only(self, read_only: bool = False) -> Self:
        return type(self)(self._root, read_only=read_only)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalStore) and other._root == self._root and other.read_only == self.read_only

    def __hash__(self) -> int:
        return hash((LocalStore, self._root))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpickle, (self._root, self.read_only))

    @classmethod
    async def open(
        cls, root: str | os.PathLike[str], *, read_only: bool = False, mode: str | None = None
    ) -> Self:
        """Construct and open a store at `root` (zarr-python's signature). A writable store creates its
        root; a read-only one (or `mode` 'r'/'r+') needs it to exist (FileNotFoundError). `mode` only
        affects the opening; `read_only` decides the store returned."""
        store = cls(root, read_only=mode in ("r", "r+") if mode is not None else read_only)
        await store._open()
        if store.read_only != bool(read_only):
            store = store.with_read_only(read_only)
            await store._open()
        return store

    async def _open(self) -> None:
        if not self.read_only:
            os.makedirs(self._root, exist_ok=True)
        if not os.path.isdir(self._root):
            raise FileNotFoundError(f"no directory at {self._root} to open store {self.url}")
        await super()._open()

    async def move(self, dest_root: str | os.PathLike[str]) -> None:
        """Move the whole store directory to `dest_root` (which must not exist); the store follows it."""
        self._check_writable()
        target = os.path.realpath(os.path.expanduser(os.fspath(dest_root)))
        if os.path.lexists(target):
            raise FileExistsError(f"cannot move store {self.url} to {target}: something exists there")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        await asyncio.to_thread(shutil.move, self._root, target)
        self._root = target
        self._root_sep = target.rstrip(os.sep) + os.sep
        self._url = Path(target).as_uri()
        self._inside = set()

    # -- paths ------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        """The file path of `key`, after checking that no directory on the way leads outside the root."""
        validate_key(key)
        if os.sep == "/":
            # a valid key has no '', '.' or '..' segment, so its syntax cannot leave the root
            path = self._root_sep + key
        else:
            path = os.path.normpath(os.path.join(self._root, *key.split("/")))
            if not path.startswith(self._root_sep):
                raise InvalidKeyError(f"key {key!r} resolves outside the root of store {self.url}")
        parent = key.rpartition("/")[0]
        if parent and parent not in self._inside:
            self._check_dirs(key, parent)
        return path

    def _check_dirs(self, key: str, parent: str) -> None:
        """Refuse `key` if a directory of it is a link whose target leaves the root; remember the good ones."""
        directory = ""
        for name in parent.split("/"):
            directory = f"{directory}/{name}" if directory else name
            if directory in self._inside:
                continue
            full = os.path.join(self._root, *directory.split("/"))
            try:
                mode = os.lstat(full).st_mode
            except (FileNotFoundError, NotADirectoryError):
                return  # created later by this store, as a plain directory
            if stat.S_ISLNK(mode) and not self._inside_root(os.path.realpath(full)):
                raise self._outside(key, directory)
            if len(self._inside) >= _INSIDE_LIMIT:
                self._inside.clear()
            self._inside.add(directory)

    def _inside_root(self, real: str) -> bool:
        return real == self._root or real.startswith(self._root_sep)

    def _outside(self, key: str, link: str) -> InvalidKeyError:
        return InvalidKeyError(
            f"key {key!r} passes through {link!r}, a symbolic link whose target lies outside the root of store "
            f"{self.url}; expected every key to stay under the root, so nothing was read, written or deleted"
        )

    def _followed(self, key: str, path: str) -> str:
        """`path`, or InvalidKeyError when its final component is a link that leaves the root."""
        try:
            is_link = stat.S_ISLNK(os.lstat(path).st_mode)
        except OSError:
            return path
        if is_link and not self._inside_root(os.path.realpath(path)):
            raise self._outside(key, key)
        return path

    def _dir_path(self, prefix: str) -> str:
        """The directory for a normalized prefix ('' is the root), refused if it leads outside the root."""
        if not prefix:
            return self._root
        key = prefix[:-1]
        return self._followed(key, self._path(key))

    # -- synchronous fast path --------------------------------------------------------

    def _open_for_read(self, key: str, path: str) -> int:
        """A read descriptor of `path`; a final link is followed only once checked to stay under the root."""
        try:
            return os.open(path, _READ_FLAGS)
        except OSError as e:
            if e.errno != errno.ELOOP:
                raise
            return os.open(self._followed(key, path), _READ_FLAGS & ~_NOFOLLOW)

    def get_sync(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        path = self._path(key)
        try:
            fd = self._open_for_read(key, path)
            if byte_range is None:
                return _read_whole(fd)
            with open(fd, "rb", buffering=0) as f:
                return _read_range(f, byte_range)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as e:
            raise StoreError(f"could not read key {key!r} from store {self.url}: {e.strerror or e}") from e

    def get_into_sync(self, key: str, buffer: bytearray) -> Buffer | None:
        """The whole value of `key`, read into `buffer` when it fits (a view of it, valid until `buffer` is reused).

        Reading into a reused buffer saves the page faults of a fresh multi-MiB `bytes` per
        read (a 3 MiB shard: about 2 ms of CPU on a VM). A value larger than `buffer` is read as `get_sync` does.
        """
        path = self._path(key)
        try:
            fd = self._open_for_read(key, path)
            with open(fd, "rb", buffering=0) as f:
                size = os.fstat(fd).st_size
                if size > len(buffer):
                    return f.read()
                view = memoryview(buffer)
                got = 0
                while got < size:
                    n = f.readinto(view[got:size])
                    if not n:
                        break
                    got += n
                return view[:got]
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as e:
            raise StoreError(f"could not read key {key!r} from store {self.url}: {e.strerror or e}") from e

    def get_part_into_sync(
        self, key: str, buffer: bytearray, head: int, part_of: Callable[[memoryview, int], tuple[int, int] | None]
    ) -> bool | None:
        """Read the first `head` bytes of `key` into `buffer`, then the byte range `part_of(those bytes, the value's
        size in bytes)` names into the same offsets of `buffer`, both through one descriptor (one version of the
        value, even while a writer replaces it). True when the range was read whole; False when `part_of` declined
        (None) or the value was shorter; None when there is no value. `buffer` must hold the range; keeps
        `get_sync`'s guards and errors.
        """
        path = self._path(key)
        try:
            fd = self._open_for_read(key, path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as e:
            raise StoreError(f"could not read key {key!r} from store {self.url}: {e.strerror or e}") from e
        view = memoryview(buffer)
        try:
            got = _pread_into(fd, view[:head], 0)
            part = part_of(view[:got], os.fstat(fd).st_size)
            if part is None:
                return False
            start, stop = part
            return 0 <= start <= stop <= len(view) and _pread_into(fd, view[start:stop], start) == stop - start
        except OSError as e:
            raise StoreError(f"could not read key {key!r} from store {self.url}: {e.strerror or e}") from e
        finally:
            os.close(fd)

    def get_many_sync(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        return [self.get_sync(k, r) for k, r in key_ranges]

    def read_many_into_sync(self, keys: Sequence[str], buffer: bytearray) -> Iterator[int | Buffer | None]:
        """For each key in order: the size of its value read into `buffer` (an int), or the value as bytes
        when it does not fit (`len(buffer)` bytes or more), or None when there is none.

        An int result is valid until the next item is drawn (the next value overwrites `buffer`).
        Per key one open (relative to its directory, opened once per run of keys sharing it),
        one read and one close: no fstat, no fresh bytes, no walk of the root's path. The chunk
        engine reads small chunks with it. Every key is validated before any I/O
        (`validate_keys`, one pass over the batch) and keeps `get_sync`'s guards: each directory
        checked before it is opened (links leaving the root refused, once per store), the final
        component opened with O_NOFOLLOW and a link there followed only when its target stays
        under the root. Raises InvalidKeyError or StoreError (naming key and store URL) as `get_sync` does.
        """
        validate_keys(keys)
        if not _RELATIVE_READS:  # Windows: the general path
            yield from (self.get_sync(key) for key in keys)
            return
        flags, buffers, size = _READ_FLAGS, [buffer], len(buffer)
        current: str | None = None
        directory = -1
        try:
            for key in keys:
                parent, _, name = key.rpartition("/")
                if parent != current:
                    if directory >= 0:
                        os.close(directory)
                    current, directory = parent, self._open_dir(key, parent)
                if directory < 0:
                    yield None
                    continue
                try:
                    fd = os.open(name, flags, dir_fd=directory)
                except OSError as e:
                    reopened = self._reopen(key, self._root_sep + key, e)
                    if reopened is None:
                        yield None
                        continue
                    fd = reopened
                try:
                    got = os.readv(fd, buffers)
                    value: int | Buffer | None = got if got < size else _read_rest(fd, buffer)
                except IsADirectoryError:
                    value = None
                except OSError as e:
                    raise StoreError(f"could not read key {key!r} from store {self.url}: {e.strerror or e}") from e
                finally:
                    os.close(fd)
                yield value
        finally:
            if directory >= 0:
                os.close(directory)

    def _open_dir(self, key: str, parent: str) -> int:
        """A descriptor of the directory `parent` of `key` ('' is the root) once checked to stay under the root; -1 if missing."""
        if parent and parent not in self._inside:
            self._check_dirs(key, parent)
        try:
            return os.open(self._root_sep + parent if parent else self._root, _DIR_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            return -1
        except OSError as e:
            raise StoreError(f"could not read key {key!r} from store {self.url}: {e.strerror or e}") from e

    def _reopen(self, key: str, path: str, error: OSError) -> int | None:
        """A descriptor for `path` after os.open failed with `error` (None: no such value).

        A final link is followed only when its target stays under the root (else InvalidKeyError).
        """
        try:
            if error.errno != errno.ELOOP:
                raise error
            return os.open(self._followed(key, path), _READ_FLAGS & ~_NOFOLLOW)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise StoreError(f"could not read key {key!r} from store {self.url}: {e.strerror or e}") from e

    def exists_sync(self, key: str) -> bool:
        return os.path.isfile(self._followed(key, self._path(key)))

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

    def set_many_sync(self, items: Iterable[tuple[str, Buffer]]) -> None:
        """`set_sync` for each (key, value) in order; each value is written before the next item is drawn.

        So a producer may hand out one reused buffer (the chunk engine's encoder does). Every
        write is atomic as in `set_sync` (a temporary file, then a rename). From the second
        consecutive key of one directory on, both happen relative to an open descriptor of that
        directory, with no path walk per key: `set_sync` wrote the first key of the directory,
        checking it (no link leaving the root) and creating it. Every key is validated.
        Raises what `set_sync` raises; values before the failing one stay written.
        """
        self._check_writable()
        if not _DIR_FD_WRITES:
            for key, value in items:
                self.set_sync(key, value)
            return
        directory = _OpenDirectory(self)
        try:
            for key, value in items:
                if not directory.set(key, value):
                    self.set_sync(key, value)
        finally:
            directory.close()

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
        path = self._followed(key, self._path(key))
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
        return not self._has_file(self._dir_path(normalize_prefix(prefix)))

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
        head, sep, name = path.rpartition(os.sep)  # `path` is normalized: its last separator ends the directory
        tmp = f"{head}{sep}.{name[:120]}{_TMP_MARK}{_temp_token()}"
        for attempt in range(_MAKEDIR_ATTEMPTS):
            try:
                if attempt:  # the directory usually exists: create it only after a first miss
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                _write_new(tmp, view)
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


def _unpickle(root: str, read_only: bool) -> LocalStore:
    return LocalStore(root, read_only=read_only)
