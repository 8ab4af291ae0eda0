"""MemoryStore: a hierarchy in a dict you own: a picklable, inspectable snapshot."""

from __future__ import annotations

import pickle

import numpy as np

import zarrlayer
from zarrlayer.storage import MemoryStore


def main() -> None:
    data: dict[str, bytes] = {}
    root = zarrlayer.create_group(store=MemoryStore(data))
    root.create_array("grid", shape=(4, 4), chunks=(2, 2), dtype="uint8")[:] = np.eye(4, dtype="uint8")
    print(f"keys in your dict: {sorted(data)}")
    print("(chunks holding only the fill value are not stored: the off-diagonal ones are absent)")
    print(f"values are bytes: {all(type(v) is bytes for v in data.values())}")

    copy = pickle.loads(pickle.dumps(MemoryStore(data)))
    grid = zarrlayer.open_array(store=copy, path="grid", mode="r")
    print(f"diagonal read from a pickled copy: {np.diag(grid[:]).tolist()}")
    print("memory store: OK")


if __name__ == "__main__":
    main()
