"""The chunk engine against zarr-python and against a raw loop (file read + numcodecs decode + copy).

    python benchmarks/bench_engine.py [--quick] [--runs N]

Cases: full reads of big (256x256) and small (32x32) chunks, a sharded array (full and a
window), writes of the first two, opening a consolidated group of 200 arrays, and the
peak memory of the big read (in a fresh subprocess per library). Both libraries read the
same stores, written by zarr-python; every result is checked against the source data
before any timing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
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
import raw_loop  # noqa: E402

__all__ = ["Sizes", "main", "make_data"]

NAME = "engine"
_SKIP: set[str] = set()
_PROFILE_DIR: Path | None = None
_QUICK = False
BLOSC_LZ4 = {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4, "blocksize": 0}}


@dataclass(frozen=True)
class Sizes:
    """Shapes of every case; `full()` is the brief's, `quick()` tiny for the smoke test."""

    big: tuple[int, int]
    big_chunks: tuple[int, int]
    small: tuple[int, int]
    small_chunks: tuple[int, int]
    sharded: tuple[int, int]
    shards: tuple[int, int]
    inner: tuple[int, int]
    window: tuple[slice, slice]
    group_arrays: int

    @classmethod
    def full(cls) -> Sizes:
        return cls((4096, 4096), (256, 256), (1024, 1024), (32, 32), (1024, 1024), (512, 512),
                   (32, 32), (slice(100, 900), slice(37, 611)), 200)

    @classmethod
    def quick(cls) -> Sizes:
        return cls((256, 256), (64, 64), (128, 128), (16, 16), (256, 256), (128, 128),
                   (16, 16), (slice(25, 225), slice(9, 153)), 10)


def make_data(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A smooth field with a little noise, rounded: compresses like real gridded data, not like noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 8 * np.pi, shape[0], dtype=np.float32)[:, None]
    x = np.linspace(0, 6 * np.pi, shape[1], dtype=np.float32)[None, :]
    field = 15 + 10 * np.sin(y) * np.cos(x) + rng.normal(0, 0.5, shape).astype(np.float32)
    return np.round(field, 2).astype(np.float32)


# -- the two libraries ------------------------------------------------------------------


def _zarr_write(path: Path, data: np.ndarray, chunks, shards=None) -> None:
    import zarr

    array = zarr.create_array(store=str(path), shape=data.shape, chunks=chunks, shards=shards,
                              dtype=data.dtype, compressors=BLOSC_LZ4, overwrite=True)
    array[...] = data


def _zarrlayer_write(path: Path, data: np.ndarray, chunks, shards=None) -> None:
    import zarrlayer

    array = zarrlayer.create_array(store=str(path), shape=data.shape, chunks=chunks, shards=shards,
                                   dtype=data.dtype, compressors=BLOSC_LZ4, overwrite=True)
    array[...] = data


def _zarr_read(path: Path, selection=Ellipsis) -> np.ndarray:
    import zarr

    return zarr.open_array(str(path), mode="r")[selection]


def _zarrlayer_read(path: Path, selection=Ellipsis) -> np.ndarray:
    import zarrlayer

    return zarrlayer.open_array(str(path), mode="r")[selection]


def _zarr_list_group(path: Path) -> list:
    import zarr

    return sorted((name, a.shape) for name, a in zarr.open_group(str(path), mode="r").arrays())


def _zarrlayer_list_group(path: Path) -> list:
    import zarrlayer

    return sorted((name, a.shape) for name, a in zarrlayer.open_group(str(path), mode="r").arrays())


# -- cases --------------------------------------------------------------------------------


def _check(name: str, got: object, expected: object) -> None:
    equal = np.array_equal(got, expected) if isinstance(expected, np.ndarray) else got == expected
    if not equal:
        raise AssertionError(f"{name}: result differs from the expected data; refusing to time it")


def _timed(label: str, contestants: list[Contestant], **options) -> CaseResult:
    if _QUICK:  # the targets are for the full sizes; tiny ones only show that everything runs
        options = {**options, "target": None, "floor_target": None}
    result = run_case(NAME, label, contestants, **options)
    if _PROFILE_DIR is not None:
        _profile(label, next(c for c in contestants if c.name == "zarrlayer"))
    return result


def _profile(label: str, contestant: Contestant) -> None:
    """Run zarrlayer's side of a case under pyinstrument and save the call tree next to the results."""
    from pyinstrument import Profiler

    if contestant.setup is not None:
        contestant.setup()
    profiler = Profiler(interval=0.0002)
    with profiler:
        contestant.run()
    slug = "".join(ch if ch.isalnum() else "-" for ch in label).strip("-")
    path = _PROFILE_DIR / f"profile-{slug}.txt"
    path.write_text(profiler.output_text(unicode=True, show_all=False))
    print_flush(f"  profile: {path}")


def _kept(contestants: list[Contestant]) -> list[Contestant]:
    return [c for c in contestants if c.name not in _SKIP]


