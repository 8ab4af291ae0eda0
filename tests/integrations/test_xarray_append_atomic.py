"""An append along a dimension stops after every single store write (a crash at each step, replayed).

Readers of the consolidated metadata (engine='zarrlayer', and xarray's engine='zarr') see every
variable at the old length or every variable at the new length, with exact values; a later append
onto any of those stopped states gives exact data, and any later write (mode 'a') first brings the
arrays' own documents in step with the consolidated ones. A reader without consolidated metadata sees each
array's own document (possibly of different lengths), but never a fill value in place of data.
Deterministic: the writes are recorded once and replayed prefix by prefix onto a copy of the store.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarrlayer
from zarrlayer.storage import LocalStore

xr = pytest.importorskip("xarray")

START, BLOCK = 6, 4


class _RecordingStore(LocalStore):
    """A LocalStore that records each write and deletion, in order (all go through the sync methods)."""

    def __init__(self, root: Any, *, read_only: bool = False) -> None:
        super().__init__(root, read_only=read_only)
        self.ops: list[tuple[str, bytes | None]] = []

    def set_sync(self, key: str, value: Any) -> None:
        self.ops.append((key, bytes(value)))
        super().set_sync(key, value)

    def delete_sync(self, key: str) -> None:
        self.ops.append((key, None))
        super().delete_sync(key)


def _dataset(start: int, stop: int) -> Any:
    t = np.arange(start, stop)
    return xr.Dataset(
        {
            "temp": (("time", "x"), t[:, None] * 10.0 + np.arange(3)[None, :]),
            "rain": (("time",), t * 0.5),
        },
        coords={"time": t, "x": np.arange(3)},
    )


def _replay(before: Path, ops: list[tuple[str, bytes | None]], target: Path) -> None:
    shutil.copytree(before, target)
    for key, value in ops:
        path = target / key
        if value is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(value)


def _length(path: Path, engine: str, **kwargs: Any) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with xr.open_dataset(str(path), engine=engine, **kwargs) as ds:
            lengths = {name: ds[name].sizes["time"] for name in ("temp", "rain", "time")}
            assert len(set(lengths.values())) == 1, f"{engine}: lengths disagree {lengths} ({path})"
            n = lengths["time"]
            xr.testing.assert_equal(ds.load().drop_vars("extra", errors="ignore"), _dataset(0, n))
    return n


def _engines() -> tuple[str, ...]:
    try:
        import zarr  # noqa: F401
    except ImportError:
        return ("zarrlayer",)
    return ("zarrlayer", "zarr")


def _own_lengths(path: Path, zarr_format: int) -> dict[str, int]:
    import json

    name = "zarr.json" if zarr_format == 3 else ".zarray"
    return {v: json.loads((path / v / name).read_text())["shape"][0] for v in ("temp", "rain", "time")}


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("chunks", [4, 5])
def test_append_stopped_after_any_write_is_all_old_or_all_new(
    tmp_path: Path, zarr_format: int, chunks: int
) -> None:
    from zarrlayer.integrations.xarray import to_zarrlayer

    before = tmp_path / "before.zarr"
    encoding = {v: {"chunks": (chunks, 3)[: 2 if v == "temp" else 1]} for v in ("temp", "rain", "time")}
    to_zarrlayer(_dataset(0, START), str(before), mode="w", zarr_format=zarr_format, encoding=encoding)
    done = tmp_path / "done.zarr"
    shutil.copytree(before, done)
    store = _RecordingStore(done)
    to_zarrlayer(_dataset(START, START + BLOCK), store, append_dim="time")
    assert len(store.ops) > 3
    seen = set()
    for k in range(len(store.ops) + 1):
        stopped = tmp_path / f"stopped-{k}.zarr"
        _replay(before, store.ops[:k], stopped)
        lengths = {engine: _length(stopped, engine) for engine in _engines()}
        assert len(set(lengths.values())) == 1, f"after {k} writes the engines disagree: {lengths}"
        n = lengths["zarrlayer"]
        assert n in (START, START + BLOCK), f"after {k} writes: time length {n}"
        seen.add(n)
        for name, own in _own_lengths(stopped, zarr_format).items():
            assert own in (START, START + BLOCK), f"after {k} writes: {name} has length {own}"
            stored = zarrlayer.open_array(str(stopped / name), mode="r")[...]
            np.testing.assert_array_equal(stored, _dataset(0, own)[name].values, err_msg=f"{name} after {k} writes")
        to_zarrlayer(xr.Dataset({"extra": ("x", np.arange(3) + 0.5)}), str(stopped), mode="a")
        assert {engine: _length(stopped, engine) for engine in _engines()} == dict.fromkeys(_engines(), n)
        assert set(_own_lengths(stopped, zarr_format).values()) == {n}, f"a later write settles (after {k} writes)"
        to_zarrlayer(_dataset(n, n + BLOCK), str(stopped), append_dim="time")
        assert _length(stopped, "zarrlayer") == n + BLOCK, f"a later append after {k} writes"
        assert set(_own_lengths(stopped, zarr_format).values()) == {n + BLOCK}
    assert seen == {START, START + BLOCK}
