"""Document names, JSON reading and writing, and small validators shared by both formats."""

from __future__ import annotations

import json
import math
from typing import Any

from zarrlayer.errors import MetadataError, NotJSONError

__all__ = [
    "V3_METADATA_KEY",
    "V2_ARRAY_KEY",
    "V2_GROUP_KEY",
    "V2_ATTRS_KEY",
    "V2_CONSOLIDATED_KEY",
    "load_json",
    "dump_json",
    "where",
    "allocation_error",
]

V3_METADATA_KEY = "zarr.json"
V2_ARRAY_KEY = ".zarray"
V2_GROUP_KEY = ".zgroup"
V2_ATTRS_KEY = ".zattrs"
V2_CONSOLIDATED_KEY = ".zmetadata"


def where(path: str, document: str) -> str:
    """The location of a document in error messages: `'a/b/zarr.json'` or `'zarr.json' (root)`."""
    return f"{path.strip('/')}/{document}" if path.strip("/") else f"{document} (root)"


def load_json(data: bytes | memoryview | str, *, path: str, document: str) -> dict[str, Any]:
    """Parse a metadata document that must be a JSON object; MetadataError names the document."""
    try:
        if not isinstance(data, str):
            data = bytes(data).decode("utf-8")
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MetadataError(f"{where(path, document)}: expected a JSON object, found invalid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise MetadataError(f"{where(path, document)}: expected a JSON object, found {type(value).__name__}")
    return value


def dump_json(value: Any) -> bytes:
    """JSON as zarr-python writes its metadata documents: two-space indent, NaN allowed, UTF-8."""
    try:
        return json.dumps(value, indent=2, allow_nan=True).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise NotJSONError(
            f"expected JSON values in the metadata (attributes may hold str, int, float, bool, None, lists and "
            f"dicts with string keys), found {exc}"
        ) from None


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes} bytes"


def allocation_error(url: str, path: str, metadata: Any, out_shape: tuple[int, ...], exc: BaseException) -> MetadataError:
    """The MetadataError for a read that ran out of memory: it names the selection's and a chunk's size,
    since a document declaring huge chunks (or a selection too big for memory) is the usual cause."""
    itemsize = metadata.dtype.itemsize
    out_bytes = math.prod(out_shape) * itemsize
    chunk_bytes = math.prod(metadata.chunks) * itemsize
    return MetadataError(
        f"array '{path}' in store {url}: reading a selection of shape {tuple(out_shape)} ({_size(out_bytes)}) "
        f"from chunks of shape {tuple(metadata.chunks)} ({_size(chunk_bytes)} each, as its metadata declares) "
        f"needs more memory than can be allocated ({exc})"
    )
