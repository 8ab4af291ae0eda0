"""xarray: write a Dataset with to_zarrlayer, read it back lazily with engine="zarrlayer"."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from zarrlayer.integrations.xarray import to_zarrlayer


def _dataset() -> xr.Dataset:
    time = pd.date_range("2020-01-01", periods=30, freq="D")
    lat = np.linspace(-60, 60, 25)
    lon = np.linspace(0, 350, 36)
    rng = np.random.default_rng(1)
    temp = 280 + 10 * np.cos(np.deg2rad(lat))[None, :, None] + rng.normal(0, 1, (30, 25, 36))
    return xr.Dataset(
        {"temperature": (("time", "lat", "lon"), temp.astype("float32"), {"units": "K"})},
        coords={"time": time, "lat": lat, "lon": lon},
        attrs={"title": "xarray example"},
    )


def main() -> None:
    ds = _dataset()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "example.zarr"
        to_zarrlayer(ds.chunk({"time": 10}), path, zarr_format=3,
                     encoding={"temperature": {"chunks": (10, 25, 36)}})
        back = xr.open_dataset(path, engine="zarrlayer", chunks={})
        print(back)
        print(f"lazy (dask) data: {back.temperature.chunks is not None}")
        monthly = back.temperature.mean("time").mean().compute()
        print(f"mean temperature: {float(monthly):.3f} K")
        xr.testing.assert_identical(back.load(), ds)
        print("identical to what was written: True")
        back.close()
    print("xarray engine: OK")


if __name__ == "__main__":
    main()
