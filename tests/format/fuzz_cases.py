"""A seeded mutation fuzzer over whole hierarchies: documents, consolidated documents, chunks, shard indexes.

`run_cases(n, seed)` builds a few valid hierarchies in memory, mutates one stored object per
case (a JSON field replaced or removed, bytes cut, flipped or spliced, a shard index pointed
elsewhere), then opens and reads the result. Each case's outcome is 'ok' (opened and read),
'error' (a ZarrlayerError), or an escape (any other exception, a hang, or too much memory),
recorded with the case's seed so that it can be replayed alone.
"""

from __future__ import annotations

import copy
import json
import random
import signal
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import zarrlayer
from zarrlayer.errors import ZarrlayerError
from zarrlayer.storage import MemoryStore

__all__ = ["FuzzReport", "run_cases", "base_hierarchies", "run_one"]

CASE_SECONDS = 10.0
MEMORY_BOUND = 256 * 1024 * 1024
_READ_LIMIT = 1 << 20  # elements read per array: a whole small array, else a corner of a large one

_NASTY: list[Any] = [
    None, True, False, 0, -1, 1, 2, 3, 7, 2**31, 2**63, 2**64, -(2**63) - 1, 10**30, 1.5, -0.0, 1e308, 1e-320,
    "", "x", "NaN", "Infinity", "0x7fc00000", "0xZZ", "int32", "float64", "<f8", "|O", "bytes", "gzip",
    "sharding_indexed", "regular", "default", "v2", "/", ".", "..", "\x00", "é", "C", "F",
    [], [0], [-1], [1, 2], [2**40], [2**62, 2**62], [0.5], ["a"], [None], [[]], {}, {"name": "x"},
    {"name": "bytes"}, {"name": "gzip", "configuration": {"level": 99}}, {"id": "zlib", "level": -7},
    {"id": "blosc"}, {"id": "unknown"}, {"configuration": {}}, [[1, 2], [3]],
]


_NAMES = [
    "int8", "uint16", "int32", "int64", "float16", "float32", "float64", "complex64", "bool", "string", "bytes",
    "<i4", ">f8", "|b1", "<U3", "|S4", "|V8", "<M8[ns]", "<m8[s]", "gzip", "zstd", "blosc", "bytes",
    "crc32c", "transpose", "sharding_indexed", "vlen-utf8", "zlib", "lz4", "little", "big", "start", "end",
    "regular", "default", "v2", ".", "/", "C", "F", "array", "group",
]


@dataclass
class FuzzReport:
    """What a fuzz run saw: cases run, outcome counts, and each escape's seed and error."""

    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    escapes: list[tuple[int, str, str]] = field(default_factory=list)
    worst_seconds: float = 0.0
    worst_bytes: int = 0


def _hierarchy(build: Callable[[MemoryStore], None]) -> dict[str, bytes]:
    store = MemoryStore()
    build(store)
    return dict(store.store_dict)


def _v3_group(store: MemoryStore) -> None:
    root = zarrlayer.create_group(store=store, attributes={"title": "fuzz"})
    data = np.arange(64, dtype="float32").reshape(8, 8)
    root.create_array("plain", shape=(8, 8), chunks=(4, 4), dtype="float32", compressors=None)[:] = data
    root.create_array("gz", shape=(8, 8), chunks=(4, 4), dtype="int16",
                      compressors=[{"name": "gzip", "configuration": {"level": 1}}])[:] = data.astype("int16")
    root.create_array("zs", shape=(10,), chunks=(4,), dtype="uint8",
                      compressors=[{"name": "zstd", "configuration": {"level": 1}}])[:] = np.arange(10)
    root.create_array("sharded", shape=(8, 8), chunks=(2, 2), shards=(4, 8), dtype="int32")[:] = data.astype("int32")
    root.create_group("sub").create_array("s", shape=(6,), chunks=(3,), dtype="float64", fill_value=np.nan)[:3] = 1.5
    zarrlayer.consolidate_metadata(store)


