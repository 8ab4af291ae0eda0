"""Integrations with xarray and dask (installed as `zarrlayer.integrations`).

`zarrlayer.integrations.xarray` is the `engine="zarrlayer"` backend and `to_zarrlayer`
writer; `zarrlayer.integrations.dask` has `from_zarrlayer` and `to_zarrlayer` for dask
arrays. Neither is imported here, so importing zarrlayer never imports xarray or dask.
"""

from __future__ import annotations

__all__: list[str] = []
