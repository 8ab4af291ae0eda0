"""Data the guide pages assume exists (their prose describes it); built in the page's temp directory."""

from __future__ import annotations

from typing import Any

import numpy as np


def climate_dataset(days: int = 120, start: str = "2001-01-01") -> Any:
    """A daily (time, lat, lon) temperature dataset on an 18 x 36 grid, without lat/lon coordinates."""
    import pandas as pd
    import xarray as xr

    time = pd.date_range(start, periods=days, freq="D")
    values = (250 + 40 * np.random.default_rng(0).random((days, 18, 36))).astype("float32")
    return xr.Dataset({"temperature": (("time", "lat", "lon"), values, {"units": "K"})}, coords={"time": time})


def write_climate(path: str) -> None:
    """`climate_dataset()` written with zarrlayer's xarray writer to `path`."""
    from zarrlayer.integrations.xarray import to_zarrlayer

    to_zarrlayer(climate_dataset(), path, mode="w")


def write_hierarchy(path: str) -> None:
    """A group with two sub-groups, each a small dataset (for open_datatree)."""
    import xarray as xr

    from zarrlayer.integrations.xarray import to_zarrlayer

    to_zarrlayer(xr.Dataset(attrs={"title": "hierarchy"}), path, mode="w")
    for name in ("model", "observations"):
        ds = xr.Dataset({"t": (("x",), np.arange(4.0))})
        to_zarrlayer(ds, path, group=name, mode="a")
