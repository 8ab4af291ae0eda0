"""The integrations on a real distributed.LocalCluster with two worker processes (one cluster per module)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from integ_helpers import cf_dataset, write_with_zarr

xr = pytest.importorskip("xarray")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import zarrlayer  # noqa: E402
from zarrlayer.integrations.dask import from_zarrlayer, to_zarrlayer  # noqa: E402
from zarrlayer.storage import LocalStore  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_open_dataset_mean_on_workers(client, tmp_path):
    path = str(tmp_path / "cf.zarr")
    ds = cf_dataset()
    write_with_zarr(ds, path, zarr_format=3, consolidated=True)
    cache = {"memory": True, "disk": {"directory": str(tmp_path / "dc")}}
    lazy = xr.open_dataset(path, engine="zarrlayer", chunks={}, store_cache=cache)
    assert lazy["temp"].chunks == ((3, 3), (2, 2))
    got = lazy["temp"].mean().compute()
    assert float(got) == pytest.approx(float(np.nanmean(ds["temp"].values)), rel=1e-6)
    assert len(client.scheduler_info()["workers"]) == 2


def test_from_and_to_zarrlayer_on_workers(client, tmp_path):
    source = zarrlayer.create_array(
        LocalStore(str(tmp_path / "in.zarr")), name="v", shape=(64, 40), dtype="f4", chunks=(8, 10), shards=(16, 40)
    )
    data = np.random.default_rng(1).random((64, 40), dtype="f4")
    source[...] = data
    disk = tmp_path / "dc"
    cache = {"memory": True, "disk": {"directory": str(disk)}}
    x = from_zarrlayer(str(tmp_path / "in.zarr"), component="v", cache=cache)
    assert x.chunks == ((16,) * 4, (40,))
    pids = client.run(os.getpid)
    assert os.getpid() not in pids.values()
    out = to_zarrlayer(x * 2, str(tmp_path / "out.zarr"), component="w", chunks=(8, 10), shards=(16, 20))
    np.testing.assert_allclose(out[...], data * 2)
    assert float(x.sum().compute()) == pytest.approx(float(data.sum()), rel=1e-5)
    assert sum(f.stat().st_size for f in disk.rglob("*") if f.is_file()) > data.nbytes // 4
