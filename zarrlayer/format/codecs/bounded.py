"""Decompression with an output bound: a chunk never decodes to more bytes than its array expects.

A few kilobytes of gzip, zlib, bz2, lzma or zstd (without a declared content size) can
expand to gigabytes. Every decoder here stops at `limit` bytes (plus one, to tell a bomb
from a chunk that fits) and raises ChunkDecodeError past it, so memory stays within a small
multiple of the chunk size. blosc and lz4 record the decoded size in a header, which is
checked before decoding; zstd frames that declare their size are checked the same way.
"""

from __future__ import annotations

import bz2
import lzma
import re
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
from numcodecs.zstd import decompress as _zstd_decompress

from zarrlayer.errors import ChunkDecodeError

__all__ = ["bounded_decode", "loose_limit", "over_limit", "SHRINKING_IDS", "BOUNDED_IDS"]

SHRINKING_IDS = frozenset({"crc32", "crc32c", "adler32", "fletcher32", "jenkins_lookup3"})
"""Checksum codecs: their output is their input less a few bytes, bounded by construction."""

BOUNDED_IDS = frozenset({"gzip", "zlib", "bz2", "lzma", "zstd", "lz4", "blosc"}) | SHRINKING_IDS
"""numcodecs ids whose decoding is bounded before any output is allocated past the limit."""

_STEP = 1 << 20
_ZSTD_GOT = re.compile(r"got (\d+)")


def loose_limit(expected: int) -> int:
    """The bound for an encoded stage whose exact size is unknown (e.g. under a checksum or a second compressor)."""
    return 2 * expected + 65536


def over_limit(name: str, limit: int) -> ChunkDecodeError:
    """The error for a chunk that decodes past its bound."""
    return ChunkDecodeError(
        f"{name}: the chunk decodes to more than the {limit} bytes expected "
        "(a corrupt chunk or a decompression bomb); stopped there"
    )


def _view(data: Any) -> Any:
    return data if isinstance(data, bytes) else memoryview(data).cast("B")


def _stream(name: str, data: Any, limit: int, make: Callable[[], Any], multi: bool) -> bytes:
    """Run a zlib/bz2/lzma-style decompressor over `data`, stopping past `limit` output bytes.

    `multi`: concatenated streams (gzip members, bz2/lzma streams) continue with a fresh decompressor.
    """
    parts: list[bytes] = []
    total = 0
    rest: Any = _view(data)
    while True:
        dec = make()
        chunk = dec.decompress(rest, limit - total + 1)
        total += len(chunk)
        parts.append(chunk)
        if total > limit:
            raise over_limit(name, limit)
        if not dec.eof:
            # a well-formed stream that ended inside the bound is at eof; anything else is cut short
            raise ChunkDecodeError(f"{name}: the compressed stream ends before its end marker (truncated chunk)")
        rest = dec.unused_data
        if not multi or not rest or not any(rest):
            return b"".join(parts) if len(parts) > 1 else parts[0]


def _zlib_like(wbits: int) -> Callable[[], Any]:
    return lambda: zlib.decompressobj(wbits)


_LZMA_MEMLIMIT = 80 << 20
"""The most an lzma decoder's dictionary may take beyond 4x the chunk: preset 9 (64 MiB) fits, a forged header does not."""


def _lzma(codec: Any, limit: int) -> Callable[[], Any]:
    fmt = getattr(codec, "format", lzma.FORMAT_AUTO)
    filters = getattr(codec, "filters", None)
    if fmt == lzma.FORMAT_RAW:
        return lambda: lzma.LZMADecompressor(format=fmt, filters=filters)
    memlimit = max(4 * limit, _LZMA_MEMLIMIT)
    return lambda: lzma.LZMADecompressor(format=fmt, memlimit=memlimit)


def _zstd(data: Any, limit: int, exact: bool) -> Any:
    from zarrlayer.format.codecs.compressors import zstd_content_size

    size = zstd_content_size(data)
    if size is not None:
        if size > limit or (exact and size != limit):
            raise ChunkDecodeError(f"zstd: expected {'' if exact else 'at most '}{limit} decoded bytes, the frame header says {size}")
        return _zstd_decompress(data)
    # no declared size: decode into a buffer of the bound; the library refuses to write past it
    out = np.empty(limit, dtype=np.uint8)
    try:
        _zstd_decompress(data, out)
    except RuntimeError as exc:
        text = str(exc)
        if "too small" in text:
            raise over_limit("zstd", limit) from None
        found = _ZSTD_GOT.search(text)
        if exact or found is None:
            raise ChunkDecodeError(f"zstd: {text}") from None
        return out[: int(found.group(1))]
    return out


def _lz4(data: Any, limit: int) -> None:
    head = bytes(_view(data)[:4])
    if len(head) < 4:
        raise ChunkDecodeError(f"lz4: truncated chunk ({len(head)} bytes, the size header needs 4)")
    size = int.from_bytes(head, "little", signed=True)
    if size < 0 or size > limit:
        raise ChunkDecodeError(f"lz4: expected at most {limit} decoded bytes, the header says {size}")


def bounded_decode(codec: Any, data: Any, limit: int | None, *, exact: bool = False) -> Any:
    """`codec.decode(data)` (a numcodecs codec), stopping with ChunkDecodeError past `limit` output bytes.

    `exact`: the output must be exactly `limit` bytes (checked by the caller or, for zstd, here).
    None means no bound is known (variable-length data); codecs not in BOUNDED_IDS are decoded,
    then their size checked.
    """
    cid = codec.codec_id
    if limit is None or cid in SHRINKING_IDS:
        return codec.decode(data)
    if cid == "gzip":
        return _stream("gzip", data, limit, _zlib_like(31), multi=True)
    if cid == "zlib":
        return _stream("zlib", data, limit, _zlib_like(15), multi=False)
    if cid == "bz2":
        return _stream("bz2", data, limit, bz2.BZ2Decompressor, multi=True)
    if cid == "lzma":
        return _stream("lzma", data, limit, _lzma(codec, limit), multi=True)
    if cid == "zstd":
        return _zstd(data, limit, exact)
    if cid == "blosc":
        from zarrlayer.format.codecs.compressors import check_blosc_header, blosc_decoded_size

        check_blosc_header(data, None)
        size = blosc_decoded_size(data)
        if size > limit:
            raise ChunkDecodeError(f"blosc: expected at most {limit} decoded bytes, the header says {size}")
    elif cid == "lz4":
        _lz4(data, limit)
    decoded = codec.decode(data)
    size = decoded.nbytes if isinstance(decoded, (np.ndarray, memoryview)) else len(decoded)
    if size > limit:
        raise over_limit(cid, limit)
    return decoded
