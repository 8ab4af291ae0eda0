"""Bytes -> bytes codecs: blosc, gzip, zstd, crc32c, and any numcodecs compressor or checksum."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from numcodecs import Blosc, GZip, Zstd
from numcodecs.blosc import decompress as _blosc_decompress
from numcodecs.abc import Codec

from zarrlayer.errors import ChunkDecodeError, CodecError
from zarrlayer.format.codecs.base import BytesBytesCodec, Buffer
from zarrlayer.format.codecs.blosc_fast import decompress_ptr as _decompress_ptr
from zarrlayer.format.codecs.blosc_fast import lock_free as _lock_free
from zarrlayer.format.codecs.zstd_fast import decompress_into as _zstd_into
from zarrlayer.format.codecs.bounded import bounded_decode

__all__ = ["check_blosc_header", "blosc_decode_into", "blosc_decode_to", "blosc_decoded_size", "zstd_content_size", "zstd_decode_into", "BloscCodec", "GzipCodec", "ZstdCodec", "Crc32cCodec", "NumcodecsBytesCodec", "SHUFFLES"]

SHUFFLES = ("noshuffle", "shuffle", "bitshuffle")
_BLOSC_SIZES = struct.Struct("<4xI4xI")  # nbytes (decoded) and cbytes (whole chunk) in a blosc header
_BLOSC_HEADER = struct.Struct("<2xB1xIII")  # flags, nbytes, blocksize, cbytes
_CNAMES = ("lz4", "lz4hc", "blosclz", "zstd", "snappy", "zlib")


def _int(config: dict[str, Any], key: str, default: Any, lo: int, hi: int, codec: str) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise CodecError(f"{codec} codec: {key} must be an integer in [{lo}, {hi}], found {value!r}")
    return value


class BloscCodec(BytesBytesCodec):
    """The v3 `blosc` codec; decodes straight into a caller's buffer after checking the header size."""

    name = "blosc"
    supports_out = True

    def __init__(self, *, cname: str = "zstd", clevel: int = 5, shuffle: str = "shuffle", typesize: int = 1, blocksize: int = 0) -> None:
        if cname not in _CNAMES:
            raise CodecError(f"blosc codec: cname must be one of {_CNAMES}, found {cname!r}")
        if shuffle not in SHUFFLES:
            raise CodecError(f"blosc codec: shuffle must be one of {SHUFFLES}, found {shuffle!r}")
        cfg = {"clevel": clevel, "typesize": typesize, "blocksize": blocksize}
        self.clevel = _int(cfg, "clevel", 5, 0, 9, "blosc")
        self.typesize = _int(cfg, "typesize", 1, 1, 2**31, "blosc")
        self.blocksize = _int(cfg, "blocksize", 0, 0, 2**31, "blosc")
        self.cname, self.shuffle = cname, shuffle
        self._codec = Blosc(cname=cname, clevel=clevel, shuffle=SHUFFLES.index(shuffle), blocksize=blocksize, typesize=typesize)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BloscCodec:
        """From a v3 JSON configuration."""
        return cls(**{k: config[k] for k in ("cname", "clevel", "shuffle", "typesize", "blocksize") if k in config})

    def encode(self, data: Buffer) -> Buffer:
        return self._codec.encode(data)

    def decode(self, data: Buffer) -> Buffer:
        check_blosc_header(data, None)
        return _blosc_decompress(data)

    def decode_bounded(self, data: Buffer, limit: int | None, *, exact: bool = False) -> Buffer:
        check_blosc_header(data, limit if exact else None)
        if limit is not None and blosc_decoded_size(data) > limit:
            raise ChunkDecodeError(f"blosc: expected at most {limit} decoded bytes, the header says {blosc_decoded_size(data)}")
        return _blosc_decompress(data)

    def decode_into(self, data: Buffer, out: np.ndarray) -> None:
        blosc_decode_into(data, out)

    def to_json(self) -> dict[str, Any]:
        config = {"typesize": self.typesize, "cname": self.cname, "clevel": self.clevel, "shuffle": self.shuffle, "blocksize": self.blocksize}
        return {"name": "blosc", "configuration": config}


_SMALL_INTO = 64 * 1024