def _read_case(label, path, data, chunks, shards, selection, runs, warmup, **targets) -> CaseResult:
    expected = data[selection]
    layout = raw_loop.Layout(path, data.shape, chunks, shards, data.dtype)
    contestants = [
        Contestant("zarrlayer", lambda: _zarrlayer_read(path, selection)),
        Contestant("zarr-python", lambda: _zarr_read(path, selection)),
        Contestant("raw loop", lambda: raw_loop.read(layout, selection)),
    ]
    contestants = _kept(contestants)
    for c in contestants:
        _check(f"{label} / {c.name}", c.run(), expected)
    units = raw_loop.count_chunks(layout, selection)
    return _timed(label, contestants, runs=runs, warmup=warmup, floor="raw loop", units=units, **targets)


def _write_case(label, root, data, chunks, runs, warmup, **targets) -> CaseResult:
    paths = {name: root / f"write-{name}" for name in ("zarrlayer", "zarr-python", "raw")}

    def clear(path: Path) -> Callable[[], None]:
        return lambda: shutil.rmtree(path, ignore_errors=True)

    layout = raw_loop.Layout(paths["raw"], data.shape, chunks, None, data.dtype)
    contestants = [
        Contestant("zarrlayer", lambda: _zarrlayer_write(paths["zarrlayer"], data, chunks), clear(paths["zarrlayer"])),
        Contestant("zarr-python", lambda: _zarr_write(paths["zarr-python"], data, chunks), clear(paths["zarr-python"])),
        Contestant("raw loop", lambda: raw_loop.write(layout, data), clear(paths["raw"])),
    ]
    contestants = _kept(contestants)
    for c in contestants:
        c.setup()
        c.run()
    if "zarrlayer" not in _SKIP:
        _check(f"{label} / zarrlayer written, zarr-python read", _zarr_read(paths["zarrlayer"]), data)
    _check(f"{label} / raw loop written", raw_loop.read(layout, Ellipsis), data)
    units = raw_loop.count_chunks(layout, Ellipsis)
    return _timed(label, contestants, runs=runs, warmup=warmup, floor="raw loop", units=units, **targets)


def _group_case(label, path, n_arrays, runs, warmup, **targets) -> CaseResult:
    import zarr

    group = zarr.open_group(str(path), mode="w")
    for i in range(n_arrays):
        array = group.create_array(f"var{i:03d}", shape=(100, 50), chunks=(10, 50), dtype="float32")
        array.attrs.update({"units": "K", "long_name": f"variable {i}"})
    zarr.consolidate_metadata(str(path))
    contestants = [
        Contestant("zarrlayer", lambda: _zarrlayer_list_group(path)),
        Contestant("zarr-python", lambda: _zarr_list_group(path)),
    ]
    contestants = _kept(contestants)
    expected = _zarr_list_group(path)
    for c in contestants:
        _check(f"{label} / {c.name}", c.run(), expected)
    return _timed(label, contestants, runs=runs, warmup=warmup, units=n_arrays, unit_name="array", **targets)


# -- peak memory ---------------------------------------------------------------------------


def _memory_probe(library: str, path: str, method: str) -> None:
    """Child-process side: read the whole array once and print its peak memory (bytes) as JSON.

    `traced` is tracemalloc's peak (Python and numpy allocations); `rss` the growth of the
    peak resident set over the resident set before the read (everything, C buffers too).
    """
    import tracemalloc

    import psutil

    read = {"zarrlayer": _zarrlayer_read, "zarr-python": _zarr_read}[library]
    read(Path(path), (slice(0, 1), slice(0, 1)))  # imports, loop and thread pool start outside the measurement
    if method == "traced":
        tracemalloc.start()
        result = read(Path(path))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        _reset_peak_rss()
        rss_before = psutil.Process().memory_info().rss
        result = read(Path(path))
        peak = max(_peak_rss() - rss_before, 0)
    print(json.dumps({"nbytes": int(result.nbytes), "peak": peak}))


