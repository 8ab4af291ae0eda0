"""The open archive behind a ZipStore: its key index, checkpoints, and what close() does.

See zip.py's docstring for the design. This module keeps the count of dead bytes (what no
live entry or the final central directory points at) so that close() rewrites the archive only
when that pays (`_zip_compact.should_compact`).
"""

from __future__ import annotations

import atexit
import os
import re
import struct
import threading
import time
import weakref
import zipfile
from typing import BinaryIO, Literal

from zarrlayer.errors import InvalidKeyError, NodeNotFoundError, StoreError
from zarrlayer.storage._base import ByteRequest, byte_request_slice, validate_key
from zarrlayer.storage._zip_compact import compact, entry_span, should_compact
from zarrlayer.storage._zip_recovery import ClampedFile, archive_end, leftover_temps

__all__ = ["ZipMode", "validate_zip_key"]

ZipMode = Literal["r", "w", "a", "x"]

_DRIVE = re.compile(r"(^|/)[A-Za-z]:")
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_DIRECTORY_SHARE = 8
"""A periodic checkpoint waits for at least this many times the last central directory's size
in new entries, so that checkpoint directories (dead bytes once more entries follow) stay at
most about an eighth of the file even for archives of very many small entries."""


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
        self, path: str, mode: ZipMode, compression: int, allow_zip64: bool, checkpoint_bytes: int | None,
        compact_threshold: float,
    ) -> None:
        self.path, self.mode, self.compression = path, mode, compression
        self.allow_zip64, self.checkpoint_bytes = allow_zip64, checkpoint_bytes
        self.compact_threshold = compact_threshold
        self.lock = threading.RLock()
        self.zf: zipfile.ZipFile | None = None
        self.index: dict[str, zipfile.ZipInfo] = {}
        self.offsets: dict[int, int] = {}
        self.spans: dict[int, int] = {}
        """Bytes taken by each entry written since the archive was opened (by id of its ZipInfo)."""
        self.changed = False
        """Whether entries were written or removed since the archive was opened (close may compact)."""
        self.dead = 0
        """Bytes of the file that no live entry or the current central directory points at."""
        self.after_directory = False
        """Whether the file ends with a central directory that the next write makes dead bytes."""
        self.directory_bytes = 0
        """Size of that central directory (with its end records)."""
        self.directory_start = 0
        """Where the central directory of an archive opened for update starts."""
        self.compactions = 0
        """How many times close() rewrote the archive (for tests and diagnostics)."""
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
                self.after_directory, self.directory_bytes, self.dead = False, 0, 0
        except zipfile.BadZipFile as e:
            raise StoreError(f"expected a zip archive at {self.path}, found a damaged or foreign file: {e}") from e
        try:
            self.index = _checked_index(zf, self.path)
        except StoreError:
            zf.close()
            raise
        self.offsets, self.spans, self.unsaved, self.pending, self.changed = {}, {}, 0, False, False
        if self.after_directory:  # an existing archive: what lies before its directory and is no live entry
            entries = sum(entry_span(info) for info in self.index.values())
            self.dead = max(0, self.directory_start - entries)
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
        self.directory_start, self.directory_bytes = zf.start_dir, end - zf.start_dir
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
            zf.NameToInfo.pop(key, None)  # the live index decides; zipfile need not warn of the duplicate
            try:
                zf.writestr(info, value)
            except (OSError, ValueError, zipfile.LargeZipFile) as e:
                raise StoreError(f"could not write entry {key!r} of zip archive {self.path}: {e}") from e
            span = zf.start_dir - info.header_offset
            self._leave_directory()
            old = self.index.get(key)
            if old is not None:
                self.dead += self._span(old)
            self.index[key] = info
            self.spans[id(info)] = span
            self.unsaved += span
            if self.checkpoint_bytes is not None and self.unsaved >= max(
                self.checkpoint_bytes, _DIRECTORY_SHARE * self.directory_bytes
            ):
                self.checkpoint()

    def remove(self, keys: list[str]) -> None:
        with self.lock:
            zf = self._readable()
            if zf is None:
                return
            for key in keys:
                old = self.index.pop(key, None)
                if old is not None:
                    zf.NameToInfo.pop(key, None)
                    zf._didModify = True  # type: ignore[attr-defined]
                    self.dead += self._span(old)
                    self.pending = self.changed = True

    def _span(self, info: zipfile.ZipInfo) -> int:
        """Bytes `info` takes in the file: measured when written here, else read off its record."""
        span = self.spans.pop(id(info), None)
        return entry_span(info) if span is None else span

    def _leave_directory(self) -> None:
        """Count the central directory the file ends with as dead: something is written after it."""
        if self.after_directory:
            self.dead += self.directory_bytes
        self.after_directory, self.pending, self.changed = False, True, True

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
            start = zf.start_dir
            try:
                zf.fp.seek(start)  # type: ignore[union-attr]
                zf._write_end_record()  # type: ignore[attr-defined]
                zf.start_dir = zf.fp.tell()  # type: ignore[union-attr]
            except (OSError, zipfile.LargeZipFile) as e:
                raise StoreError(f"could not write a checkpoint of zip archive {self.path}: {e}") from e
            self._leave_directory()
            self.after_directory, self.pending, self.unsaved = True, False, 0
            self.directory_bytes = zf.start_dir - start

    def close(self) -> None:
        """Write the central directory unless the file already ends with it, then rewrite the
        archive if its dead bytes pass the threshold (`_zip_compact.should_compact`)."""
        with self.lock:
            zf = self.zf
            if zf is None:
                return
            self.zf = None
            fp, entries = zf.fp, list(self.index.values())
            changed = self.changed and self.writable
            if self.writable:
                zf.filelist = entries
                if self.after_directory and not self.pending:
                    zf._didModify = False  # type: ignore[attr-defined]  # the file already ends with this directory
                elif zf._didModify and self.after_directory:  # type: ignore[attr-defined]
                    self.dead += self.directory_bytes
            dead = self.dead
            self.index, self.offsets, self.spans, self.unsaved, self.pending = {}, {}, {}, 0, False
            self.changed, self.dead, self.after_directory = False, 0, False
            _OPEN_ARCHIVES.discard(self)
            try:
                zf.close()
                if changed and should_compact(dead, os.path.getsize(self.path), self.compact_threshold):
                    compact(self.path, entries, self.allow_zip64)
                    self.compactions += 1
            except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile) as e:
                raise StoreError(f"could not finish writing zip archive {self.path}: {e}") from e
            finally:
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


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


