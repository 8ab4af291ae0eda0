"""A synthetic, climate-like dataset: temperature and precipitation over (time, lat, lon), CF-described.

The fields are smooth (latitude gradient, seasons, travelling weather) plus noise, so that
they compress like real model output rather than like zeros or pure noise. While writing,
the exact answers of the demo's computations are accumulated in float64 so that the demo
can check what it reads back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DatasetSpec", "Expected", "REGION", "write_dataset"]

REGION = {"lat": (35.0, 70.0), "lon": (-10.0, 40.0)}
"""The regional box (Europe) whose precipitation the demo averages."""


@dataclass(frozen=True)
class DatasetSpec:
    """Sizes of the synthetic dataset: `ntime` days on a `nlat` x `nlon` global grid."""

    ntime: int
    nlat: int
    nlon: int
    chunks: tuple[int, int, int]
    shards: tuple[int, int, int]

    @classmethod
    def full(cls) -> "DatasetSpec":
        """About 300 MiB of float32: 600 days on a 1-degree grid."""
        return cls(ntime=600, nlat=180, nlon=360, chunks=(20, 90, 180), shards=(120, 180, 360))

    @classmethod
    def quick(cls) -> "DatasetSpec":
        """About 2 MiB, for tests."""
        return cls(ntime=48, nlat=36, nlon=72, chunks=(8, 18, 36), shards=(24, 36, 72))

    @property
    def nbytes(self) -> int:
        """Uncompressed bytes of the two data variables."""
        return 2 * 4 * self.ntime * self.nlat * self.nlon

    def lat(self) -> np.ndarray:
        step = 180.0 / self.nlat
        return np.linspace(-90 + step / 2, 90 - step / 2, self.nlat)

    def lon(self) -> np.ndarray:
        step = 360.0 / self.nlon
        return np.linspace(-180 + step / 2, 180 - step / 2, self.nlon)


@dataclass
class Expected:
    """The answers the demo computes, accumulated exactly while writing."""

    temperature_sum: Any = None
    regional_precip: list[float] = field(default_factory=list)

    def mean_temperature_map(self, ntime: int) -> np.ndarray:
        return self.temperature_sum / ntime


def _region_mask(spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    lat, lon = spec.lat(), spec.lon()
    rlat = (lat >= REGION["lat"][0]) & (lat <= REGION["lat"][1])
    rlon = (lon >= REGION["lon"][0]) & (lon <= REGION["lon"][1])
    return rlat, rlon


def _fields(spec: DatasetSpec, t0: int, t1: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Temperature (K) and precipitation (mm/day) for days t0..t1, float32."""
    days = np.arange(t0, t1, dtype=np.float64)[:, None, None]
    lat = np.deg2rad(spec.lat())[None, :, None]
    lon = np.deg2rad(spec.lon())[None, None, :]
    season = np.cos(2 * np.pi * (days - 200) / 365.25) * np.sin(lat)
    weather = np.sin(3 * lon - 0.3 * days) * np.cos(2 * lat)
    shape = (t1 - t0, spec.nlat, spec.nlon)
    temp = 288.0 - 40.0 * np.sin(lat) ** 2 + 12.0 * season + 4.0 * weather
    temp = (temp + rng.normal(0.0, 0.5, shape)).astype(np.float32)
    wet = 3.0 * (1 + weather) * np.cos(lat) ** 2 + rng.gamma(0.6, 1.5, shape) - 2.0
    precip = np.round(np.maximum(wet, 0.0), 1).astype(np.float32)
    return temp, precip


def _create_arrays(root: Any, spec: DatasetSpec) -> tuple[Any, Any]:
    time = root.create_array("time", shape=(spec.ntime,), dtype="int64", chunks=(spec.ntime,),
                             dimension_names=("time",),
                             attributes={"standard_name": "time", "units": "days since 2000-01-01",
                                         "calendar": "proleptic_gregorian", "axis": "T"})
    time[:] = np.arange(spec.ntime, dtype=np.int64)
    for name, values, units in (("lat", spec.lat(), "degrees_north"), ("lon", spec.lon(), "degrees_east")):
        coord = root.create_array(name, shape=values.shape, dtype="float64", chunks=values.shape,
                                  dimension_names=(name,),
                                  attributes={"standard_name": "latitude" if name == "lat" else "longitude",
                                              "units": units, "axis": "Y" if name == "lat" else "X"})
        coord[:] = values
    common = dict(shape=(spec.ntime, spec.nlat, spec.nlon), dtype="float32", chunks=spec.chunks,
                  shards=spec.shards, fill_value=np.nan, dimension_names=("time", "lat", "lon"))
    temp = root.create_array("temperature", **common,
                             attributes={"standard_name": "air_temperature", "long_name": "Near-surface air temperature",
                                         "units": "K", "cell_methods": "time: mean"})
    precip = root.create_array("precipitation", **common,
                               attributes={"standard_name": "precipitation_amount",
                                           "long_name": "Daily precipitation", "units": "mm day-1"})
    return temp, precip


def write_dataset(path: Path, spec: DatasetSpec, *, seed: int = 0) -> Expected:
    """Write the dataset (Zarr v3, sharded, consolidated) at `path`; returns the exact expected answers."""
    import zarrlayer

    root = zarrlayer.create_group(store=str(path), zarr_format=3, overwrite=True, attributes={
        "title": "zarrlayer demo: synthetic daily climate",
        "Conventions": "CF-1.10",
        "source": "zarrlayer.demo (synthetic; not real observations)",
    })
    temp, precip = _create_arrays(root, spec)
    rng = np.random.default_rng(seed)
    rlat, rlon = _region_mask(spec)
    weights = np.cos(np.deg2rad(spec.lat()[rlat]))[:, None] * np.ones(rlon.sum())[None, :]
    expected = Expected(temperature_sum=np.zeros((spec.nlat, spec.nlon)))
    step = spec.shards[0]
    for t0 in range(0, spec.ntime, step):
        t1 = min(t0 + step, spec.ntime)
        t, p = _fields(spec, t0, t1, rng)
        temp[t0:t1] = t
        precip[t0:t1] = p
        expected.temperature_sum += t.sum(axis=0, dtype=np.float64)
        box = p[:, rlat][:, :, rlon].astype(np.float64)
        expected.regional_precip.extend((box * weights).sum(axis=(1, 2)) / weights.sum())
    zarrlayer.consolidate_metadata(str(path))
    return expected
