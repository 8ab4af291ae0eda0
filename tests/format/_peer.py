"""Helpers that write arrays with zarr-python (the test-time peer) into a plain dict of bytes."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import zarr
from zarr.storage import MemoryStore

from zarrlayer.format import parse_node_metadata


def peer_store() -> tuple[MemoryStore, dict[str, Any]]:
    """A zarr-python MemoryStore and the dict it writes into."""
    backing: dict[str, Any] = {}
    return MemoryStore(store_dict=backing), backing


def raw(backing: dict[str, Any]) -> dict[str, bytes]:
    """The dict's values as bytes."""
    return {k: v.to_bytes() for k, v in backing.items()}


def peer_array(data: np.ndarray | None = None, **kwargs: Any) -> tuple[zarr.Array, dict[str, bytes]]:
    """Create (and fill with `data`) an array `a` with zarr-python; returns it and every stored value."""
    store, backing = peer_store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arr = zarr.create_array(store, name="a", **kwargs)
        if data is not None:
            arr[...] = data
    return arr, raw(backing)


def node_docs(stored: dict[str, bytes], path: str = "a") -> dict[str, bytes]:
    """The metadata documents of the node at `path`."""
    names = ("zarr.json", ".zarray", ".zgroup", ".zattrs")
    prefix = f"{path}/" if path else ""
    return {n: stored[prefix + n] for n in names if prefix + n in stored}


def parse_peer(stored: dict[str, bytes], path: str = "a") -> Any:
    """Our parse of the node zarr-python wrote at `path`."""
    return parse_node_metadata(node_docs(stored, path), path=path)


def main_doc(stored: dict[str, bytes], path: str = "a") -> dict[str, Any]:
    """zarr-python's main metadata document at `path`, as JSON."""
    docs = node_docs(stored, path)
    return json.loads(docs.get("zarr.json") or docs[".zarray"])


def gzip_mtime_zeroed(value: bytes) -> bytes:
    """`value` with the MTIME field of a gzip member zeroed (bytes 4-8, RFC 1952): numcodecs' GZip stamps
    the current second, so two byte-identical encodings made across a second boundary differ there only."""
    if value[:3] == b"\x1f\x8b\x08" and len(value) >= 10:
        return value[:4] + b"\x00\x00\x00\x00" + value[8:]
    return value
