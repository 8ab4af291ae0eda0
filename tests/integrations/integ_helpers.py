"""Helpers for the integration tests: a CF dataset, zarr-python writing/reading, a key-counting store."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from zarrlayer.storage import WrapperStore

xr = pytest.importorskip("xarray")

METADATA_NAMES = ("zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata")


def cf_dataset() -> "xr.Dataset":
    """A small dataset exercising CF decoding: times, scale/offset, _FillValue, strings, coordinates."""
    time = pd.date_range("2000-01-01", periods=6, freq="D")
    temp = np.random.default_rng(0).normal(280, 5, size=(6, 4)).astype("f4")
    temp[0, 0] = np.nan
    packed = np.linspace(0, 10, 24).reshape(6, 4)
    packed[0, 1] = np.nan
    ds = xr.Dataset(
        {
            "temp": (("time", "x"), temp, {"units": "K", "long_name": "temperature"}),
            "packed": (("time", "x"), packed, {"note": "scaled"}),
            "name": (("x",), np.array(["a", "bb", "ccc", "dddd"], dtype=object)),
            "flag": (("time",), np.array([1, 0, 1, 1, 0, 1], dtype="i2")),
            "lead": (("time",), np.arange(6).astype("timedelta64[h]")),
        },
        coords={
            "time": time,
            "x": np.arange(4, dtype="f8"),
            "lat": (("x",), np.array([1.0, 2.0, 3.0, 4.0]), {"units": "degrees_north"}),
        },
        attrs={"title": "test dataset", "n": 3, "values": [1, 2, 3]},
    )
    ds["packed"].encoding = {"scale_factor": 0.1, "add_offset": 1.0, "dtype": "i2", "_FillValue": -999}
    ds["temp"].encoding = {"chunks": (3, 2)}
    return ds


def write_with_zarr(ds: "xr.Dataset", path: str, *, zarr_format: int, consolidated: bool, **kwargs) -> None:
    """Write `ds` with zarr-python (the peer) through xarray's own engine."""
    pytest.importorskip("zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(path, mode="w", zarr_format=zarr_format, consolidated=consolidated, **kwargs)


def open_with_zarr(path: str, **kwargs) -> "xr.Dataset":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_dataset(path, engine="zarr", **kwargs)


class CountingStore(WrapperStore):
    """A wrapper that records every key read, through the async API and the sync fast path."""

    def __init__(self, store) -> None:
        super().__init__(store)
        self.keys_read: list[str] = []

    def _note(self, keys: Sequence[str]) -> None:
        self.keys_read.extend(keys)

    async def get(self, key, byte_range=None):
        self._note([key])
        return await super().get(key, byte_range)

    async def get_partial_values(self, key_ranges):
        key_ranges = list(key_ranges)
        self._note([k for k, _ in key_ranges])
        return await super().get_partial_values(key_ranges)

    def get_sync(self, key, byte_range=None):
        self._note([key])
        return super().get_sync(key, byte_range)

    def get_many_sync(self, key_ranges):
        key_ranges = list(key_ranges)
        self._note([k for k, _ in key_ranges])
        return super().get_many_sync(key_ranges)

    def chunk_keys(self) -> list[str]:
        """The keys read that are not metadata documents."""
        return [k for k in self.keys_read if k.rsplit("/", 1)[-1] not in METADATA_NAMES]


def record_store_calls(monkeypatch) -> list[dict]:
    """Replace dask.array.store by a wrapper that records each call's source chunks and lock."""
    import dask.array

    calls = []
    real_store = dask.array.store

    def recording_store(sources, *args, **kwargs):
        calls.append({"chunks": getattr(sources, "chunks", None), "lock": kwargs.get("lock")})
        return real_store(sources, *args, **kwargs)

    monkeypatch.setattr(dask.array, "store", recording_store)
    return calls
