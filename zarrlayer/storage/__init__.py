"""Bytes in, bytes out: the Store contract, the built-in stores and implicit store creation.

`FsspecStore` and `ObjectStore` are imported on first attribute access (and are left out of
`__all__`), so that importing this package, even with `*`, never imports s3fs or obstore.
"""

from __future__ import annotations

from typing import Any

from zarrlayer.storage._base import (
    Buffer,
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
    SyncStore,
    direct_children,
    normalize_prefix,
    validate_key,
    validate_prefix,
)
from zarrlayer.storage.local import LocalStore
from zarrlayer.storage.memory import MemoryStore
from zarrlayer.storage.resolve import StoreLike, StorePath, make_store, make_store_path
from zarrlayer.storage.wrapper import LoggingStore, WrapperStore
from zarrlayer.storage.zip import ZipStore

__all__ = [
    "Buffer",
    "ByteRequest",
    "LocalStore",
    "LoggingStore",
    "MemoryStore",
    "OffsetByteRequest",
    "RangeByteRequest",
    "Store",
    "StoreLike",
    "StorePath",
    "SuffixByteRequest",
    "SyncStore",
    "WrapperStore",
    "ZipStore",
    "direct_children",
    "make_store",
    "make_store_path",
    "normalize_prefix",
    "validate_key",
    "validate_prefix",
]

_LAZY = {"FsspecStore": "zarrlayer.storage.fsspec", "ObjectStore": "zarrlayer.storage.obstore"}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
