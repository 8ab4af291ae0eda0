"""Crash scenarios: what a writer does before it is killed, and what a reopen must find afterwards.

Each scenario has `prepare(directory)` (the state before the writer starts, built in the
harness process), `write(directory, report)` (run in a forked child that the harness kills
with SIGKILL at a random moment; `report(event, **fields)` tells the harness how far it got)
and `check(directory, events)` (a reopen in the harness process: raises AssertionError on any
torn or lost result, returns a short outcome and what it found on disk).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Report = Callable[..., None]

N_CHUNKS = 64
CHUNK = 8192  # float64 elements: 64 KiB per chunk, uncompressed, so kills land inside writes


def _old(i: int) -> np.ndarray:
    return np.full(CHUNK, float(i))


def _new(i: int) -> np.ndarray:
    return np.full(CHUNK, float(i) + 1000.0)


def _temps(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*zarrlayer-tmp-*"))


def _create_array(store: Any) -> None:
    import zarrlayer

    a = zarrlayer.create_array(
        store, shape=(N_CHUNKS * CHUNK,), chunks=(CHUNK,), dtype="f8", compressors=None, fill_value=-1.0
    )
    a[:] = np.concatenate([_old(i) for i in range(N_CHUNKS)])


def _check_chunks(array: Any) -> tuple[int, int]:
    """Every chunk holds its old or its new value, whole: (old, new) counts."""
    data = array[:]
    old = new = 0
    for i in range(N_CHUNKS):
        chunk = data[i * CHUNK:(i + 1) * CHUNK]
        if np.array_equal(chunk, _old(i)):
            old += 1
        elif np.array_equal(chunk, _new(i)):
            new += 1
        else:
            raise AssertionError(f"chunk {i} is torn or lost: values {np.unique(chunk)[:5]}")
    return old, new


def _mix(old: int, new: int) -> str:
    return "all old" if not new else "all new" if not old else "old+new mix"


def _rewrite_chunks(array: Any, report: Report, store: Any = None) -> None:
    for i in range(N_CHUNKS):
        array[i * CHUNK:(i + 1) * CHUNK] = _new(i)
        if store is not None and store._archive.unsaved == 0:
            report("checkpoint", chunks=i + 1)


# -- LocalStore: chunks rewritten in place ----------------------------------------------


def local_prepare(directory: Path) -> None:
    from zarrlayer.storage import LocalStore

    _create_array(LocalStore(directory / "data.zarr"))


def local_write(directory: Path, report: Report) -> None:
    import zarrlayer
    from zarrlayer.storage import LocalStore

    array = zarrlayer.open_array(LocalStore(directory / "data.zarr"), mode="r+")
    report("go")
    _rewrite_chunks(array, report)


def local_check(directory: Path, events: list[dict[str, Any]]) -> tuple[str, str]:
    import zarrlayer
    from zarrlayer.storage import LocalStore

    old, new = _check_chunks(zarrlayer.open_array(LocalStore(directory / "data.zarr", read_only=True), mode="r"))
    return _mix(old, new), f"{len(_temps(directory))} temp file(s)"


# -- ZipStore: an existing archive updated with mode 'a' -----------------------------------

ZIP_CHECKPOINT = 256 * 1024


def zip_update_prepare(directory: Path) -> None:
    from zarrlayer.storage import ZipStore

    with ZipStore(directory / "data.zip", mode="w") as store:
        _create_array(store)


def zip_update_write(directory: Path, report: Report) -> None:
    import zarrlayer
    from zarrlayer.storage import ZipStore

    store = ZipStore(directory / "data.zip", mode="a", checkpoint_bytes=ZIP_CHECKPOINT)
    array = zarrlayer.open_array(store, mode="r+")
    report("go")
    _rewrite_chunks(array, report, store)
    report("closing")
    store.close()


def _zip_check(directory: Path) -> tuple[int, int, int, list[str], int]:
    import zarrlayer
    from zarrlayer.storage import ZipStore

    path = directory / "data.zip"
    temps = _temps(directory)
    reader = ZipStore(path, mode="r")
    try:
        old, new = _check_chunks(zarrlayer.open_array(reader, mode="r"))
        recovered = reader.recovered_bytes
    finally:
        reader.close()
    size_before = path.stat().st_size
    updater = ZipStore(path, mode="a")  # the next writable open drops leftover temps and the torn tail
    updater._archive.keys()
    updater.close()
    if _temps(directory):
        raise AssertionError(f"temporary files left after a writable open: {_temps(directory)}")
    assert path.stat().st_size <= size_before
    return old, new, recovered, temps, size_before


def zip_update_check(directory: Path, events: list[dict[str, Any]]) -> tuple[str, str]:
    old, new, recovered, temps, _ = _zip_check(directory)
    done = max((e["chunks"] for e in events if e["event"] == "checkpoint"), default=0)
    if new < done:
        raise AssertionError(f"{done} chunks were checkpointed but only {new} survived")
    left = "torn tail dropped" if recovered else "no torn tail"
    return _mix(old, new), f"{left}, {len(temps)} temp file(s)"


# -- ZipStore: a new archive written with checkpoints ---------------------------------------


def zip_new_prepare(directory: Path) -> None:
    return None


def zip_new_write(directory: Path, report: Report) -> None:
    from zarrlayer.storage import ZipStore

    store = ZipStore(directory / "data.zip", mode="w", checkpoint_bytes=ZIP_CHECKPOINT)
    report("go")
    for i in range(N_CHUNKS * 2):
        store.set_sync(f"c/{i}", _new(i).tobytes())
        if store._archive.unsaved == 0:
            report("checkpoint", chunks=i + 1)
    report("closing")
    store.close()


def zip_new_check(directory: Path, events: list[dict[str, Any]]) -> tuple[str, str]:
    from zarrlayer.errors import StoreError
    from zarrlayer.storage import ZipStore

    path = directory / "data.zip"
    done = max((e["chunks"] for e in events if e["event"] == "checkpoint"), default=0)
    size = path.stat().st_size if path.exists() else 0
    try:
        reader = ZipStore(path, mode="r")
        keys = reader._archive.keys()
    except StoreError:
        if done:
            raise AssertionError(f"{done} entries were checkpointed, but the archive does not open") from None
        return "unreadable (killed before 1st checkpoint)", "no central directory"
    recovered = reader.recovered_bytes
    for key in keys:
        i = int(key.split("/")[1])
        if reader.get_sync(key) != _new(i).tobytes():
            raise AssertionError(f"entry {key} is torn")
    reader.close()
    if len(keys) < done or sorted(keys) != sorted(f"c/{i}" for i in range(len(keys))):
        raise AssertionError(f"expected entries c/0..c/{done - 1} at least, found {len(keys)}: {sorted(keys)[:5]}")
    kind = "complete" if len(keys) == N_CHUNKS * 2 else "checkpointed prefix kept"
    return kind, "torn tail dropped" if recovered else "no torn tail"


# -- DiskCacheStore: filling the cache from a LocalStore ------------------------------------


def cache_prepare(directory: Path) -> None:
    from zarrlayer.storage import LocalStore

    store = LocalStore(directory / "upstream")
    for i in range(N_CHUNKS):
        store.set_sync(f"c/{i}", _new(i).tobytes())


def _cache(directory: Path) -> Any:
    from zarrlayer.cache import DiskCacheStore
    from zarrlayer.storage import LocalStore

    return DiskCacheStore(LocalStore(directory / "upstream", read_only=True), directory / "cache", "64 MiB")


def cache_write(directory: Path, report: Report) -> None:
    cache = _cache(directory)
    report("go")
    for _ in range(2):
        for i in range(N_CHUNKS):
            cache.get_sync(f"c/{i}")
        cache.clear_cache()


def cache_check(directory: Path, events: list[dict[str, Any]]) -> tuple[str, str]:
    cache = _cache(directory)
    held = cache.stats()["entries"]
    for i in range(N_CHUNKS):
        value = cache.get_sync(f"c/{i}")
        if value is None or bytes(value) != _new(i).tobytes():
            raise AssertionError(f"the cache served a torn or wrong entry for c/{i}")
    cache.close()
    fill = "empty" if held == 0 else "full" if held >= N_CHUNKS else "partly filled"
    return "every value exact", f"cache {fill}"


# -- xarray: appending along time ----------------------------------------------------------

XR_START, XR_BLOCK, XR_APPENDS = 6, 4, 5


def _dataset(start: int, stop: int) -> Any:
    import xarray as xr

    t = np.arange(start, stop)
    return xr.Dataset(
        {
            "temp": (("time", "x"), t[:, None] * 10.0 + np.arange(3)[None, :]),
            "rain": (("time",), t * 0.5),
        },
        coords={"time": t, "x": np.arange(3)},
    )


def xarray_prepare(directory: Path) -> None:
    from zarrlayer.integrations.xarray import to_zarrlayer

    to_zarrlayer(_dataset(0, XR_START), str(directory / "ds.zarr"), mode="w")


def xarray_write(directory: Path, report: Report) -> None:
    from zarrlayer.integrations.xarray import to_zarrlayer

    warm = directory / "warm-up.zarr"  # a forked writer's first append pays one-time costs; kills should land in the real ones
    to_zarrlayer(_dataset(0, XR_START), str(warm), mode="w")
    to_zarrlayer(_dataset(XR_START, XR_START + XR_BLOCK), str(warm), append_dim="time")
    report("go")
    for k in range(XR_APPENDS):
        start = XR_START + k * XR_BLOCK
        to_zarrlayer(_dataset(start, start + XR_BLOCK), str(directory / "ds.zarr"), append_dim="time")
        report("appended", blocks=k + 1)


def _xarray_layout(directory: Path) -> str:
    """What each array's own metadata and the consolidated document say, and which time chunks exist."""
    import json

    root = directory / "ds.zarr"
    consolidated = json.loads((root / "zarr.json").read_text()).get("consolidated_metadata") or {}
    parts = []
    for name in ("temp", "rain", "time"):
        own = json.loads((root / name / "zarr.json").read_text())["shape"][0]
        listed = (consolidated.get("metadata") or {}).get(name, {}).get("shape", [None])[0]
        chunks = sorted(p.relative_to(root / name).as_posix() for p in (root / name / "c").rglob("*") if p.is_file())
        parts.append(f"{name}: shape {own} (consolidated {listed}), chunks {chunks}")
    return "; ".join(parts)


