"""Finding where a zip archive really ends, so that a writer killed mid-way loses only its unfinished tail.

ZipStore never writes over a central directory: new entries go after the last one, and a new
central directory is written after them at each checkpoint and on close. A file cut short by
a crash therefore ends in bytes that no central directory lists, and its last complete end
record (with the directory it points at) still describes every entry written before it. This
module finds that record, and gives zipfile a view of the file that stops there.
"""

from __future__ import annotations

import os
import re
import struct
from typing import BinaryIO

__all__ = ["ClampedFile", "archive_end", "leftover_temps", "temp_name"]

_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_EOCD_SIG = b"PK\x05\x06"
_BLOCK = 1 << 20
_TEMP_MARK = ".zarrlayer-tmp-"


def temp_name(path: str, tag: str) -> str:
    """A hidden file beside `path` for a rewrite in progress (`tag`: 32 hex digits)."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name[:120]}{_TEMP_MARK}{tag}")


def leftover_temps(path: str) -> list[str]:
    """Temporary files that an interrupted rewrite of the archive at `path` left beside it."""
    directory, name = os.path.split(path)
    pattern = re.compile(rf"^\.{re.escape(name[:120])}{re.escape(_TEMP_MARK)}[0-9a-f]{{32}}$")
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    return [os.path.join(directory, n) for n in names if pattern.match(n)]


def _end_if_valid(f: BinaryIO, pos: int, size: int) -> int | None:
    """The end offset of the archive whose end record starts at `pos`, if that record is self-consistent."""
    f.seek(pos)
    raw = f.read(_EOCD.size)
    if len(raw) < _EOCD.size:
        return None
    sig, disk, disk_cd, _, entries, cd_size, cd_offset, comment_len = _EOCD.unpack(raw)
    end = pos + _EOCD.size + comment_len
    if sig != _EOCD_SIG or end > size or (disk not in (0, 0xFFFF)) or (disk_cd not in (0, 0xFFFF)):
        return None
    records_start = pos
    if pos >= _ZIP64_LOCATOR.size:
        f.seek(pos - _ZIP64_LOCATOR.size)
        loc_sig, _, z64_offset, _ = _ZIP64_LOCATOR.unpack(f.read(_ZIP64_LOCATOR.size))
        if loc_sig == b"PK\x06\x07" and z64_offset + _ZIP64_EOCD.size <= pos - _ZIP64_LOCATOR.size:
            f.seek(z64_offset)
            z64 = _ZIP64_EOCD.unpack(f.read(_ZIP64_EOCD.size))
            if z64[0] != b"PK\x06\x06":
                return None
            entries, cd_size, cd_offset = z64[7], z64[8], z64[9]
            records_start = z64_offset
    if cd_offset + cd_size != records_start:
        return None
    if entries == 0:
        return end if cd_size == 0 else None
    f.seek(cd_offset)
    return end if f.read(4) == b"PK\x01\x02" else None


def archive_end(f: BinaryIO) -> int | None:
    """Where the last complete archive in `f` ends (its end record and comment included), or None.

    Equal to the file size for an intact archive; smaller when a writer was stopped after
    its last checkpoint; None when no complete central directory exists at all.
    """
    size = f.seek(0, os.SEEK_END)
    if size >= _EOCD.size and _end_if_valid(f, size - _EOCD.size, size) == size:
        return size
    hi = size
    while hi > 0:
        lo = max(0, hi - _BLOCK)
        f.seek(lo)
        block = f.read(min(hi + 3, size) - lo)
        at = len(block)
        while True:
            at = block.rfind(_EOCD_SIG, 0, at)
            if at < 0:
                break
            end = _end_if_valid(f, lo + at, size)
            if end is not None:
                return end
        hi = lo
    return None


class ClampedFile:
    """A read-only view of the first `size` bytes of an open binary file (what zipfile reads)."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f, self._size, self._pos = f, size, 0

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        left = max(0, self._size - self._pos)
        n = left if n is None or n < 0 else min(n, left)
        self._f.seek(self._pos)
        data = self._f.read(n)
        self._pos += len(data)
        return data

    def close(self) -> None:
        self._f.close()