def _reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0), so that the peak is the read's own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_rss() -> int:
    """Peak resident set of this process's memory map (VmHWM; ru_maxrss would include the forking parent's)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _probe(library: str, path: Path, method: str) -> int:
    proc = subprocess.run([sys.executable, __file__, "--memory-probe", library, str(path), method],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak"]


def _memory_case(path: Path, nbytes: int) -> dict:
    out = {"array_nbytes": nbytes}
    for library in ("zarrlayer", "zarr-python"):
        if library in _SKIP:
            continue
        traced, rss = _probe(library, path, "traced"), _probe(library, path, "rss")
        out[library] = {
            "traced_peak_bytes": traced,
            "traced_peak_ratio": traced / nbytes,
            "rss_growth_bytes": rss,
            "rss_growth_ratio": rss / nbytes,
        }
    out["target_ratio"] = 1.3
    out["met"] = out["zarrlayer"]["traced_peak_ratio"] <= 1.3 if "zarrlayer" in out and not _QUICK else None
    return out


def _format_memory(memory: dict) -> str:
    lines = [f"peak memory of the big full read (array {memory['array_nbytes'] / 2**20:.1f} MiB; target <= 1.3x):"]
    for library in ("zarrlayer", "zarr-python"):
        if library not in memory:
            continue
        m = memory[library]
        lines.append(f"  {library:12s} tracemalloc peak {m['traced_peak_ratio']:.2f}x"
                     f" ({m['traced_peak_bytes'] / 2**20:.1f} MiB), RSS growth {m['rss_growth_ratio']:.2f}x")
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Build the stores, check every contestant's answer, time the cases, print and save."""
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--memory-probe", nargs=3, metavar=("LIBRARY", "PATH", "METHOD"), help=argparse.SUPPRESS)
    parser.add_argument("--cases", default="", help="comma-separated case numbers to run, 'mem' for memory (default all)")
    parser.add_argument("--profile", action="store_true", help="also save a pyinstrument call tree of zarrlayer per case")
    parser.add_argument("--skip", default="", help="comma-separated contestants to leave out (for profiling)")
    args = parser.parse_args(argv)
    if args.memory_probe:
        _memory_probe(*args.memory_probe)
        return 0
    runs, warmup = resolve_runs(args)
    warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
    global _PROFILE_DIR, _QUICK
    _PROFILE_DIR = args.results_dir if args.profile else None
    _QUICK = args.quick
    args.results_dir.mkdir(parents=True, exist_ok=True)
    _SKIP.update(name.strip() for name in args.skip.split(",") if name.strip())
    sizes = Sizes.quick() if args.quick else Sizes.full()
    wanted = {c.strip() for c in args.cases.split(",") if c.strip()} or {"1", "2", "3", "4", "5", "mem"}
    results: list[CaseResult] = []
    memory = None
    with tempfile.TemporaryDirectory(prefix="zarrlayer-bench-") as tmp:
        root = Path(tmp)
        big, small, sharded = make_data(sizes.big), make_data(sizes.small, 1), make_data(sizes.sharded, 2)
        big_label = f"read {_shape(sizes.big)} in {_shape(sizes.big_chunks)} (blosc lz4)"
        small_label = f"read {_shape(sizes.small)} in {_shape(sizes.small_chunks)}"
        if wanted & {"1", "mem"}:
            _zarr_write(root / "big", big, sizes.big_chunks)
        if "1" in wanted:
            results.append(_read_case(big_label, root / "big", big, sizes.big_chunks, None, Ellipsis,
                                      runs, warmup, target=2.5, floor_target=1.5))
            print_progress(results[-1])
        if "2" in wanted:
            _zarr_write(root / "small", small, sizes.small_chunks)
            results.append(_read_case(small_label, root / "small", small, sizes.small_chunks, None, Ellipsis,
                                      runs, warmup, target=8.0))
            print_progress(results[-1])
        if "3" in wanted:
            _zarr_write(root / "sharded", sharded, sizes.inner, sizes.shards)
            where = f"{_shape(sizes.shards)} shards of {_shape(sizes.inner)}"
            results.append(_read_case(f"sharded full read, {where}", root / "sharded", sharded, sizes.inner,
                                      sizes.shards, Ellipsis, runs, warmup, target=5.0))
            print_progress(results[-1])
            window = ", ".join(f"{s.start}:{s.stop}" for s in sizes.window)
            results.append(_read_case(f"sharded window [{window}]", root / "sharded", sharded, sizes.inner,
                                      sizes.shards, sizes.window, runs, warmup, target=4.0))
            print_progress(results[-1])
        if "4" in wanted:
            results.append(_write_case(f"write {_shape(sizes.big)} in {_shape(sizes.big_chunks)}", root, big,
                                       sizes.big_chunks, runs, warmup, target=2.0))
            print_progress(results[-1])
            results.append(_write_case(f"write {_shape(sizes.small)} in {_shape(sizes.small_chunks)}", root, small,
                                       sizes.small_chunks, runs, warmup, target=2.0))
            print_progress(results[-1])
        if "5" in wanted:
            results.append(_group_case(f"open consolidated group of {sizes.group_arrays} arrays + list",
                                       root / "group", sizes.group_arrays, runs, warmup, target=5.0))
            print_progress(results[-1])
        if "mem" in wanted:
            memory = _memory_case(root / "big", big.nbytes)
    if results:
        print_flush(f"\n{NAME}: medians of {runs} interleaved runs (after {warmup} warm-up)")
        print_flush(format_table(results))
    if memory is not None:
        print_flush(_format_memory(memory))
    lines = _format_memory(memory).splitlines() if memory is not None else []
    path = save_results(NAME, results, extra={"memory": memory, "quick": args.quick, "summary_lines": lines},
                        directory=args.results_dir)
    print_flush(f"results: {path}")
    return 0


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


if __name__ == "__main__":
    sys.exit(main())
