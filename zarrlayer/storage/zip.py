"""ZipStore: a store inside one zip archive, for shipping a whole hierarchy as one file.

Design. A zip archive cannot replace or remove an entry in place, and Python's zipfile
appends a second entry when a name is written twice. The store therefore keeps an
index (key -> newest entry) in memory: a rewrite appends a new entry and points the index
at it, a delete drops the key from the index, so reads always see the latest state while
the process writes only forward and holds no values in memory.

Crash safety. New entries are always written *after* the archive's last central directory,
never over it, and a central directory listing only the live entries is written after them
at each checkpoint (`flush()`, every `checkpoint_bytes` written, pickling) and on `close()`.
A writer killed at any moment therefore leaves a file whose last complete central directory
still lists every entry as of the previous checkpoint (or as the archive was before the
update began); the next open finds it and drops the unfinished tail (mode 'a' truncates it,
mode 'r' reads as if it were not there). `close()` then compacts: when entries were
superseded or deleted, or dead bytes (an earlier central directory) lie inside the archive,
the live entries are copied into a temporary file beside it that replaces it atomically, so
a closed archive is a plain zip without duplicate entries or dead bytes. A temporary file
left by a compaction that was killed is removed on the next writable open.

Every operation holds one lock, so a store can be shared by threads. Views from
`with_read_only` share the open archive (closing any view commits it). An archive never
closed is finished anyway, with live entries only: when its store is garbage collected, and
(compacted too) at interpreter exit; a killed process keeps its last checkpoint. A store pickles its
path and mode, never its file handle, and reopens lazily; pickling a writable store first
writes a checkpoint, so that the copy reads everything. One writer at a time per archive:
zip files have no multi-writer protocol, and while a writer has the archive open other
readers see it only as of its last checkpoint. Entry names that could escape a directory on
extraction (`../x`, `/abs`, backslashes, drive letters as in `C:/x`, `C:x` or `D:`) are
refused, both as keys and inside archives being opened.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import struct
import threading
import time
import uuid
import weakref
import zipfile
from collections.abc import AsyncIterator, Sequence
from typing import Any, BinaryIO, Literal, Self

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
from zarrlayer.storage._zip_recovery import ClampedFile, archive_end, leftover_temps, temp_name

__all__ = ["DEFAULT_CHECKPOINT_BYTES", "ZipStore", "validate_zip_key"]

ZipMode = Literal["r", "w", "a", "x"]
DEFAULT_CHECKPOINT_BYTES = 64 * 2**20
"""Bytes of new entries after which a writable ZipStore writes a central directory (64 MiB)."""

_DRIVE = re.compile(r"(^|/)[A-Za-z]:")
_LOCAL_HEADER = struct.Struct("<4s22xHH")


def validate_zip_key(key: str) -> str:
    """`validate_key`, and no segment may start with a drive letter (`C:x`, `D:`), which Windows
    tools would extract outside the target directory."""
    validate_key(key)
    if _DRIVE.search(key):
        raise InvalidKeyError(
            f"zip entry names may not start a segment with a drive letter (as in 'C:x' or 'D:'), found {key!r}"
        )
    return key


class _LiveZipFile(zipfile.ZipFile):
    """A ZipFile whose central directory, however it gets closed (even when garbage collected),
    lists only the live entries of `live` (the store's index), never superseded or deleted ones."""

    live: dict[str, zipfile.ZipInfo] | None = None

    def close(self) -> None:
        if self.live is not None and self.mode != "r" and self.fp is not None:
            self.filelist = list(self.live.values())
        super().close()


_OPEN_ARCHIVES: weakref.WeakSet[_Archive] = weakref.WeakSet()


@atexit.register
def _finish_open_archives() -> None:
    """Archives still open for writing at interpreter exit get their central directory and compaction."""
    for archive in list(_OPEN_ARCHIVES):
        try:
            archive.close()
        except Exception:  # noqa: BLE001 - nothing to report to at exit; the last checkpoint stands
            pass


class _Archive:
    """The open zip file and its key index, shared by every view of one ZipStore."""

    def __init__(
        self, path: str, mode: ZipMode, compression: int, allow_zip64: bool, checkpoint_bytes: int | None
    ) -> None:
        self.path, self.mode, self.compression = path, mode, compression
        self.allow_zip64, self.checkpoint_bytes = allow_zip64, checkpoint_bytes
        self.lock = threading.RLock()
        self.zf: zipfile.ZipFile | None = None
        self.index: dict[str, zipfile.ZipInfo] = {}
        self.offsets: dict[int, int] = {}
        self.dirty = False
        """Whether close must compact: superseded or deleted entries, or dead bytes inside the file."""
        self.after_directory = False
        """Whether the file holds a central directory that the next new entry makes dead bytes."""
        self.unsaved = 0
        """Bytes of entries written since the last central directory."""
        self.pending = False
        """Whether entries were written or removed since the last central directory."""
        self.recovered_bytes = 0
        """Bytes of an unfinished tail dropped when the archive was opened (a writer was killed)."""

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
        if self.writable:
            for leftover in leftover_temps(self.path):
                _unlink_quietly(leftover)
        try:
            if self.mode == "r":
                zf = self._open_for_reading()
            elif self.mode == "a" and exists and os.path.getsize(self.path) > 0:
                zf = self._open_for_update()
            else:
                zf = _LiveZipFile(
                    self.path, mode="w" if self.mode == "a" else self.mode,
                    compression=self.compression, allowZip64=self.allow_zip64,
                )
                self.after_directory = False
        except zipfile.BadZipFile as e:
            raise StoreError(f"expected a zip archive at {self.path}, found a damaged or foreign file: {e}") from e
        try:
            self.index = _checked_index(zf, self.path)
        except StoreError:
            zf.close()
            raise
        self.offsets, self.unsaved, self.pending = {}, 0, False
        if isinstance(zf, _LiveZipFile):
            zf.live = self.index
            _OPEN_ARCHIVES.add(self)
        self.zf = zf
        if self.mode in ("w", "x"):
            self.mode = "a"
        return zf

    def _find_end(self, f: BinaryIO) -> int:
        end = archive_end(f)
        if end is None:
            raise StoreError(
                f"expected a zip archive at {self.path}, found a file without a complete central directory "
                "(not a zip archive, or a new archive whose writer stopped before its first checkpoint)"
            )
        return end

    def _open_for_reading(self) -> zipfile.ZipFile:
        f = open(self.path, "rb")
        try:
            end, size = self._find_end(f), os.fstat(f.fileno()).st_size
            if end == size:
                f.close()
                return zipfile.ZipFile(self.path, mode="r")
            self.recovered_bytes = size - end
            return zipfile.ZipFile(ClampedFile(f, end), mode="r")
        except BaseException:
            f.close()
            raise

    def _open_for_update(self) -> zipfile.ZipFile:
        with open(self.path, "r+b") as f:
            end, size = self._find_end(f), os.fstat(f.fileno()).st_size
            if end < size:
                f.truncate(end)
                self.recovered_bytes = size - end
        zf = _LiveZipFile(self.path, mode="a", compression=self.compression, allowZip64=self.allow_zip64)
        zf.start_dir = end  # new entries go after the central directory, which stays intact until replaced
        self.after_directory = True
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
            if key in self.index or self.after_directory:
                self.dirty = True
            zf.NameToInfo.pop(key, None)  # the live index decides; zipfile need not warn of the duplicate
            try:
                zf.writestr(info, value)
            except (OSError, ValueError, zipfile.LargeZipFile) as e:
                raise StoreError(f"could not write entry {key!r} of zip archive {self.path}: {e}") from e
            self.after_directory, self.pending = False, True
            self.index[key] = info
            self.unsaved += len(value) + 30 + len(key)
            if self.checkpoint_bytes is not None and self.unsaved >= self.checkpoint_bytes:
                self.checkpoint()

    def remove(self, keys: list[str]) -> None:
        with self.lock:
            zf = self._readable()
            if zf is None:
                return
            for key in keys:
                if self.index.pop(key, None) is not None:
                    zf.NameToInfo.pop(key, None)
                    zf._didModify = True  # type: ignore[attr-defined]
                    self.dirty = self.pending = True

    def keys(self) -> list[str]:
        with self.lock:
            return list(self.index) if self._readable() is not None else []

    def items(self) -> list[tuple[str, zipfile.ZipInfo]]:
        with self.lock:
            return list(self.index.items()) if self._readable() is not None else []

    def checkpoint(self) -> None:
        """Write a central directory of the live entries after the last entry and go on appending
        after it, so that a crash from here on loses nothing written so far."""
        with self.lock:
            zf = self.zf
            if zf is None or not self.writable or not self.pending:
                return
            zf.filelist = list(self.index.values())
            try:
                zf.fp.seek(zf.start_dir)  # type: ignore[union-attr]
                zf._write_end_record()  # type: ignore[attr-defined]
                zf.start_dir = zf.fp.tell()  # type: ignore[union-attr]
            except (OSError, zipfile.LargeZipFile) as e:
                raise StoreError(f"could not write a checkpoint of zip archive {self.path}: {e}") from e
            self.after_directory, self.pending, self.unsaved = True, False, 0

    def close(self) -> None:
        """Write the central directory, then compact if needed (see the module docstring)."""
        with self.lock:
            zf = self.zf
            if zf is None:
                return
            self.zf = None
            fp, dirty = zf.fp, self.dirty and self.writable
            if self.writable:
                zf.filelist = list(self.index.values())
                if self.after_directory and not self.pending:
                    zf._didModify = False  # type: ignore[attr-defined]  # the file already ends with this directory
            self.index, self.offsets, self.unsaved, self.pending = {}, {}, 0, False
            _OPEN_ARCHIVES.discard(self)
            try:
                zf.close()
                if dirty:
                    _compact(self.path, self.allow_zip64)
            except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile) as e:
                raise StoreError(f"could not finish writing zip archive {self.path}: {e}") from e
            finally:
                self.dirty = False
                if isinstance(fp, ClampedFile):
                    fp.close()


