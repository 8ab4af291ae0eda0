"""Writers killed with SIGKILL at random (seeded) moments; a reopen finds only old or new values.

Issue 13, point 6: LocalStore chunk rewrites, a ZipStore update (mode 'a') and a new ZipStore
archive with checkpoints, a DiskCacheStore fill over a LocalStore, and an xarray append. Each
scenario's invariants live in crash_scenarios.py; `scripts/crash-soak` runs many more kills.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crash_harness import Zygote, run_trials  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the harness forks writers (POSIX only)")

KILLS = {"local": 5, "zip-update": 6, "zip-new": 6, "disk-cache": 3, "xarray-append": 4}


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    with Zygote() as z:
        yield z


@pytest.mark.parametrize(
    "scenario",
    [
        "local",
        "zip-update",
        "zip-new",
        "disk-cache",
        "xarray-append",
    ],
)
def test_killed_writer_leaves_old_or_new_values(zygote: Zygote, scenario: str, tmp_path: Path) -> None:
    if scenario == "disk-cache":
        pytest.importorskip("diskcache")
    if scenario == "xarray-append":
        pytest.importorskip("xarray")
    trials = run_trials(scenario, KILLS[scenario], seed=13, zygote=zygote, workdir=tmp_path)
    failures = [f"kill at {t.delay:.3f}s: {t.error}" for t in trials if t.error]
    assert failures == [], "\n".join(failures)
    assert sum(t.killed for t in trials) >= 1, "no writer was killed before it finished"
    assert all(t.outcome for t in trials)