def _xarray_engines() -> tuple[str, ...]:
    """engine='zarrlayer', and xarray's own engine='zarr' where zarr-python is installed (both consolidated)."""
    try:
        import zarr  # noqa: F401
    except ImportError:
        return ("zarrlayer",)
    return ("zarrlayer", "zarr")


def xarray_check(directory: Path, events: list[dict[str, Any]]) -> tuple[str, str]:
    done = max((e["blocks"] for e in events if e["event"] == "appended"), default=0)
    seen = {engine: _xarray_read(directory, engine, done) for engine in _xarray_engines()}
    if len(set(seen.values())) != 1:
        raise AssertionError(f"the engines see different time lengths: {seen}; {_xarray_layout(directory)}")
    n = seen["zarrlayer"]
    return f"{(n - XR_START) // XR_BLOCK} of {XR_APPENDS} appends", _xarray_disagreement(directory)


def _xarray_disagreement(directory: Path) -> str:
    """'own metadata behind' when a kill fell between publishing the consolidated shapes and the arrays' own."""
    import json

    root = directory / "ds.zarr"
    consolidated = json.loads((root / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    behind = [
        name for name in ("temp", "rain", "time")
        if json.loads((root / name / "zarr.json").read_text())["shape"] != consolidated[name]["shape"]
    ]  # fmt: skip
    return f"own metadata behind: {len(behind)} of 3" if behind else "-"


def _xarray_read(directory: Path, engine: str, done: int) -> int:
    import xarray as xr

    try:
        ds = xr.open_dataset(str(directory / "ds.zarr"), engine=engine)
    except ValueError as e:
        raise AssertionError(
            f"xr.open_dataset(engine={engine!r}) fails after the kill: {e}; {_xarray_layout(directory)}"
        ) from e
    with ds:
        lengths = {name: ds[name].sizes["time"] for name in ("temp", "rain", "time")}
        if len(set(lengths.values())) != 1:
            raise AssertionError(f"engine={engine!r}: variables disagree on the time length: {lengths}")
        n = lengths["time"]
        if (n - XR_START) % XR_BLOCK or not XR_START + done * XR_BLOCK <= n <= XR_START + XR_APPENDS * XR_BLOCK:
            raise AssertionError(f"engine={engine!r}: time length {n} is not a whole number of appends (>= {done} done)")
        expected = _dataset(0, n)
        wrong = {
            name: int((ds[name].values != expected[name].values).sum())
            for name in ("temp", "rain", "time")
        }
        if any(wrong.values()):
            raise AssertionError(
                f"engine={engine!r}: time length {n} ({done} appends reported), but elements that differ from "
                f"the appended values: {wrong}; {_xarray_layout(directory)}"
            )
    return n


@dataclass(frozen=True)
class Scenario:
    name: str
    prepare: Callable[[Path], None]
    write: Callable[[Path, Report], None]
    check: Callable[[Path, list[dict[str, Any]]], tuple[str, str]]
    needs: tuple[str, ...] = ()


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("local", local_prepare, local_write, local_check),
        Scenario("zip-update", zip_update_prepare, zip_update_write, zip_update_check),
        Scenario("zip-new", zip_new_prepare, zip_new_write, zip_new_check),
        Scenario("disk-cache", cache_prepare, cache_write, cache_check, ("diskcache",)),
        Scenario("xarray-append", xarray_prepare, xarray_write, xarray_check, ("xarray",)),
    )
}

__all__ = ["SCENARIOS", "Scenario"]
