"""Seeded mutation fuzzing of whole hierarchies: only ZarrlayerErrors, no hang, bounded memory.

At least 1,000 cases over v2 and v3 documents, consolidated documents, chunks and shard
indexes (see fuzz_cases.py), run in a child process whose address space is bounded, so that
an allocation driven by a hostile document fails there instead of swapping this machine.
`ZARRLAYER_FUZZ_CASES=N ZARRLAYER_FUZZ_SEED=S` runs a longer or different campaign
(scripts/fuzz-soak runs 50,000); a failing case is replayed alone with fuzz_cases.replay(seed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zarrlayer.errors import ZarrlayerError

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))

import fuzz_cases  # noqa: E402


def _campaign(cases: int, seed: int, headroom_mib: int = 512) -> dict:
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    done = subprocess.run(
        [sys.executable, str(_HERE / "fuzz_cases.py"), str(cases), str(seed), str(headroom_mib)],
        capture_output=True, text=True, env=env, timeout=max(120, cases // 10), check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_fuzzed_hierarchies_raise_only_zarrlayer_errors() -> None:
    cases = int(os.environ.get("ZARRLAYER_FUZZ_CASES", "1000"))
    seed = int(os.environ.get("ZARRLAYER_FUZZ_SEED", "0"))
    report = _campaign(cases, seed)
    print(f"fuzz: {report['cases']} cases from seed {seed}: {report['outcomes']}, "
          f"slowest {report['worst_seconds']} s, peak RSS {report['max_rss_mib']} MiB")
    assert report["cases"] == cases >= 1000
    assert report["escapes"] == []
    assert set(report["outcomes"]) <= {"ok", "error"}
    assert report["outcomes"].get("ok", 0) >= cases // 50  # mutations leave enough readable cases
    assert report["worst_seconds"] < fuzz_cases.CASE_SECONDS


@pytest.mark.parametrize(
    ("key_of", "value"),
    [
        (".zarray", b"[" * 100_000),  # nesting past the recursion limit
        ("zarr.json", b"[" * 100_000),
        (".zmetadata", b'{"zarr_consolidated_format": 1, "metadata": ' + b"[" * 100_000),
    ],
)
def test_deep_nesting_is_a_metadata_error(key_of: str, value: bytes) -> None:
    bases = fuzz_cases.base_hierarchies()
    base = bases[1] if key_of.startswith(".") else bases[0]
    store = dict(base)
    key = next(k for k in sorted(store) if k.endswith(key_of))
    store[key] = value
    with pytest.raises(ZarrlayerError):
        fuzz_cases.run_one(store)


@pytest.mark.parametrize("shape_field", ["shape", "chunks"])
def test_huge_extents_are_metadata_errors(shape_field: str) -> None:
    base = fuzz_cases.base_hierarchies()[1]
    store = dict(base)
    doc = json.loads(store["zl/.zarray"])
    doc[shape_field] = [4, 10**30]
    store["zl/.zarray"] = json.dumps(doc).encode()
    with pytest.raises(ZarrlayerError, match=shape_field):
        fuzz_cases.run_one(store)


def test_chunks_too_big_to_allocate_are_a_metadata_error() -> None:
    """A document declaring 64 GiB chunks over an 8x8 array: the read fails cleanly, naming the sizes."""
    base = fuzz_cases.base_hierarchies()[1]
    store = dict(base)
    doc = json.loads(store["zl/.zarray"])
    doc["chunks"] = [4, 2**31]
    store["zl/.zarray"] = json.dumps(doc).encode()
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    code = (
        "import sys, json, resource; sys.path.insert(0, sys.argv[1]); import fuzz_cases, zarrlayer;"
        "from zarrlayer.storage import MemoryStore;"
        "store = {k: bytes.fromhex(v) for k, v in json.loads(sys.stdin.read()).items()};"
        "lim = fuzz_cases._vm_bytes() + (512 << 20); resource.setrlimit(resource.RLIMIT_AS, (lim, lim));"
        "a = zarrlayer.open_group(MemoryStore(store), mode='r', use_consolidated=False)['zl']\n"
        "try:\n    a[...]\nexcept zarrlayer.errors.MetadataError as e:\n    print('MetadataError', e)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(_HERE)], input=json.dumps({k: v.hex() for k, v in store.items()}),
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("MetadataError") and "64.0 GiB" in done.stdout and "'zl'" in done.stdout
