"""engine='zarrlayer' over a loopback HTTP server: identity, the cache tier, and parallel coordinate reads."""

from __future__ import annotations

import pytest
from integ_helpers import cf_dataset, open_with_zarr, write_with_zarr

xr = pytest.importorskip("xarray")
pytest.importorskip("aiohttp")

from zarrlayer.testing.servers import http_server  # noqa: E402


@pytest.fixture
def served(tmp_path):
    write_with_zarr(cf_dataset(), str(tmp_path / "cf.zarr"), zarr_format=3, consolidated=True)
    with http_server(tmp_path, latency=0.01) as server:
        yield server, f"{server.url.rstrip('/')}/cf.zarr", str(tmp_path / "cf.zarr")


def test_http_dataset_identical_to_local(served):
    server, url, local = served
    ours = xr.open_dataset(url, engine="zarrlayer").load()
    xr.testing.assert_identical(ours, open_with_zarr(local).load())
    assert server.request_count > 0


def test_store_cache_serves_repeat_reads(served):
    server, url, _ = served
    ds = xr.open_dataset(url, engine="zarrlayer", store_cache="memory", cache=False)
    ds["temp"].values
    server.reset_counts()
    ds["temp"].values
    assert server.request_count == 0
    plain = xr.open_dataset(url, engine="zarrlayer", cache=False)
    plain["temp"].values
    server.reset_counts()
    plain["temp"].values
    assert server.request_count > 0


def test_index_coordinates_are_fetched_concurrently(served):
    server, url, _ = served
    ds = xr.open_dataset(url, engine="zarrlayer", create_default_indexes=False, cache=False)
    server.reset_counts()
    ds["time"].values
    paths = {path for _, path, _ in server.requests}
    assert any(p.endswith("/x/c/0") for p in paths) and any(p.endswith("/time/c/0") for p in paths)
    assert server.max_in_flight >= 2
    server.reset_counts()
    ds["x"].values
    assert server.request_count == 0
