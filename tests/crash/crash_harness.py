"""Kill writers with SIGKILL at random moments and check what a reopen finds (issue 13, point 6).

A "zygote" subprocess imports zarrlayer (and xarray) once, then forks one writer per trial,
so that a trial costs a fork, not an interpreter start. The harness waits for the writer to
say it has begun writing, sleeps a seeded random delay within the writer's measured running
time, sends SIGKILL, and then checks the directory from its own process (a reopen).

Run as a script, this file is the zygote: one JSON command per line on stdin, one JSON event
per line on stdout (the forked writers report on the same stream).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent


@dataclass
class Trial:
    scenario: str
    seed: int
    delay: float
    killed: bool
    outcome: str = ""
    on_disk: str = ""
    error: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)


class Zygote:
    """The forking writer process; a context manager that ends it."""

    def __init__(self) -> None:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "--zygote"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=str(HERE),
        )
        ready = self._read()
        if ready.get("event") != "ready":
            raise RuntimeError(f"crash zygote did not start: {ready}")

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def _send(self, **command: Any) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(command) + "\n")
        self._proc.stdin.flush()

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"crash zygote ended (exit code {self._proc.poll()})")
        return json.loads(line)  # type: ignore[no-any-return]

    def run(self, scenario: str, directory: Path, kill_after: float | None) -> tuple[bool, float, list[dict[str, Any]]]:
        """Fork a writer; SIGKILL it `kill_after` seconds after it starts writing (None: let it finish).

        Returns (killed, seconds it ran, the events it reported)."""
        self._send(cmd="run", scenario=scenario, directory=str(directory))
        pid, began, events = None, None, []
        while pid is None or began is None:  # the writer may speak before the zygote says it forked
            event = self._read()
            if event["event"] == "forked":
                pid = event["pid"]
                continue
            events.append(event)
            if event["event"] in ("go", "failed", "done"):
                began = event["event"]
        started = time.monotonic()
        if kill_after is not None and began == "go":
            time.sleep(kill_after)
            os.kill(pid, signal.SIGKILL)
        self._send(cmd="wait", pid=pid)
        while True:
            event = self._read()
            if event["event"] == "exit":
                break
            events.append(event)
        ran = time.monotonic() - started
        failed = [e for e in events if e["event"] == "failed"]
        if failed:
            raise RuntimeError(f"writer of {scenario} failed before it was killed:\n{failed[0]['traceback']}")
        return event["signal"] == signal.SIGKILL, ran, events


def run_trials(
    scenario: str, kills: int, seed: int, zygote: Zygote, workdir: Path | None = None
) -> list[Trial]:
    """Three undisturbed runs (their median times the writer; a loaded machine makes one run a poor
    measure), then `kills` runs killed at random moments. Every run is checked; the killed ones are returned."""
    from crash_scenarios import SCENARIOS

    spec = SCENARIOS[scenario]
    rng = random.Random(f"{scenario}:{seed}")
    trials: list[Trial] = []
    base = Path(tempfile.mkdtemp(prefix=f"crash-{scenario}-", dir=workdir))
    timings: list[float] = []
    duration = None
    for n in range(kills + _TIMING_RUNS):
        directory = base / f"trial{n}"
        directory.mkdir()
        spec.prepare(directory)
        delay = None if duration is None else rng.uniform(0.0, duration)
        killed, ran, events = zygote.run(scenario, directory, delay)
        if duration is None:  # the writer's own time from "go" to "done" (one clock for all processes)
            stamps = {e["event"]: e["t"] for e in events if "t" in e}
            timings.append(max(stamps.get("done", 0.0) - stamps.get("go", 0.0), 0.01) if "done" in stamps else ran)
            if len(timings) == _TIMING_RUNS:
                duration = sorted(timings)[_TIMING_RUNS // 2]
        trial = Trial(scenario, seed, delay or 0.0, killed, events=events)
        try:
            trial.outcome, trial.on_disk = spec.check(directory, events)
        except Exception as e:  # noqa: BLE001 - recorded, and the caller asserts none happened
            trial.error = f"{type(e).__name__}: {e}"
        if n >= _TIMING_RUNS:
            trials.append(trial)
        elif trial.error:
            raise AssertionError(f"an undisturbed {scenario} writer left a bad state: {trial.error}")
    return trials


_TIMING_RUNS = 3


# -- the zygote side ------------------------------------------------------------------------


def _emit(out: IO[str], **event: Any) -> None:
    out.write(json.dumps(event) + "\n")
    out.flush()


def _child(scenario: str, directory: str, out: IO[str]) -> None:
    from crash_scenarios import SCENARIOS

    def report(event: str, **fields: Any) -> None:
        _emit(out, event=event, pid=os.getpid(), t=time.monotonic(), **fields)

    try:
        SCENARIOS[scenario].write(Path(directory), report)
        report("done")
    except BaseException:  # noqa: BLE001 - reported to the harness
        report("failed", traceback=traceback.format_exc())
        out.flush()
        os._exit(1)
    out.flush()
    os._exit(0)


def zygote_main() -> None:
    sys.path.insert(0, str(HERE))
    import numpy  # noqa: F401 - imported once, before forking
    import zarrlayer  # noqa: F401
    import zarrlayer.cache  # noqa: F401
    import crash_scenarios  # noqa: F401

    try:
        import xarray  # noqa: F401
        import xarray.backends.writers  # noqa: F401 - imported by to_zarrlayer on its first call
        import zarrlayer.integrations.xarray  # noqa: F401
    except ImportError:
        pass
    out = sys.stdout
    _emit(out, event="ready")
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "run":
            pid = os.fork()
            if pid == 0:
                _child(command["scenario"], command["directory"], out)
            _emit(out, event="forked", pid=pid)
        elif command["cmd"] == "wait":
            _, status = os.waitpid(command["pid"], 0)
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
            _emit(out, event="exit", pid=command["pid"], signal=sig, code=code)


if __name__ == "__main__" and sys.argv[1:] == ["--zygote"]:
    zygote_main()
