"""Zarr v3 codecs in a variable's `encoding` as xarray's own engine gives them: zarr-python codec objects.

zarrlayer describes a v3 array's codecs by their JSON (`{"name": "blosc", "configuration":
{...}}`). Where zarr-python is installed, `engine="zarrlayer"` hands xarray the same
zarr-python codec objects `engine="zarr"` does, so code comparing or reusing
`encoding["compressors"]` behaves the same with either engine (and `to_zarr`/`to_zarrlayer`
take them back). Without zarr-python, or for a codec it does not know, the JSON stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["as_peer_codec", "as_peer_codecs"]


def as_peer_codec(codec: Any) -> Any:
    """zarr-python's codec object for a v3 codec JSON mapping; anything else (or an unknown codec) unchanged."""
    if not isinstance(codec, Mapping) or "name" not in codec:
        return codec
    try:
        from zarr.registry import get_codec_class
    except ImportError:
        return codec
    try:
        return get_codec_class(str(codec["name"])).from_dict(dict(codec))
    except (KeyError, TypeError, ValueError):
        return codec


def as_peer_codecs(codecs: tuple[Any, ...]) -> tuple[Any, ...]:
    """`as_peer_codec` applied to each codec of a tuple."""
    return tuple(as_peer_codec(c) for c in codecs)
