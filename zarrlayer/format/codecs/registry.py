"""Codecs by name: v3 JSON codec lists to codec objects, and numcodecs codecs by id (with the unsafe check)."""

from __future__ import annotations

from typing import Any

import numcodecs
from numcodecs.abc import Codec

from zarrlayer import config
from zarrlayer.errors import CodecError, PickleCodecDisabledError, UnknownCodecError, UnsafeCodecError
from zarrlayer.format.codecs.base import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec
from zarrlayer.format.codecs.compressors import BloscCodec, Crc32cCodec, GzipCodec, NumcodecsBytesCodec, ZstdCodec
from zarrlayer.format.codecs.filters import (
    ARRAY_TO_ARRAY_IDS,
    ARRAY_TO_BYTES_IDS,
    NumcodecsArrayCodec,
    NumcodecsSerializer,
    TransposeCodec,
)
from zarrlayer.format.codecs.serializers import BytesCodec, VLenCodec

__all__ = ["UNSAFE_CODEC_IDS", "check_safe", "get_numcodec", "codec_from_json", "codec_from_numcodecs", "AnyCodec"]

UNSAFE_CODEC_IDS = frozenset({"pickle"})
"""numcodecs codecs that can run arbitrary code while decoding."""

AnyCodec = ArrayArrayCodec | ArrayBytesCodec | BytesBytesCodec


def check_safe(codec_id: str, *, where: str) -> None:
    """UnsafeCodecError for a codec that can run code on decode, unless the settings allow it."""
    if codec_id in UNSAFE_CODEC_IDS and not config.get().allow_unsafe_codecs:
        error = PickleCodecDisabledError if "pickle" in codec_id else UnsafeCodecError
        raise error(
            f"{where}: codec {codec_id!r} can run arbitrary code when decoding and is refused; "
            "set zarrlayer.config.set(allow_unsafe_codecs=True) only for data you trust"
        )


class _TrustedPickle(numcodecs.Pickle):
    """numcodecs' Pickle, decoding without numcodecs' own global switch: zarrlayer's setting already allowed it."""

    def decode(self, buf: Any, out: Any = None) -> Any:
        import pickle

        import numpy as np

        decoded = pickle.loads(memoryview(buf).cast("B"))  # noqa: S301 - the user opted in with allow_unsafe_codecs
        if out is not None:
            np.copyto(out, decoded)
            return out
        return decoded


def _trusted(codec: Codec) -> Codec:
    if codec.codec_id == "pickle" and not isinstance(codec, _TrustedPickle):
        return _TrustedPickle(**{k: v for k, v in codec.get_config().items() if k != "id"})
    return codec


def get_numcodec(codec_config: Any, *, where: str) -> Codec:
    """The numcodecs codec of a v2-style `{"id": ..., ...}` config (or a codec object), refusing unsafe ones."""
    if isinstance(codec_config, Codec):
        check_safe(codec_config.codec_id, where=where)
        return _trusted(codec_config)
    if not isinstance(codec_config, dict) or not isinstance(codec_config.get("id"), str):
        raise CodecError(f"{where}: a codec must be an object with a string 'id', found {codec_config!r}")
    codec_id = codec_config["id"]
    check_safe(codec_id, where=where)
    try:
        return _trusted(numcodecs.get_codec(dict(codec_config)))
    except ValueError:
        raise UnknownCodecError(f"{where}: unknown codec {codec_id!r} (not registered with numcodecs)") from None
    except Exception as exc:
        raise CodecError(f"{where}: bad configuration for codec {codec_id!r}: {exc}") from None


def _config(value: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    cfg = value.get("configuration", {})
    if not isinstance(cfg, dict):
        raise CodecError(f"{where}: codec {name!r} configuration must be an object, found {cfg!r}")
    return cfg


def codec_from_json(value: Any, *, where: str) -> AnyCodec:
    """One v3 codec from its JSON object (`{"name": ..., "configuration": {...}}`).

    `sharding_indexed` is not built here (it needs the chunk spec); see metadata_v3.
    """
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise CodecError(f"{where}: a codec must be an object with a string 'name', found {value!r}")
    name = value["name"]
    cfg = _config(value, name, where)
    try:
        if name == "bytes":
            return BytesCodec(cfg.get("endian"))
        if name == "transpose":
            order: Any = cfg.get("order")  # JSON as found; TransposeCodec checks it is a permutation
            return TransposeCodec(order)
        if name == "blosc":
            return BloscCodec.from_config(cfg)
        if name == "gzip":
            return GzipCodec(cfg.get("level", 5))
        if name == "zstd":
            return ZstdCodec(cfg.get("level", 0), cfg.get("checksum", False))
        if name == "crc32c":
            return Crc32cCodec()
        if name in ("vlen-utf8", "vlen-bytes"):
            return VLenCodec(name)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, CodecError):
            raise CodecError(f"{where}: {exc}") from None
        raise CodecError(f"{where}: bad configuration for codec {name!r}: {exc}") from None
    if name.startswith("numcodecs."):
        codec = get_numcodec({"id": name[len("numcodecs."):], **cfg}, where=where)
        return codec_from_numcodecs(codec, json=value, keep_name=True)
    raise UnknownCodecError(f"{where}: unknown codec {name!r}")


def codec_from_numcodecs(
    codec: Codec, *, typesize: int | None = None, json: dict[str, Any] | None = None, keep_name: bool = False
) -> AnyCodec:
    """The v3 codec for a numcodecs object: blosc/zstd/gzip/crc32c by their v3 names, others as `numcodecs.<id>`.

    `keep_name` keeps a `numcodecs.<id>` codec read from a document as such (and its original JSON).
    """
    cid = codec.codec_id
    if keep_name:
        cid = "numcodecs"
    if cid == "blosc":
        shuffle = codec.shuffle if codec.shuffle != -1 else (1 if (typesize or 1) > 1 else 2)
        ts = getattr(codec, "typesize", None) or typesize or 1
        return BloscCodec(cname=codec.cname, clevel=codec.clevel, shuffle=("noshuffle", "shuffle", "bitshuffle")[shuffle], typesize=ts, blocksize=codec.blocksize)
    if cid == "zstd":
        return ZstdCodec(codec.level, bool(getattr(codec, "checksum", False)))
    if cid == "gzip":
        return GzipCodec(codec.level)
    if cid == "crc32c":
        return Crc32cCodec()
    if cid in ("vlen-utf8", "vlen-bytes"):
        return VLenCodec(cid)
    if codec.codec_id in ARRAY_TO_ARRAY_IDS:
        return NumcodecsArrayCodec(codec, json)
    if codec.codec_id in ARRAY_TO_BYTES_IDS:
        return NumcodecsSerializer(codec, json)
    return NumcodecsBytesCodec(codec, json)
