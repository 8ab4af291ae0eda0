"""When and how a ZipStore rewrites its archive without dead bytes.

Dead bytes are what no entry of the final central directory points at: superseded and deleted
entries, earlier central directories (checkpoints, or the directory an update wrote after),
bytes before the first entry. They are invisible to readers that go through the central
directory (every zip reader that seeks: zipfile, Info-ZIP unzip, zarr-python's ZipStore), so a
rewrite only pays when they take a noticeable share of the file. A rewrite copies each live
entry raw (its compressed bytes, CRC and sizes unchanged; only the local header is rebuilt) into
a temporary file beside the archive, which then replaces it atomically.
"""

from __future__ import annotations

import os
import struct
import uuid
import zipfile
from collections.abc import Iterable
from typing import IO, BinaryIO

from zarrlayer.storage._zip_recovery import temp_name

__all__ = ["DEFAULT_COMPACT_THRESHOLD", "compact", "entry_span", "should_compact"]

DEFAULT_COMPACT_THRESHOLD = 0.25
"""close() rewrites an archive when more than this fraction of its bytes is dead."""

_LOCAL_HEADER = struct.Struct("<4s22xHH")
_DATA_DESCRIPTOR = 0x08
_ZIP64_EXTRA = 0x0001
_COPY_BLOCK = 1 << 20


def entry_span(info: zipfile.ZipInfo) -> int:
    """Bytes an entry takes in the file (local header, data, data descriptor), as its central
    directory record describes it; exact for entries zipfile writes, within a few bytes otherwise."""
    name = len(info.filename.encode("ascii" if info.filename.isascii() else "utf-8"))
    zip64 = info.file_size > zipfile.ZIP64_LIMIT or info.compress_size > zipfile.ZIP64_LIMIT
    extra = len(_strip_zip64(info.extra)) + (20 if zip64 else 0)
    descriptor = (24 if zip64 else 16) if info.flag_bits & _DATA_DESCRIPTOR else 0
    return 30 + name + extra + info.compress_size + descriptor


def should_compact(dead_bytes: int, file_bytes: int, threshold: float) -> bool:
    """Whether a rewrite pays: dead bytes above `threshold` (a fraction, 0 to 1) of the file."""
    return dead_bytes > 0 and dead_bytes > threshold * file_bytes


def compact(path: str, entries: Iterable[zipfile.ZipInfo], allow_zip64: bool) -> None:
    """Copy `entries` (the live entries of the archive at `path`, in central-directory order) raw
    into a temporary file beside it, then replace the archive with it atomically."""
    tmp = temp_name(path, uuid.uuid4().hex)
    try:
        with open(path, "rb") as fin, zipfile.ZipFile(tmp, "w", allowZip64=allow_zip64) as dst:
            copies = [_copy_entry(fin, dst, info) for info in entries]
            dst.filelist = copies
            dst.NameToInfo = {c.filename: c for c in copies}
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _copy_entry(fin: BinaryIO, dst: zipfile.ZipFile, old: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """Append `old`'s compressed bytes to `dst` under a rebuilt local header; the new entry's record."""
    fin.seek(old.header_offset)
    signature, name_len, extra_len = _LOCAL_HEADER.unpack(fin.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for entry {old.filename!r} at offset {old.header_offset}")
    fin.seek(old.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
    new = zipfile.ZipInfo(old.filename, date_time=old.date_time)
    for field in ("compress_type", "comment", "create_system", "create_version", "extract_version",
                  "flag_bits", "internal_attr", "external_attr", "CRC", "compress_size", "file_size"):
        setattr(new, field, getattr(old, field))
    new.extra = _strip_zip64(old.extra)
    zip64 = new.file_size > zipfile.ZIP64_LIMIT or new.compress_size > zipfile.ZIP64_LIMIT
    if zip64 and not getattr(dst, "_allowZip64", True):
        raise zipfile.LargeZipFile(f"entry {old.filename!r} needs ZIP64 extensions, but allowZip64 is False")
    out = dst.fp
    assert out is not None
    new.header_offset = out.tell()
    out.write(new.FileHeader(zip64))
    _copy_range(fin, out, fin.tell(), new.compress_size, old.filename)
    if new.flag_bits & _DATA_DESCRIPTOR:
        fmt = "<4sLQQ" if zip64 else "<4sLLL"
        out.write(struct.pack(fmt, b"PK\x07\x08", new.CRC, new.compress_size, new.file_size))
    dst.start_dir = out.tell()
    dst._didModify = True  # type: ignore[attr-defined]
    return new


def _copy_range(fin: IO[bytes], out: IO[bytes], start: int, size: int, name: str) -> None:
    """Copy `size` bytes of `fin` from `start` to the end of `out`, in the kernel where it can."""
    out.flush()
    at, left = out.tell(), size
    try:
        while left:
            done = os.copy_file_range(fin.fileno(), out.fileno(), left, start + size - left, at + size - left)
            if not done:
                raise zipfile.BadZipFile(f"entry {name!r} is cut short in the archive")
            left -= done
    except (AttributeError, OSError):  # no copy_file_range (not Linux, or across filesystems): copy by hand
        fin.seek(start + size - left)
        out.seek(at + size - left)
        while left:
            block = fin.read(min(left, _COPY_BLOCK))
            if not block:
                raise zipfile.BadZipFile(f"entry {name!r} is cut short in the archive") from None
            out.write(block)
            left -= len(block)
    out.seek(at + size)


def _strip_zip64(extra: bytes) -> bytes:
    """`extra` without its ZIP64 record, which zipfile rebuilds for the new offsets."""
    kept, at = [], 0
    while at + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, at)
        if kind != _ZIP64_EXTRA:
            kept.append(extra[at:at + 4 + size])
        at += 4 + size
    return b"".join(kept) + extra[at:]
