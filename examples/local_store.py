"""LocalStore: a hierarchy in a directory, one file per key, written atomically."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import zarrlayer
from zarrlayer.errors import ReadOnlyError
from zarrlayer.storage import LocalStore


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(Path(tmp) / "data.zarr")
        root = zarrlayer.create_group(store=store, attributes={"title": "local example"})
        temp = root.create_array("temperature", shape=(100, 100), chunks=(50, 50), dtype="float32")
        temp[:] = np.linspace(0, 1, 10_000, dtype="float32").reshape(100, 100)
        files = sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file())
        print(f"files on disk: {files}")
        print(f"mean read back: {temp[:].mean():.4f}")

        reader = zarrlayer.open_group(store=store.with_read_only(True), mode="r")
        try:
            reader["temperature"][0, 0] = 5
        except ReadOnlyError as exc:
            print(f"write through a read-only store -> {type(exc).__name__}")
    print("local store: OK")


if __name__ == "__main__":
    main()
