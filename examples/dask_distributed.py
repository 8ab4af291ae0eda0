"""dask.distributed: read and write zarrlayer arrays from a LocalCluster of 2 worker processes.

Stores and arrays pickle to the workers; reads and writes need no lock because every
task touches whole stored chunks.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    from distributed import Client, LocalCluster

    import zarrlayer
    from zarrlayer.integrations.dask import from_zarrlayer, to_zarrlayer

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.zarr"
        source = zarrlayer.create_array(store=path, shape=(400, 300), chunks=(100, 100), dtype="float64")
        source[:] = np.arange(400 * 300, dtype="float64").reshape(400, 300)

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            print(f"workers: {len(client.scheduler_info()['workers'])}")
            x = from_zarrlayer(str(path))
            print(f"dask array: shape {x.shape}, chunks {x.chunksize}, {x.npartitions} tasks")
            total = float(x.sum().compute())
            print(f"sum computed on the workers: {total:.0f} (expected {source[:].sum():.0f})")

            scaled = (x * 2).astype("float32")
            out = to_zarrlayer(scaled, str(Path(tmp) / "out.zarr"), chunks=(100, 100))
            print(f"written by the workers: {out.shape} {out.dtype}, max = {out[:].max():.0f}")
            assert np.array_equal(out[:], (source[:] * 2).astype("float32"))
    print("dask distributed: OK")


if __name__ == "__main__":
    main()
