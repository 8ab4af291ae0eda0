"""zarrlayer: a fast, safe Zarr v2/v3 data-access layer."""

from __future__ import annotations

__version__ = "0.1.0"