def blosc_decode_into(data: Buffer, out: np.ndarray) -> None:
    """Decode a blosc chunk into `out` (C-contiguous) after checking its header against `out.nbytes`.

    Through c-blosc's lock-free context call (see `blosc_fast`) every chunk decodes straight
    into `out` on this thread; through python-blosc only single-block chunks do (it would start
    threads for more). Otherwise numcodecs' `decompress(data, out)` spends
    about 6 µs wrapping `out` in Python; below 64 KiB decoding to bytes and copying them is
    several times cheaper (1 KiB: 1.6 µs against 7.6 µs), above it decoding in place saves the copy.
    """
    view = data if isinstance(data, bytes) else memoryview(data).cast("B")
    size = len(view)
    if size < 16:
        raise ChunkDecodeError(f"blosc: truncated chunk ({size} bytes, a header needs 16)")
    flags, nbytes, blocksize, cbytes = _BLOSC_HEADER.unpack_from(view)
    if cbytes != size:
        raise ChunkDecodeError(f"blosc: the header says the chunk has {cbytes} bytes, found {size} (truncated or corrupt)")
    if nbytes != out.nbytes:
        raise ChunkDecodeError(f"blosc: expected {out.nbytes} decoded bytes, the header says {nbytes}")
    if _decompress_ptr is not None and (_lock_free or blocksize >= nbytes or flags & 0x2) and out.flags.c_contiguous:
        try:
            _decompress_ptr(view, out.ctypes.data)
        except Exception as exc:  # python-blosc's BloscError on a corrupt stream
            raise ChunkDecodeError(f"blosc: {exc}") from None
        return
    if out.nbytes < _SMALL_INTO:
        try:
            target = memoryview(out).cast("B")
        except (TypeError, ValueError):  # dtypes without a buffer format (datetime64, some structured)
            target = memoryview(out.reshape(-1).view(np.uint8))
        target[:] = _blosc_decompress(data)
    else:
        _blosc_decompress(data, out)


def blosc_decode_to(data: Buffer, address: int, nbytes: int) -> bool:
    """Decode a blosc chunk of exactly `nbytes` to `address` with `blosc_fast`; False when that path does not apply.

    False (nothing written) without a fast entry point, for a chunk of several blocks when
    only python-blosc's is there, or for a header that does not check out: the caller then decodes with `blosc_decode_into`,
    which reports what is wrong. `address` must hold `nbytes` writable bytes.
    """
    if _decompress_ptr is None:
        return False
    view = data if isinstance(data, bytes) else memoryview(data).cast("B")
    if len(view) < 16:
        return False
    flags, decoded, blocksize, cbytes = _BLOSC_HEADER.unpack_from(view)
    if cbytes != len(view) or decoded != nbytes or (blocksize < decoded and not flags & 0x2 and not _lock_free):
        return False
    try:
        _decompress_ptr(view, address)
    except Exception as exc:  # python-blosc's BloscError on a corrupt stream
        raise ChunkDecodeError(f"blosc: {exc}") from None
    return True


def _size(data: Buffer) -> int:
    return len(data) if isinstance(data, bytes) else memoryview(data).nbytes


def blosc_decoded_size(data: Buffer) -> int:
    """The decoded size a blosc header records (call check_blosc_header first)."""
    return int(_BLOSC_SIZES.unpack_from(data if isinstance(data, bytes) else memoryview(data).cast("B"))[0])


def check_blosc_header(data: Buffer, expected: int | None) -> None:
    """ChunkDecodeError unless a blosc header is complete, matches the data's length and (if given) `expected`.

    c-blosc trusts its header, so a truncated chunk would otherwise be read past its end.
    """
    size = _size(data)
    if size < 16:
        raise ChunkDecodeError(f"blosc: truncated chunk ({size} bytes, a header needs 16)")
    nbytes, cbytes = _BLOSC_SIZES.unpack_from(data if isinstance(data, bytes) else memoryview(data).cast("B"))
    if cbytes != size:
        raise ChunkDecodeError(f"blosc: the header says the chunk has {cbytes} bytes, found {size} (truncated or corrupt)")
    if expected is not None and nbytes != expected:
        raise ChunkDecodeError(f"blosc: expected {expected} decoded bytes, the header says {nbytes}")


class GzipCodec(BytesBytesCodec):
    """The v3 `gzip` codec."""

    name = "gzip"

    def __init__(self, level: int = 5) -> None:
        self.level = _int({"level": level}, "level", 5, 0, 9, "gzip")
        self._codec = GZip(level=self.level)

    def encode(self, data: Buffer) -> Buffer:
        return self._codec.encode(data)

    def decode(self, data: Buffer) -> Buffer:
        return self._codec.decode(data)

    def decode_bounded(self, data: Buffer, limit: int | None, *, exact: bool = False) -> Buffer:
        return bounded_decode(self._codec, data, limit, exact=exact)

    def to_json(self) -> dict[str, Any]:
        return {"name": "gzip", "configuration": {"level": self.level}}


