"""The v2 chunk pipeline: numcodecs filters, then one compressor, over C- or F-ordered chunk bytes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numcodecs.abc import Codec

from zarrlayer.errors import ChunkDecodeError, ZarrlayerError
from zarrlayer.format.codecs.base import Buffer, check_size
from zarrlayer.format.codecs.bounded import bounded_decode, loose_limit
from zarrlayer.format.codecs.compressors import blosc_decode_into, check_blosc_header, zstd_decode_into
from zarrlayer.format.codecs.pipeline import ChunkCodecPipeline, as_bytes
from zarrlayer.format.codecs.serializers import VLEN_IDS, BytesCodec, check_vlen_header

__all__ = ["V2CodecPipeline"]


class V2CodecPipeline(ChunkCodecPipeline):
    """Decodes and encodes v2 chunks: `compressor(filters(chunk bytes in `order`))`."""

    def __init__(
        self,
        filters: Sequence[Codec],
        compressor: Codec | None,
        *,
        shape: tuple[int, ...],
        dtype: np.dtype,
        order: Literal["C", "F"],
        fill_value: Any = None,
    ) -> None:
        super().__init__((), BytesCodec(None), (), shape=shape, dtype=dtype, fill_value=None)
        self.fill_value = fill_value
        self.filters = tuple(filters)
        self.compressor = compressor
        self.order = order
        self._filters_reversed = self.filters[::-1]
        self._plain = not self.filters and dtype.kind != "O" and (order == "C" or len(shape) <= 1)
        cid = compressor.codec_id if compressor is not None else None
        self._into = self._plain and cid in (None, "blosc", "zstd")
        self._direct = self._into
        self._blosc = cid == "blosc"

    @property
    def codecs(self) -> tuple[Any, ...]:
        return (*self.filters, *((self.compressor,) if self.compressor is not None else ()))

    def _names(self) -> list[str]:
        return [c.codec_id for c in self.codecs]

    def __repr__(self) -> str:
        return f"V2CodecPipeline({self._names()}, shape={self.shape}, dtype={self.dtype}, order={self.order!r})"

    def to_json(self) -> list[dict[str, Any]]:
        return [c.get_config() for c in self.codecs]

    def decode(self, data: Buffer, shape: tuple[int, ...]) -> np.ndarray:
        try:
            if self._into and self.compressor is not None:
                out = np.empty(shape, dtype=self.dtype)
                self._decode_into(data, out)
                return out
            if self._blosc:
                check_blosc_header(data, None)
            raw = None if self.dtype.kind == "O" else math.prod(shape) * self.dtype.itemsize
            if self.compressor is not None:
                exact = raw is not None and not self.filters
                limit = raw if exact or raw is None else loose_limit(raw)
                data = bounded_decode(self.compressor, data, limit, exact=exact)
            for codec in self._filters_reversed:
                if codec.codec_id in VLEN_IDS:
                    check_vlen_header(data, math.prod(shape), codec.codec_id)
                data = bounded_decode(codec, data, None if raw is None else loose_limit(raw))
            return self._to_array(data, shape)
        except ZarrlayerError:
            raise
        except Exception as exc:
            raise self._decode_error(exc) from None

    def _to_array(self, data: Any, shape: tuple[int, ...]) -> np.ndarray:
        count = math.prod(shape)
        if self.dtype.kind == "O":
            arr = np.asarray(data)
            if arr.dtype.kind != "O":
                raise ChunkDecodeError(f"v2 object chunk: the codecs {self._names()} did not produce objects")
        else:
            arr = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
            arr = arr.reshape(-1)
            if arr.dtype != self.dtype:
                if arr.nbytes != count * self.dtype.itemsize:
                    raise ChunkDecodeError(f"expected {count * self.dtype.itemsize} decoded bytes for a {shape} chunk of {self.dtype}, found {arr.nbytes}")
                arr = arr.view(self.dtype)
        if arr.size != count:
            raise ChunkDecodeError(f"expected {count} items for a {shape} chunk, found {arr.size}")
        return arr.reshape(shape, order=self.order)

    def _decode_into(self, data: Buffer, out: np.ndarray) -> None:
        codec = self.compressor
        if codec is None:
            check_size(data, out.nbytes, "uncompressed chunk")
            out.reshape(-1).view(np.uint8)[:] = np.frombuffer(data, dtype=np.uint8)
            return
        if codec.codec_id == "blosc":
            blosc_decode_into(data, out)
            return
        zstd_decode_into(codec, data, out)

    def encode(self, chunk: np.ndarray) -> bytes:
        if chunk.dtype != self.dtype:
            chunk = chunk.astype(self.dtype)
        data: Any = np.asfortranarray(chunk) if self.order == "F" else np.ascontiguousarray(chunk)
        if self.order == "F" and not self.filters and self.dtype.kind != "O":
            data = data.T.reshape(-1)
        for codec in self.filters:
            data = codec.encode(data)
        if self.compressor is not None:
            data = self.compressor.encode(data)
        if isinstance(data, np.ndarray) and data.dtype.kind != "O":
            return data.reshape(-1, order="A").view(np.uint8).tobytes()
        return as_bytes(data)

    def encoded_size(self, shape: tuple[int, ...]) -> int | None:
        return math.prod(shape) * self.dtype.itemsize if not self.codecs and self.dtype.kind != "O" else None