def _v2_group(store: MemoryStore) -> None:
    root = zarrlayer.create_group(store=store, zarr_format=2, attributes={"title": "fuzz"})
    data = np.arange(64, dtype="<f8").reshape(8, 8)
    root.create_array("zl", shape=(8, 8), chunks=(4, 4), dtype="<f8", zarr_format=2,
                      compressors=[{"id": "zlib", "level": 1}])[:] = data
    root.create_array("bl", shape=(9,), chunks=(4,), dtype="<i4", zarr_format=2,
                      compressors=[{"id": "blosc", "cname": "lz4", "clevel": 1, "shuffle": 1}])[:] = np.arange(9)
    root.create_array("raw", shape=(5,), chunks=(5,), dtype=">u2", zarr_format=2, compressors=None)[:] = 3
    root.create_group("sub").create_array("t", shape=(4,), chunks=(2,), dtype="<i8", zarr_format=2)[:] = 9
    zarrlayer.consolidate_metadata(store)


def _v3_array(store: MemoryStore) -> None:
    zarrlayer.create_array(store=store, shape=(12, 5), chunks=(4, 5), shards=(12, 5), dtype="int64",
                           compressors=[{"name": "zstd", "configuration": {"level": 1}}])[:] = np.arange(60).reshape(12, 5)


def base_hierarchies() -> list[dict[str, bytes]]:
    """The valid starting points: a consolidated v3 group, a consolidated v2 group, a sharded v3 array."""
    return [_hierarchy(_v3_group), _hierarchy(_v2_group), _hierarchy(_v3_array)]


def json_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path (tuple of keys and indices) into a JSON value, the empty path first."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from json_paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from json_paths(v, (*prefix, i))


def _mutate_json(doc: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(doc)
    paths = list(json_paths(doc))
    path = rng.choice(paths[1:] or paths)
    if not path:
        return rng.choice(_NASTY)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    roll = rng.random()
    current = parent[path[-1]]
    if roll < 0.35 and type(current) is int:
        # a plausible number: the document still parses, and disagrees with the stored data
        parent[path[-1]] = rng.choice([0, 1, 2, 3, 5, 8, 16, 1000, current + 1, max(current - 1, 0), current * 2])
    elif roll < 0.45 and isinstance(current, str):
        parent[path[-1]] = rng.choice(_NAMES)
    elif roll < 0.55 and isinstance(parent, dict):
        del parent[path[-1]]
    elif roll < 0.62:
        parent[path[-1]] = _deep(rng.randint(2, 50))
    else:
        parent[path[-1]] = copy.deepcopy(rng.choice(_NASTY))
    return doc


def _deep(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def _mutate_bytes(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    roll = rng.random()
    if roll < 0.25 and data:
        return bytes(data[: rng.randrange(len(data))])
    if roll < 0.5 and data:
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        return bytes(data)
    if roll < 0.65:
        return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 8, 64, 300])))
    if roll < 0.8 and len(data) >= 16:
        # a shard index lies at the end: point an entry somewhere else
        i = len(data) - rng.choice([4, 8, 12, 16, 20, 24, 36])
        value = rng.choice([0, 1, 2**63, 2**64 - 1, 2**64 - 2, len(data), 2**40])
        data[max(i, 0) : max(i, 0) + 8] = value.to_bytes(8, "little")
        return bytes(data)
    i = rng.randrange(len(data) + 1)
    return bytes(data[:i] + bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 16))) + data[i:])


def _mutate(store: dict[str, bytes], rng: random.Random) -> str:
    """Change one stored object (sometimes two); returns a short description."""
    key = rng.choice(sorted(store))
    name = key.rsplit("/", 1)[-1]
    raw = store[key]
    if name in ("zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata") and rng.random() < 0.8:
        try:
            doc = json.loads(raw)
        except ValueError:
            store[key] = _mutate_bytes(raw, rng)
            return f"bytes of {key}"
        store[key] = json.dumps(_mutate_json(doc, rng)).encode()
        if rng.random() < 0.1:
            store[key] = store[key].replace(b"[", b"[" * 200, 1)
        return f"field of {key}"
    store[key] = _mutate_bytes(raw, rng)
    return f"bytes of {key}"


