"""xarray and dask through engine='zarrlayer' against engine='zarr' (zarr-python, and with zarrs), same run.

    python benchmarks/bench_xarray_dask.py [--quick] [--runs N] [--size MIB] [--variables N] [--cases open,load,mean]

Cases: (1) open a consolidated 100-variable dataset (metadata, indexes); (2) open it and
load every variable; (3) open a dataset lazily with chunks={} and compute the mean of one
big array with dask's threaded scheduler (`--size` MiB, by default 1024: the 1 GiB of the
brief; `--size 256` for a shorter run; 4 MiB chunks). Stores are written by zarr-python
through xarray; the engines' answers are checked against each other first. The peer of
each case is the faster of zarr-python and zarr-python + zarrs (target 1.0x);
tensorstore has no xarray engine and is listed as unable to run these cases.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    CaseResult,
    Contestant,
    add_common_args,
    format_table,
    print_flush,
    print_progress,
    resolve_runs,
    run_case,
    save_results,
)

__all__ = ["main", "many_variables", "big_array"]

NAME = "xarray_dask"
ENGINES = {"zarrlayer": "zarrlayer", "zarr-python": "zarr", "zarrs": "zarr"}
"""Contestant -> xarray engine; `zarrs` is engine='zarr' with zarr-python's codec pipeline set to zarrs."""
CANNOT = {"tensorstore": "no xarray backend engine (tensorstore is not an xarray engine; xarray-tensorstore is a separate project)"}
ZARRS = {"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"}
_FAST_RUNS = 21


def many_variables(n: int, shape: tuple[int, int] = (48, 64)):
    """A dataset of `n` float32 variables on (time, x), CF-encoded times, a few attributes each."""
    import pandas as pd
    import xarray as xr

    rng = np.random.default_rng(0)
    data = {
        f"var{i:03d}": (("time", "x"), rng.random(shape, dtype="f4"), {"units": "1", "index": i})
        for i in range(n)
    }
    coords = {"time": pd.date_range("2000-01-01", periods=shape[0], freq="h"), "x": np.arange(shape[1], dtype="f8")}
    return xr.Dataset(data, coords=coords, attrs={"title": "many variables"})


def _smooth_block(block_info=None):
    """One (4, 256, 256) block of a smooth field with a little noise, rounded: compresses like real data."""
    info = block_info[None]
    (t0, t1), (y0, y1), (x0, x1) = info["array-location"]
    t = np.arange(t0, t1, dtype="f4")[:, None, None]
    y = np.arange(y0, y1, dtype="f4")[None, :, None] * (8 * np.pi / 512)
    x = np.arange(x0, x1, dtype="f4")[None, None, :] * (6 * np.pi / 512)
    noise = np.random.default_rng(int(t0) * 7 + y0 + x0).normal(0, 0.5, (t1 - t0, y1 - y0, x1 - x0))
    return np.round(15 + 10 * np.sin(y + t / 50) * np.cos(x) + noise, 2).astype("f4")


