"""Arrays, groups, indexing and the chunk I/O engine (no knowledge of xarray or dask)."""

from __future__ import annotations

from zarrlayer.core.array import Array
from zarrlayer.core.attributes import Attributes
from zarrlayer.core.group import Group

__all__ = ["Array", "Attributes", "Group"]
