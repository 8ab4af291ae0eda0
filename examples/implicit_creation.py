"""Implicit store creation: zarrlayer turns a path, a URL or a dict into the right store.

Every open/create function takes `store=` as a path, a URL, a dict or a Store, and a
`mode` ('r', 'r+', 'a', 'w', 'w-') that says what may happen to what is there.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import zarrlayer
from zarrlayer.errors import ContainsGroupError, NodeNotFoundError
from zarrlayer.testing.servers import http_server


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)

        # A path without a .zip suffix: a LocalStore (a directory).
        root = zarrlayer.open_group(tmp_path / "local.zarr", mode="w")
        root.create_array("x", shape=(4,), chunks=(2,), dtype="int32")[:] = np.arange(4)
        print(f"path          -> {type(root.store).__name__}")

        # A path ending in .zip: a ZipStore (one file).
        zipped = zarrlayer.open_group(tmp_path / "archive.zip", mode="w")
        zipped.create_array("x", shape=(4,), dtype="int32")[:] = 1
        zipped.store.flush()                   # writes the zip's central directory
        print(f"*.zip         -> {type(zipped.store).__name__}")

        # A dict: a MemoryStore that keeps the bytes in your dict.
        data: dict[str, bytes] = {}
        zarrlayer.open_group(data, mode="w").create_array("x", shape=(2,), dtype="f8")
        print(f"dict          -> MemoryStore, keys now in the dict: {sorted(data)}")

        # A URL: an FsspecStore (or an ObjectStore with config remote_backend='obstore').
        with http_server(tmp_path) as server:
            remote = zarrlayer.open_group(f"{server.url}/local.zarr", mode="r")
            print(f"http:// URL   -> {type(remote.store).__name__}, x = {remote['x'][:]}")

        # Modes guard what is there.
        try:
            zarrlayer.open_group(tmp_path / "local.zarr", mode="w-")
        except ContainsGroupError as exc:
            print(f"mode 'w-' on an existing group -> {type(exc).__name__}")
        try:
            zarrlayer.open_group(tmp_path / "missing.zarr", mode="r")
        except NodeNotFoundError as exc:
            print(f"mode 'r' on nothing            -> {type(exc).__name__}")
    print("implicit creation: OK")


if __name__ == "__main__":
    main()