def _checked_index(zf: zipfile.ZipFile, path: str) -> dict[str, zipfile.ZipInfo]:
    """Every file entry by name (the last of duplicates wins); refuse names that could escape."""
    index: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename
        key = name[:-1] if name.endswith("/") else name
        try:
            validate_zip_key(key)
        except InvalidKeyError as e:
            zf.close()
            raise StoreError(
                f"zip archive {path} holds an entry named {name!r}, which could escape the archive's root "
                f"({e}); expected relative '/'-separated names, so the archive is refused"
            ) from None
        if not name.endswith("/"):
            index[key] = info
    return index


def _compact(path: str, allow_zip64: bool) -> None:
    """Rewrite the archive at `path` entry by entry into a file beside it, then replace it atomically."""
    tmp = temp_name(path, uuid.uuid4().hex)
    try:
        with zipfile.ZipFile(path, "r") as src, zipfile.ZipFile(tmp, "w", allowZip64=allow_zip64) as dst:
            for old in src.infolist():
                info = zipfile.ZipInfo(old.filename, date_time=old.date_time)
                info.compress_type = old.compress_type
                with src.open(old) as reader, dst.open(info, "w", force_zip64=old.file_size > 2**31) as writer:
                    shutil.copyfileobj(reader, writer, 1 << 20)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


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
        read_only: bool | None = None,
        compression: int = zipfile.ZIP_STORED,
        allowZip64: bool = True,  # noqa: N803 - zarr-python's and zipfile's spelling
        checkpoint_bytes: int | None = DEFAULT_CHECKPOINT_BYTES,
    ) -> None:
        if mode not in ("r", "w", "a", "x"):
            raise ModeError(f"expected a ZipStore mode of 'r', 'w', 'a' or 'x', found {mode!r}")
        if read_only is False and mode == "r":
            raise ModeError(f"ZipStore mode 'r' is read-only, but read_only=False was asked for {path}")
        if read_only is True and mode in ("w", "x"):
            raise ModeError(f"ZipStore mode {mode!r} writes, but read_only=True was asked for {path}")
        if checkpoint_bytes is not None and (not isinstance(checkpoint_bytes, int) or checkpoint_bytes <= 0):
            raise ValueError(f"expected checkpoint_bytes to be a positive int or None, found {checkpoint_bytes!r}")
        super().__init__(read_only=mode == "r" if read_only is None else read_only)
        self._path = os.path.realpath(os.path.expanduser(os.fspath(path)))
        self._mode: ZipMode = mode
        self._compression = compression
        self._allow_zip64 = bool(allowZip64)
        self._checkpoint_bytes = checkpoint_bytes
        archive_mode: ZipMode = "r" if self.read_only else mode
        if mode == "x" and os.path.exists(self._path):
            raise FileExistsError(f"a file exists at {self._path}; mode 'x' creates a new zip archive only")
        if archive_mode == "r" and mode == "r" and not os.path.exists(self._path):
            raise NodeNotFoundError(f"no zip archive at {self._path} to open for reading")
        self._archive = _Archive(self._path, archive_mode, compression, self._allow_zip64, checkpoint_bytes)
        if archive_mode != "r":
            for leftover in leftover_temps(self._path):
                _unlink_quietly(leftover)
        if archive_mode in ("w", "x"):
            with self._archive.lock:
                self._archive.ensure_open()

    @property
    def path(self) -> str:
        """The absolute path of the archive."""
        return self._path

    @property
    def mode(self) -> ZipMode:
        """The mode the store was created with ('r', 'w', 'a' or 'x')."""
        return self._mode

    @property
    def compression(self) -> int:
        """The zipfile compression constant used for new entries."""
        return self._compression

    @property
    def allowZip64(self) -> bool:  # noqa: N802 - zarr-python's spelling
        """Whether entries and archives past 4 GiB / 65,535 entries may use the ZIP64 extensions."""
        return self._allow_zip64

    @property
    def checkpoint_bytes(self) -> int | None:
        """Bytes of new entries after which a central directory is written (None: only on flush/close)."""
        return self._checkpoint_bytes

    @property
    def recovered_bytes(self) -> int:
        """Bytes of an unfinished tail (left by a killed writer) that the last open dropped; 0 if none."""
        return self._archive.recovered_bytes

    @property
    def url(self) -> str:
        return f"zip://{self._path}"

    def with_read_only(self, read_only: bool = False) -> Self:
        if not read_only and not self._archive.writable:
            return type(self)(
                self._path, mode="a", compression=self._compression, allowZip64=self._allow_zip64,
                checkpoint_bytes=self._checkpoint_bytes,
            )
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
        return (
            _unpickle,
            (self._path, mode, self._compression, self.read_only, self._allow_zip64, self._checkpoint_bytes),
        )

    # -- lifecycle --------------------------------------------------------------------

    async def _open(self) -> None:
        await super()._open()
        with self._archive.lock:
            if self._archive.writable or os.path.exists(self._path):
                self._archive.ensure_open()

    def flush(self) -> None:
        """Write a central directory of the live entries now (a checkpoint): every write so far
        survives a crash and other readers see it. Cheap: nothing is copied."""
        self._archive.checkpoint()

    def close(self) -> None:
        """Finish the archive: write its central directory and compact it; a valid zip when this returns."""
        self._archive.close()
        self._is_open = False

    async def move(self, path: str | os.PathLike[str]) -> None:
        """Close the archive and move it to `path` (its parent directories are created); the store follows."""
        self.close()
        target = os.path.realpath(os.path.expanduser(os.fspath(path)))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.move(self._path, target)
        self._path = self._archive.path = target

    # -- synchronous fast path --------------------------------------------------------

    def get_sync(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        return self._archive.read(validate_zip_key(key), byte_range)

    def get_many_sync(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        for key, _ in key_ranges:
            validate_zip_key(key)
        return [self._archive.read(k, r) for k, r in key_ranges]

    def exists_sync(self, key: str) -> bool:
        return self._archive.info(validate_zip_key(key)) is not None

    def set_sync(self, key: str, value: Buffer) -> None:
        validate_zip_key(key)
        self._check_writable()
        self._archive.write(key, to_bytes(value, key=key, url=self.url))

    def delete_sync(self, key: str) -> None:
        validate_zip_key(key)
        self._check_writable()
        self._archive.remove([key])

    # -- async API (get, exists, set and delete come from SyncStore) --------------------

    async def getsize(self, key: str) -> int:
        info = self._archive.info(validate_zip_key(key))
        if info is None:
            raise FileNotFoundError(f"no value at key {key!r} in store {self.url}")
        return info.file_size

    async def getsize_prefix(self, prefix: str) -> int:
        validate_prefix(prefix)
        return sum(i.file_size for k, i in self._archive.items() if k.startswith(prefix))

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        validate_zip_key(key)
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


def _unpickle(
    path: str, mode: ZipMode, compression: int, read_only: bool, allow_zip64: bool = True,
    checkpoint_bytes: int | None = DEFAULT_CHECKPOINT_BYTES,
) -> ZipStore:
    return ZipStore(
        path, mode=mode, compression=compression, read_only=read_only, allowZip64=allow_zip64,
        checkpoint_bytes=checkpoint_bytes,
    )
