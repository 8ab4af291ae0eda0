"""Errors of the bridge, in the form zarr-python's callers expect."""

from __future__ import annotations

from zarrlayer.errors import ReadOnlyError

__all__ = ["BridgeReadOnlyError", "bridge_read_only_error"]


class BridgeReadOnlyError(ReadOnlyError, ValueError):
    """A write through a read-only bridge: zarrlayer's ReadOnlyError and, as zarr-python raises, a ValueError."""


def bridge_read_only_error(url: str) -> BridgeReadOnlyError:
    """The error zarr-python's stores raise on a write to a read-only store, naming zarrlayer's store."""
    return BridgeReadOnlyError(
        f"store was opened in read-only mode and does not support writing (zarrlayer store {url})"
    )