def big_array(mib: int):
    """A (time, y, x) float32 dataset of about `mib` MiB in 4 MiB chunks of (16, 256, 256)."""
    import dask.array as da
    import xarray as xr

    steps = max(16, (mib * 2**20) // (512 * 512 * 4))
    chunks = ((16,) * (steps // 16) + ((steps % 16,) if steps % 16 else ()), (256, 256), (256, 256))
    data = da.map_blocks(_smooth_block, chunks=chunks, dtype="f4", meta=np.empty((0, 0, 0), "f4"))
    ds = xr.Dataset({"v": (("time", "y", "x"), data)}, coords={"time": np.arange(steps)})
    ds["v"].encoding = {"chunks": (16, 256, 256)}
    return ds


def _write(ds, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(str(path), mode="w", zarr_format=3, consolidated=True)


def _open(path: Path, engine: str, **kwargs):
    import xarray as xr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_dataset(str(path), engine=engine, **kwargs)


def _mean(path: Path, engine: str) -> float:
    import dask

    with dask.config.set(scheduler="threads"):
        return float(_open(path, engine, chunks={})["v"].mean().compute())


def _check(path: Path) -> None:
    import xarray as xr

    xr.testing.assert_identical(_open(path, "zarrlayer").load(), _open(path, "zarr").load())


def _with_zarrs(run):
    """`run` with zarr-python's codec pipeline set to zarrs for its whole duration (compute included)."""
    import zarr

    def wrapped():
        with zarr.config.set(ZARRS):
            return run()

    return wrapped


def _case(label: str, make_run, runs: int, warmup: int, target: float, units: int | None = None) -> CaseResult:
    contestants = [
        Contestant(name, _with_zarrs(make_run(engine)) if name == "zarrs" else make_run(engine))
        for name, engine in ENGINES.items()
    ]
    result = run_case(NAME, label, contestants, runs=runs, warmup=warmup, target=target, units=units,
                      unit_name="variable")
    peers = [n for n in ENGINES if n != "zarrlayer" and result.samples.get(n)]
    result.peer = min(peers, key=lambda n: sorted(result.samples[n])[len(result.samples[n]) // 2])
    result.notes["cannot"] = CANNOT
    return result


def main(argv: list[str] | None = None) -> int:
    """Write the stores with zarr-python, check both engines agree, time the cases, print and save."""
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--size", type=int, default=1024, help="MiB of the array the dask mean reads (1024 = 1 GiB)")
    parser.add_argument("--variables", type=int, default=100, help="variables of the open/load dataset")
    parser.add_argument("--cases", default="open,load,mean", help="comma-separated cases to run (open, load, mean)")
    args = parser.parse_args(argv)
    runs, warmup = resolve_runs(args)
    runs = max(runs, 2) if args.quick else max(runs, 5)
    # the open/load cases take milliseconds: more samples and warm-ups keep one GC pause
    # or a cold page from deciding the median, at a cost of a second or two
    fast_runs, fast_warmup = (runs, warmup) if args.quick else (max(runs, _FAST_RUNS), max(warmup, 3))
    size = 8 if args.quick else args.size
    n_vars = 10 if args.quick else args.variables
    results: list[CaseResult] = []
    root = Path(tempfile.mkdtemp(prefix="zarrlayer-bench-xr-"))
    try:
        many, big = root / "many.zarr", root / "big.zarr"
        wanted = {c.strip() for c in args.cases.split(",") if c.strip()}
        if wanted & {"open", "load"}:
            _write(many_variables(n_vars), many)
            _check(many)
        if "open" in wanted:
            results.append(_case(f"open consolidated dataset of {n_vars} variables",
                                 lambda e: lambda: _open(many, e), fast_runs, fast_warmup, 1.0, n_vars))
            print_progress(results[-1])
        if "load" in wanted:
            results.append(_case(f"open + load {n_vars} variables",
                                 lambda e: lambda: _open(many, e).load(), fast_runs, fast_warmup, 1.0, n_vars))
            print_progress(results[-1])
        if "mean" in wanted:
            _write(big_array(size), big)
            means = {name: _mean(big, engine) for name, engine in ENGINES.items()}
            if not np.isclose(means["zarrlayer"], means["zarr-python"], rtol=1e-6):
                raise AssertionError(f"the engines disagree on the mean: {means}")
            results.append(_case(f"dask mean of a {size} MiB array (4 MiB chunks, chunks={{}})",
                                 lambda e: lambda: _mean(big, e), runs, warmup, 1.0))
            print_progress(results[-1])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_flush(f"\n{NAME}: medians of interleaved runs: {fast_runs} (after {fast_warmup} warm-up) for open/load, "
                f"{runs} (after {warmup}) for the mean")
    print_flush(format_table(results))
    path = save_results(NAME, results, extra={"size_mib": size, "variables": n_vars, "quick": args.quick},
                        directory=args.results_dir)
    print_flush(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
