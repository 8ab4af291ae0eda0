"""ZipStore: a store inside one zip archive, for shipping a whole hierarchy as one file.

Design. A zip archive cannot replace or remove an entry in place, and Python's zipfile
appends a second entry when a name is written twice. The store therefore keeps an
index (key -> newest entry) in memory: a rewrite appends a new entry and points the index
at it, a delete drops the key from the index, so reads always see the latest state while
the process writes only forward and holds no values in memory. On `close` the central
directory is written; if any entry was superseded or deleted, the archive is then compacted
(every live entry is copied into a temporary file beside it, which replaces the archive
atomically), so a closed archive never holds duplicate or dead entries.

Every operation holds one lock, so a store can be shared by threads. Views from
`with_read_only` share the open archive (closing any view commits it; the next use reopens
it for appending). A store pickles its path and mode, never its file handle, and reopens
lazily; pickling a writable store commits what it has written first, so that the copy reads
it. One writer at a time per archive: zip files have no multi-writer protocol, and while a
writer has the archive open other readers see it only as of its last commit. Close the store
(or use `async with`) to compact it; an archive never closed is still finalized by zipfile
when collected, but may keep superseded entries (readers take the last one of a name). Entry names that could escape a directory on extraction (`../x`, `/abs`,
backslashes, drive letters) make the archive refused on open.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import struct
import threading
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, Self

from zarrlayer.errors import InvalidKeyError, ModeError, NodeNotFoundError, StoreError
from zarrlayer.storage._base import (
    Buffer,
    ByteRequest,
    SyncStore,
    byte_request_slice,
    direct_children,
    normalize_prefix,
    validate_key,
    validate_prefix,
)
from zarrlayer.storage._buffers import to_bytes

__all__ = ["ZipStore"]

ZipMode = Literal["r", "w", "a", "x"]
_DRIVE = re.compile(r"^[A-Za-z]:")
_LOCAL_HEADER = struct.Struct("<4s22xHH")


class _Archive:
    """The open zip file and its key index, shared by every view of one ZipStore."""

    def __init__(self, path: str, mode: ZipMode, compression: int) -> None:
        self.path, self.mode, self.compression = path, mode, compression
        self.lock = threading.RLock()
        self.zf: zipfile.ZipFile | None = None
        self.index: dict[str, zipfile.ZipInfo] = {}
        self.offsets: dict[int, int] = {}
        self.superseded = 0
        """Entries of the archive as opened that a later entry of the same name hides."""
        self.dirty = False
        """Whether closing must compact: an entry was superseded or deleted while writing."""

    @property
    def writable(self) -> bool:
        return self.mode != "r"

    def ensure_open(self) -> zipfile.ZipFile:
        """The open ZipFile (opening it on first use); call with the lock held."""
        if self.zf is not None:
            return self.zf
        exists = os.path.exists(self.path)
        if self.mode == "r" and not exists:
            raise NodeNotFoundError(f"no zip archive at {self.path} to open for reading")
        if self.mode == "a" and exists and not zipfile.is_zipfile(self.path):
            raise StoreError(f"expected a zip archive at {self.path}, found a file that is not one")
        try:
            zf = zipfile.ZipFile(self.path, mode=self.mode, compression=self.compression, allowZip64=True)
        except zipfile.BadZipFile as e:
            raise StoreError(f"expected a zip archive at {self.path}, found a damaged or foreign file: {e}") from e
        self.index = _checked_index(zf, self.path)
        self.superseded = sum(not i.is_dir() for i in zf.infolist()) - len(self.index)
        self.offsets = {}
        self.zf = zf
        if self.mode in ("w", "x"):
            self.mode = "a"
        return zf

    def _readable(self) -> zipfile.ZipFile | None:
        """The open ZipFile, or None while no archive file exists (reads never create one)."""
        if self.zf is None and not os.path.exists(self.path):
            return None
        return self.ensure_open()

    def info(self, key: str) -> zipfile.ZipInfo | None:
        with self.lock:
            return self.index.get(key) if self._readable() is not None else None

    def read(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        with self.lock:
            zf = self._readable()
            info = self.index.get(key) if zf is not None else None
            if zf is None or info is None:
                return None
            try:
                if byte_range is not None and info.compress_type == zipfile.ZIP_STORED:
                    start, stop = byte_request_slice(byte_range, info.file_size)
                    zf.fp.seek(self._data_offset(zf, info) + start)  # type: ignore[union-attr]
                    return zf.fp.read(stop - start)  # type: ignore[union-attr]
                value = zf.read(info)
            except (zipfile.BadZipFile, OSError) as e:
                raise StoreError(f"could not read entry {key!r} of zip archive {self.path}: {e}") from e
        if byte_range is None:
            return value
        start, stop = byte_request_slice(byte_range, len(value))
        return value[start:stop]

    def _data_offset(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
        offset = self.offsets.get(id(info))
        if offset is None:
            zf.fp.seek(info.header_offset)  # type: ignore[union-attr]
            signature, name_len, extra_len = _LOCAL_HEADER.unpack(zf.fp.read(_LOCAL_HEADER.size))  # type: ignore[union-attr]
            if signature != b"PK\x03\x04":
                raise zipfile.BadZipFile(f"bad local header for entry {info.filename!r}")
            offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
            self.offsets[id(info)] = offset
        return offset

    def write(self, key: str, value: bytes, *, only_if_missing: bool = False) -> None:
        with self.lock:
            zf = self.ensure_open()
            if only_if_missing and key in self.index:
                return
            info = zipfile.ZipInfo(key, date_time=time.localtime()[:6])
            info.compress_type = self.compression
            if key in self.index or self.superseded:
                self.dirty = True
            zf.NameToInfo.pop(key, None)  # the compaction on close drops the older entry; zipfile need not warn
            try:
                zf.writestr(info, value)
            except (OSError, ValueError) as e:
                raise StoreError(f"could not write entry {key!r} of zip archive {self.path}: {e}") from e
            self.index[key] = info

    def remove(self, keys: list[str]) -> None:
        with self.lock:
            if self._readable() is None:
                return
            for key in keys:
                if self.index.pop(key, None) is not None or self.superseded:
                    self.dirty = True

    def keys(self) -> list[str]:
        with self.lock:
            return list(self.index) if self._readable() is not None else []

    def items(self) -> list[tuple[str, zipfile.ZipInfo]]:
        with self.lock:
            return list(self.index.items()) if self._readable() is not None else []

    def close(self) -> None:
        with self.lock:
            if self.zf is None:
                return
            zf, self.zf = self.zf, None
            live = dict(self.index)
            self.index, self.offsets = {}, {}
            try:
                zf.close()
                if self.dirty:
                    _compact(self.path, live)
            except (OSError, zipfile.BadZipFile) as e:
                raise StoreError(f"could not finish writing zip archive {self.path}: {e}") from e
            finally:
                self.dirty = False


def _checked_index(zf: zipfile.ZipFile, path: str) -> dict[str, zipfile.ZipInfo]:
    """Every file entry by name (the last of duplicates wins); refuse names that could escape."""
    index: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename
        key = name[:-1] if name.endswith("/") else name
        try:
            validate_key(key)
            if _DRIVE.match(key):
                raise InvalidKeyError(f"drive letter in {key!r}")
        except InvalidKeyError as e:
            zf.close()
            raise StoreError(
                f"zip archive {path} holds an entry named {name!r}, which could escape the archive's root "
                f"({e}); expected relative '/'-separated names, so the archive is refused"
            ) from None
        if not name.endswith("/"):
            index[key] = info
    return index


def _compact(path: str, live: dict[str, zipfile.ZipInfo]) -> None:
    """Rewrite the archive at `path` with only the `live` entries, replacing it atomically."""
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)[:120]}.zarrlayer-tmp-{uuid.uuid4().hex}")
    try:
        with zipfile.ZipFile(path, "r") as src, zipfile.ZipFile(tmp, "w", allowZip64=True) as dst:
            for key, old in live.items():
                info = zipfile.ZipInfo(key, date_time=old.date_time)
                info.compress_type = old.compress_type
                with src.open(old) as reader, dst.open(info, "w", force_zip64=old.file_size > 2**31) as writer:
                    shutil.copyfileobj(reader, writer, 1 << 20)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class ZipStore(SyncStore):
    """A store inside the zip archive at `path`; see the module docstring for the design.

    `mode`: 'r' read an existing archive, 'w' create or truncate, 'x' create (FileExistsError
    if the file exists), 'a' read and append (created when missing). `compression` applies to
    new entries (zipfile.ZIP_STORED keeps byte-range reads to the bytes asked for).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: ZipMode = "r",
        compression: int = zipfile.ZIP_STORED,
        read_only: bool | None = None,
    ) -> None:
        if mode not in ("r", "w", "a", "x"):
            raise ModeError(f"expected a ZipStore mode of 'r', 'w', 'a' or 'x', found {mode!r}")
        if read_only is False and mode == "r":
            raise ModeError(f"ZipStore mode 'r' is read-only, but read_only=False was asked for {path}")
        if read_only is True and mode in ("w", "x"):
            raise ModeError(f"ZipStore mode {mode!r} writes, but read_only=True was asked for {path}")
        super().__init__(read_only=mode == "r" if read_only is None else read_only)
        self._path = os.path.realpath(os.path.expanduser(os.fspath(path)))
        self._compression = compression
        archive_mode: ZipMode = "r" if self.read_only else mode
        if mode == "x" and os.path.exists(self._path):
            raise FileExistsError(f"a file exists at {self._path}; mode 'x' creates a new zip archive only")
        if archive_mode == "r" and mode == "r" and not os.path.exists(self._path):
            raise NodeNotFoundError(f"no zip archive at {self._path} to open for reading")
        self._archive = _Archive(self._path, archive_mode, compression)
        if archive_mode in ("w", "x"):
            with self._archive.lock:
                self._archive.ensure_open()

    @property
    def path(self) -> str:
        """The absolute path of the archive."""
        return self._path

    @property
    def url(self) -> str:
        return f"zip://{self._path}"

    def with_read_only(self, read_only: bool = True) -> Self:
        if not read_only and not self._archive.writable:
            return type(self)(self._path, mode="a", compression=self._compression)
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._read_only = read_only
        return clone

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZipStore) and other._path == self._path and other.read_only == self.read_only

    def __hash__(self) -> int:
        return hash((ZipStore, self._path))

    def __reduce__(self) -> tuple[Any, ...]:
        if self._archive.writable:
            self.flush()
        mode = "a" if self._archive.writable else "r"
        return (_unpickle, (self._path, mode, self._compression, self.read_only))

    def flush(self) -> None:
        """Write the central directory (compacting if needed) so other readers see every write."""
        self._archive.close()

    async def close(self) -> None:
        await asyncio.to_thread(self._archive.close)
        self._is_open = False

    # -- synchronous fast path --------------------------------------------------------

    def get_sync(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        return self._archive.read(validate_key(key), byte_range)

    def get_many_sync(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        for key, _ in key_ranges:
            validate_key(key)
        return [self._archive.read(k, r) for k, r in key_ranges]

    def exists_sync(self, key: str) -> bool:
        return self._archive.info(validate_key(key)) is not None

    def set_sync(self, key: str, value: Buffer) -> None:
        validate_key(key)
        self._check_writable()
        self._archive.write(key, to_bytes(value, key=key, url=self.url))

    def delete_sync(self, key: str) -> None:
        validate_key(key)
        self._check_writable()
        self._archive.remove([key])

    # -- async API (get, exists, set and delete come from SyncStore) --------------------

    async def getsize(self, key: str) -> int:
        info = self._archive.info(validate_key(key))
        if info is None:
            raise FileNotFoundError(f"no value at key {key!r} in store {self.url}")
        return info.file_size

    async def getsize_prefix(self, prefix: str) -> int:
        validate_prefix(prefix)
        return sum(i.file_size for k, i in self._archive.items() if k.startswith(prefix))

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        validate_key(key)
        self._check_writable()
        self._archive.write(key, to_bytes(value, key=key, url=self.url), only_if_missing=True)

    async def delete_dir(self, prefix: str) -> None:
        prefix = normalize_prefix(prefix)
        self._check_writable()
        self._archive.remove([k for k in self._archive.keys() if k.startswith(prefix)])

    async def clear(self) -> None:
        self._check_writable()
        self._archive.remove(self._archive.keys())

    async def is_empty(self, prefix: str = "") -> bool:
        prefix = normalize_prefix(prefix)
        return not any(k.startswith(prefix) for k in self._archive.keys())

    async def list(self) -> AsyncIterator[str]:
        for key in self._archive.keys():
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        validate_prefix(prefix)
        for key in self._archive.keys():
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        for child in direct_children(self._archive.keys(), normalize_prefix(prefix)):
            yield child


def _unpickle(path: str, mode: ZipMode, compression: int, read_only: bool) -> ZipStore:
    return ZipStore(path, mode=mode, compression=compression, read_only=read_only)
