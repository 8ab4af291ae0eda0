"""Per-chunk decoders of the small-chunk read loop: the chunk's bytes at an address, decoded to another address.

A pipeline qualifies when a chunk is its C-order items in the array's dtype (no array ->
array codec, the `bytes` codec in native order; v2: no filters, C order) under no compressor,
blosc or zstd alone:

- none: the value must be exactly the chunk's size; one memmove.
- blosc: the 16-byte header must give the value's size and the chunk's decoded size; then
  c-blosc's lock-free `blosc_decompress_ctx` (`blosc_fast.decompress_ctx`, numcodecs' own library).
- zstd: the codec's own `decode_into` (the frame's declared size checked, then libzstd's
  context call in `zstd_fast`) into a window over the target; it never writes past the chunk.

Each decoder returns False (having possibly written garbage to the target) when the
value does not check out; the loop then hands the chunk to the general path, which decodes it
through numcodecs and raises the error naming store and key. Decoding is fully determined by
the stream and the same C libraries do the work, so results are bit-exact with numcodecs.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zarrlayer.format.codecs import blosc_fast
from zarrlayer.format.codecs.compressors import BloscCodec, ZstdCodec, zstd_decode_into
from zarrlayer.format.codecs.pipeline import ChunkCodecPipeline
from zarrlayer.format.codecs.serializers import BytesCodec
from zarrlayer.format.codecs.v2 import V2CodecPipeline

__all__ = ["ChunkDecoder", "chunk_decoder"]

_BLOSC_OVERHEAD = 16
_COPY_BYTES = 16 * 1024
_SIZES = struct.Struct("<4xI4xI")  # a blosc header's decoded size (nbytes) and whole-chunk size (cbytes)

Decode = Callable[[Any, Any, int, int], bool]
"""`decode(header, source, size, target)`: `header` is the value or the buffer holding it (for a
peek at its first bytes), `source` its bytes or address, `size` its length, `target` the address
of the chunk's `nbytes` bytes; True when the chunk was decoded there in full."""


@dataclass(frozen=True, slots=True)
class ChunkDecoder:
    """How the loop decodes one chunk: `decode`, and the read buffer size (a value that fills it is handed over as bytes)."""

    name: str
    decode: Decode
    read_size: int


def _compressor(pipeline: Any, dtype: np.dtype) -> tuple[bool, str | None]:
    """(plain, compressor name): whether chunks are C-order items of `dtype` under at most one compressor, and which."""
    if not isinstance(pipeline, ChunkCodecPipeline) or pipeline.dtype != dtype or dtype.kind == "O":
        return False, None
    if isinstance(pipeline, V2CodecPipeline):
        plain = not pipeline.filters and (pipeline.order == "C" or len(pipeline.shape) <= 1)
        compressor = pipeline.compressor
        return plain, None if compressor is None else str(compressor.codec_id)
    array_bytes = pipeline.array_bytes
    plain = not pipeline.array_array and isinstance(array_bytes, BytesCodec) and array_bytes.matches_native(dtype)
    codecs = pipeline.bytes_bytes
    if not codecs:
        return plain, None
    if len(codecs) > 1:
        return False, None
    if isinstance(codecs[0], BloscCodec):
        return plain, "blosc"
    if isinstance(codecs[0], ZstdCodec):
        return plain, "zstd"
    return False, None


def chunk_decoder(pipeline: Any, dtype: np.dtype, nbytes: int) -> ChunkDecoder | None:
    """The loop's decoder for chunks of `nbytes` decoded bytes of `pipeline`, or None where the loop does not apply."""
    plain, name = _compressor(pipeline, dtype)
    if not plain:
        return None
    if name is None:
        memmove = ctypes.memmove

        def copy(header: Any, source: Any, size: int, target: int) -> bool:
            if size != nbytes:
                return False
            memmove(target, source, nbytes)
            return True

        return ChunkDecoder("none", copy, nbytes + 1)
    if name == "blosc" and blosc_fast.decompress_ctx is not None:
        decompress, unpack = blosc_fast.decompress_ctx, _SIZES.unpack_from

        def blosc(header: Any, source: Any, size: int, target: int) -> bool:
            return size >= _BLOSC_OVERHEAD and unpack(header) == (nbytes, size) and decompress(source, target, nbytes, 1) == nbytes

        return ChunkDecoder("blosc", blosc, nbytes + _BLOSC_OVERHEAD + 1)
    if name == "zstd":
        return ChunkDecoder("zstd", _zstd(pipeline, nbytes), nbytes + nbytes // 64 + 1024)
    return None


def _zstd(pipeline: Any, nbytes: int) -> Decode:
    """zstd through the codec's own `decode_into` (`zstd_decode_into`: frame size checked, libzstd's
    context call, numcodecs for frames without a size) into a uint8 window over the target."""
    if isinstance(pipeline, V2CodecPipeline):
        compressor = pipeline.compressor

        def into(data: Any, out: np.ndarray) -> None:
            zstd_decode_into(compressor, data, out)

    else:
        into = pipeline.bytes_bytes[0].decode_into
    window = ctypes.c_char * nbytes

    def frame(header: Any, source: Any, size: int, target: int) -> bool:
        if type(header) is bytes:
            data: Any = header
        elif size < _COPY_BYTES:  # as bytes zstd_fast passes it on as is: cheaper than wrapping a view
            data = memoryview(header)[:size].tobytes()
        else:
            data = memoryview(header)[:size]
        try:
            into(data, np.frombuffer(window.from_address(target), dtype=np.uint8))
        except Exception:  # noqa: BLE001 - ChunkDecodeError or the codec's own: the general path reports it
            return False
        return True

    return frame
