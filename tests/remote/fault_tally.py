"""One command for the closing figures of issue 14: faults injected and survived, per kind.

    .venv/bin/python tests/remote/fault_tally.py [--faults 24]

For each backend (FsspecStore and ObjectStore over HTTP), each stack (no cache, memory, disk,
memory over disk) and each fault kind of the fault server (503, dropped connection, body cut
with a matching Content-Length, short range, stall after the headers, stall before any byte,
Range ignored), it injects `--faults` faults while reading a plain array (64 chunks, whole
reads) and a sharded one (64 inner chunks in 8 shards, one range read per inner chunk), then
reads both again once the server is well. A fault is survived when no read ever returned a
wrong value and the reads after recovery are all correct; a read during the faults may end
in a ZarrlayerError (counted as `raised`), never in anything else. Not run by pytest (the
name does not start with test_); takes about four minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

import zarrlayer
from zarrlayer import config
from zarrlayer.errors import ZarrlayerError
from zarrlayer.testing.servers import FaultServer, fault_server

sys.path.insert(0, str(Path(__file__).parent))
from hostile_helpers import BACKENDS, remote, stacked  # noqa: E402

KINDS = ("status", "drop", "cut", "short", "stall", "stall_before_headers", "ignore_range")
STACKS = ("none", "memory", "disk", "memory+disk")
CHUNK = 64
DATA = np.arange(64 * CHUNK, dtype="f8") / 7


def _inject(server: FaultServer, kind: str, count: int) -> None:
    if kind == "status":
        server.fail_next(count, 503)
    elif kind == "drop":
        server.drop_next(count)
    elif kind == "cut":
        server.cut_next(count)
    elif kind == "short":
        server.short_next(count)
    elif kind == "stall":
        server.stall_next(count, 2.0)
    elif kind == "stall_before_headers":
        server.stall_next(count, 2.0, before_headers=True)
    else:
        server.ignore_ranges(True)


def _reads(array: Any, sharded: bool) -> list[tuple[slice, np.ndarray]]:
    if not sharded:
        return [(slice(None), DATA)]
    return [(slice(i * CHUNK, (i + 1) * CHUNK), DATA[i * CHUNK : (i + 1) * CHUNK]) for i in range(64)]


def _run(server: FaultServer, backend: str, stack: str, kind: str, faults: int, directory: Path) -> Counter[str]:
    tally: Counter[str] = Counter()
    for name, sharded in (("plain", False), ("sharded", True)):
        store = remote(backend, f"{server.url}/{name}", retries=3)
        if stack != "none":
            store = stacked(stack, store, directory / f"{backend}-{stack}-{kind}-{name}")
        array = zarrlayer.open_array(store, mode="r")
        before = sum(server.injected.values())
        _inject(server, kind, faults)
        for selection, expected in _reads(array, sharded):
            try:
                got = array[selection]
            except ZarrlayerError:
                tally["raised"] += 1
                continue
            tally["correct" if np.array_equal(got, expected) else "wrong"] += 1
        server.clear_faults()
        tally["injected"] += sum(server.injected.values()) - before
        for selection, expected in _reads(array, sharded):
            ok = np.array_equal(array[selection], expected)
            tally["after_ok" if ok else "after_wrong"] += 1
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=24, help="faults injected per kind, backend, stack and array")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        zarrlayer.create_array(str(root / "data" / "plain"), data=DATA, chunks=(CHUNK,))
        zarrlayer.create_array(str(root / "data" / "sharded"), data=DATA, chunks=(CHUNK,), shards=(8 * CHUNK,))
        totals: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
        with fault_server(root / "data") as server, config.override(request_timeout=0.3, read_deadline=5.0):
            for kind in KINDS:
                for backend in BACKENDS:
                    for stack in STACKS:
                        tally = _run(server, backend, stack, kind, args.faults, root / "cache")
                        totals[kind].update(tally)
                        survived = tally["wrong"] == 0 and tally["after_wrong"] == 0
                        print(
                            f"{kind:22} {backend:8} {stack:12} injected {tally['injected']:4}  "
                            f"reads ok {tally['correct']:3} raised {tally['raised']:3} wrong {tally['wrong']}  "
                            f"after recovery ok {tally['after_ok']:3} wrong {tally['after_wrong']}  "
                            f"{'survived' if survived else 'NOT SURVIVED'}",
                            flush=True,
                        )
        print("\nper kind (both backends, 4 stacks):")
        failed = False
        for kind, tally in totals.items():
            bad = tally["wrong"] + tally["after_wrong"]
            failed |= bad > 0
            print(
                f"  {kind:22} injected {tally['injected']:5}  reads during faults: ok {tally['correct']:4}, "
                f"raised {tally['raised']:4}, wrong {tally['wrong']}  after recovery: ok {tally['after_ok']:4}, "
                f"wrong {tally['after_wrong']}"
            )
        return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