class _Hang(Exception):
    pass


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def _alarm(signum: int, frame: Any) -> None:
        raise _Hang(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _read_node(node: Any) -> None:
    if isinstance(node, zarrlayer.Group):
        dict(node.attrs)
        for _, child in node.members(max_depth=None):
            _read_node(child)
        return
    dict(node.attrs)
    shape = node.shape
    if int(np.prod(shape, dtype=np.float64)) <= _READ_LIMIT:
        node[...]
    else:
        node[tuple(slice(0, min(s, 4)) for s in shape)]


def run_one(store_dict: dict[str, bytes]) -> None:
    """Open the hierarchy in `store_dict` (any node kind) and read everything it holds (bounded)."""
    store = MemoryStore(store_dict, read_only=True)
    _read_node(zarrlayer.open(store, mode="r"))
    for consolidated in (True, False):
        try:
            group = zarrlayer.open_group(store, mode="r", use_consolidated=consolidated)
        except ZarrlayerError:
            continue
        _read_node(group)


def run_cases(count: int, seed: int = 0, *, memory: bool = True) -> FuzzReport:
    """Run `count` seeded cases; each case is replayable with `replay(seed + i)`."""
    bases = base_hierarchies()
    report = FuzzReport()
    if memory:
        tracemalloc.start()
    try:
        for i in range(count):
            outcome, detail = replay(seed + i, bases, memory=memory, report=report)
            report.cases += 1
            report.outcomes[outcome] += 1
            if outcome not in ("ok", "error"):
                report.escapes.append((seed + i, outcome, detail))
    finally:
        if memory:
            tracemalloc.stop()
    return report


def replay(case_seed: int, bases: list[dict[str, bytes]] | None = None, *, memory: bool = False,
           report: FuzzReport | None = None) -> tuple[str, str]:
    """(outcome, detail) of the case `case_seed`: 'ok', 'error', 'escape', 'hang' or 'memory'."""
    rng = random.Random(case_seed)
    bases = bases or base_hierarchies()
    store = dict(bases[case_seed % len(bases)])
    what = _mutate(store, rng)
    if rng.random() < 0.3:
        what += "; " + _mutate(store, rng)
    if memory:
        tracemalloc.reset_peak()
    start = time.perf_counter()
    try:
        with _deadline(CASE_SECONDS):
            run_one(store)
        outcome, detail = "ok", what
    except ZarrlayerError as exc:
        outcome, detail = "error", f"{what}: {exc}"
    except _Hang as exc:
        outcome, detail = "hang", f"{what}: {exc}"
    except Exception as exc:  # noqa: BLE001 - an escape is what the fuzzer looks for
        outcome, detail = "escape", f"{what}: {type(exc).__name__}: {exc}"[:500]
    elapsed = time.perf_counter() - start
    if report is not None:
        report.worst_seconds = max(report.worst_seconds, elapsed)
    if memory:
        peak = tracemalloc.get_traced_memory()[1]
        if report is not None:
            report.worst_bytes = max(report.worst_bytes, peak)
        if peak > MEMORY_BOUND and outcome in ("ok", "error"):
            outcome, detail = "memory", f"{what}: peak {peak} bytes"
    return outcome, detail


def _vm_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str]) -> None:
    """`python fuzz_cases.py CASES SEED [HEADROOM_MIB]`: run the cases under an address-space bound, print JSON."""
    import resource
    import sys

    count, seed = int(argv[0]), int(argv[1])
    headroom = int(argv[2]) if len(argv) > 2 else 1024
    bases = base_hierarchies()
    for base in bases:  # warm up: pools, codecs and caches exist before the bound is set
        run_one(dict(base))
    limit = _vm_bytes() + headroom * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    report = FuzzReport()
    for i in range(count):
        try:
            outcome, detail = replay(seed + i, bases, report=report)
        except MemoryError as exc:
            outcome, detail = "memory", f"MemoryError {exc}"
        report.cases += 1
        report.outcomes[outcome] += 1
        if outcome not in ("ok", "error"):
            report.escapes.append((seed + i, outcome, detail))
    result = {
        "cases": report.cases, "outcomes": dict(report.outcomes), "escapes": report.escapes[:50],
        "worst_seconds": round(report.worst_seconds, 3), "headroom_mib": headroom,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
