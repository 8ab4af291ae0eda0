"""Helpers of the CLI tests: a small real hierarchy on disk, written with zarrlayer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import zarrlayer


def build_sample(path: Path, *, scale: float = 1.0) -> dict[str, np.ndarray]:
    """A v3 hierarchy at `path`: a sharded 3-D array, a subgroup with a 1-D array; returns the data."""
    root = zarrlayer.create_group(store=path, attributes={"title": "cli sample"})
    temperature = np.arange(8 * 6 * 4, dtype="float32").reshape(8, 6, 4) * scale
    t = root.create_array("temperature", shape=temperature.shape, chunks=(2, 3, 4), shards=(4, 6, 4),
                          dtype="float32", dimension_names=("time", "lat", "lon"))
    t[:] = temperature
    labels = np.arange(10, dtype="int16")
    meta = root.create_group("meta")
    meta.create_array("labels", shape=labels.shape, chunks=(5,), dtype="int16")[:] = labels
    return {"temperature": temperature, "meta/labels": labels}


def read_all(store_like: Any) -> dict[str, np.ndarray]:
    """The two sample arrays as read back from `store_like`."""
    root = zarrlayer.open_group(store_like, mode="r")
    return {name: root[name][...] for name in ("temperature", "meta/labels")}
