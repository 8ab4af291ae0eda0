"""ZipStore: a whole hierarchy in one zip file; rewrites never leave duplicate entries."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import numpy as np

import zarrlayer
from zarrlayer.storage import ZipStore


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.zarr.zip"
        store = ZipStore(path, mode="w")
        root = zarrlayer.create_group(store=store)
        counts = root.create_array("counts", shape=(6,), chunks=(3,), dtype="int64")
        counts[:] = np.arange(6)
        counts[:3] = -1                     # rewrites chunk c/0
        store.flush()                       # a checkpoint: the central directory of the live entries
        names = zipfile.ZipFile(path).namelist()
        print(f"entries: {sorted(names)}")
        print(f"duplicate entries: {len(names) - len(set(names))}")

        reader = zarrlayer.open_group(store=ZipStore(path, mode="r"), mode="r")
        print(f"counts read back: {reader['counts'][:].tolist()}")
    print("zip store: OK")


if __name__ == "__main__":
    main()