class ZstdCodec(BytesBytesCodec):
    """The v3 `zstd` codec; decodes into a caller's buffer when the frame records its size."""

    name = "zstd"
    supports_out = True

    def __init__(self, level: int = 0, checksum: bool = False) -> None:
        self.level = _int({"level": level}, "level", 0, -131072, 22, "zstd")
        if not isinstance(checksum, bool):
            raise CodecError(f"zstd codec: checksum must be true or false, found {checksum!r}")
        self.checksum = checksum
        self._codec = Zstd(level=level, checksum=checksum)

    def encode(self, data: Buffer) -> Buffer:
        return self._codec.encode(data)

    def decode(self, data: Buffer) -> Buffer:
        return self._codec.decode(data)

    def decode_bounded(self, data: Buffer, limit: int | None, *, exact: bool = False) -> Buffer:
        return bounded_decode(self._codec, data, limit, exact=exact)

    def decode_into(self, data: Buffer, out: np.ndarray) -> None:
        zstd_decode_into(self._codec, data, out)

    def to_json(self) -> dict[str, Any]:
        return {"name": "zstd", "configuration": {"level": self.level, "checksum": self.checksum}}


def zstd_decode_into(codec: Codec, data: Buffer, out: np.ndarray) -> None:
    """Decode a zstd frame into `out` (C-contiguous) after checking its declared size against `out.nbytes`.

    A frame that declares its size decodes through libzstd's context call (see `zstd_fast`);
    one that does not, or without that entry point, through numcodecs' `codec.decode(data,
    out=out)`, which also refuses to write past `out`.
    """
    size = zstd_content_size(data)
    if size is not None and size != out.nbytes:
        raise ChunkDecodeError(f"zstd: expected {out.nbytes} decoded bytes, the frame header says {size}")
    if size is not None and _zstd_into is not None and out.flags.c_contiguous:
        try:
            _zstd_into(data, out)
        except ValueError as exc:
            raise ChunkDecodeError(f"zstd: {exc}") from None
        return
    try:
        codec.decode(data, out=out)
    except RuntimeError as exc:
        if "too small" in str(exc):
            from zarrlayer.format.codecs.bounded import over_limit

            raise over_limit("zstd", out.nbytes) from None
        raise


def zstd_content_size(data: Buffer) -> int | None:
    """The decompressed size a single zstd frame's header records, or None when it does not record it."""
    head = data[:18] if isinstance(data, bytes) else bytes(memoryview(data).cast("B")[:18])
    if len(head) < 5 or head[:4] != b"\x28\xb5\x2f\xfd":
        raise ChunkDecodeError("zstd: not a zstd frame (bad magic number or truncated)")
    fhd = head[4]
    fcs_flag, single_segment, dict_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
    pos = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[dict_flag]
    width = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
    if width == 0:
        return None
    if len(head) < pos + width:
        raise ChunkDecodeError("zstd: truncated frame header")
    value = int.from_bytes(head[pos : pos + width], "little")
    return value + 256 if width == 2 else value


class Crc32cCodec(BytesBytesCodec):
    """The v3 `crc32c` codec: a little-endian CRC-32C of the data appended as 4 bytes."""

    name = "crc32c"

    def __init__(self) -> None:
        try:
            from crc32c import crc32c
        except ImportError:
            from zarrlayer.errors import missing_dependency

            raise missing_dependency("crc32c", "crc32c", "the crc32c codec") from None
        self._crc = crc32c

    def encode(self, data: Buffer) -> Buffer:
        view = memoryview(data).cast("B")
        return bytes(view) + self._crc(view).to_bytes(4, "little")

    def decode(self, data: Buffer) -> Buffer:
        view = memoryview(data).cast("B")
        if len(view) < 4:
            raise ChunkDecodeError(f"crc32c: expected at least 4 bytes of checksum, found {len(view)} bytes")
        body = view[:-4]
        stored = int.from_bytes(view[-4:], "little")
        if self._crc(body) != stored:
            raise ChunkDecodeError(f"crc32c: checksum mismatch (stored {stored:#010x}, computed {self._crc(body):#010x})")
        return body

    def to_json(self) -> dict[str, Any]:
        return {"name": "crc32c"}


class NumcodecsBytesCodec(BytesBytesCodec):
    """Any numcodecs bytes -> bytes codec (zlib, lz4, bz2, crc32...), named `numcodecs.<id>` in v3."""

    def __init__(self, codec: Codec, json: dict[str, Any] | None = None) -> None:
        self.name = f"numcodecs.{codec.codec_id}"
        self.codec = codec
        self.json = json

    def encode(self, data: Buffer) -> Buffer:
        return self.codec.encode(data)

    def decode(self, data: Buffer) -> Buffer:
        return self.codec.decode(data)

    def decode_bounded(self, data: Buffer, limit: int | None, *, exact: bool = False) -> Buffer:
        return bounded_decode(self.codec, data, limit, exact=exact)

    def to_json(self) -> dict[str, Any]:
        if self.json is not None:
            return self.json
        config = {k: v for k, v in self.codec.get_config().items() if k != "id"}
        return {"name": self.name, "configuration": config}
