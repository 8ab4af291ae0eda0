"""Tabulate xarray-suite runs: per variant, how many of the tests that pass with engine="zarr" pass.

    python tests/xarray_suite/report.py OUTDIR      (OUTDIR holds baseline.xml, reads.xml, ...)

Prints a Markdown table and writes OUTDIR/failures.txt: every test that passes on the
baseline and does not pass in a variant, with the first line of its error.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from zarrlayer_xarray_suite import EXCLUDED, VARIANTS  # noqa: E402

__all__ = ["load", "main", "table"]


def load(path: Path) -> dict[str, tuple[str, str]]:
    """test id -> (outcome, first line of the message) from a junit XML file."""
    out: dict[str, tuple[str, str]] = {}
    for case in ET.parse(path).iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, message = "failed", (child.get("message") or "").splitlines()[0:1]
                message = message[0] if message else ""
                break
            if child.tag == "skipped":
                outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
        if outcome == "passed" or name not in out:
            out[name] = (outcome, message)
    return out


def _excluded(name: str) -> bool:
    return any(key in name for key in EXCLUDED)


def table(runs: dict[str, dict[str, tuple[str, str]]]) -> tuple[str, list[str]]:
    """The Markdown table and the failure lines (variant, test, message)."""
    base = runs["baseline"]
    counted = {n for n, (o, _) in base.items() if o == "passed" and not _excluded(n)}
    lines = [
        "| variant | passed | failed | skipped/xfailed | excluded | passing of the baseline's passes | share |",
        "|---|---|---|---|---|---|---|",
    ]
    failures: list[str] = []
    for variant in VARIANTS:
        if variant not in runs:
            continue
        results = runs[variant]
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        for name, (outcome, _) in results.items():
            if not _excluded(name):
                counts["passed" if outcome == "passed" else "failed" if outcome == "failed" else "skipped"] += 1
        held = sum(1 for n in counted if results.get(n, ("missing", ""))[0] == "passed")
        share = 100.0 * held / len(counted) if counted else 0.0
        excluded = sum(1 for n in results if _excluded(n))
        lines.append(
            f"| {variant} | {counts['passed']} | {counts['failed']} | {counts['skipped']} | {excluded} "
            f"| {held} of {len(counted)} | {share:.1f}% |"
        )
        if variant != "baseline":
            for name in sorted(counted):
                outcome, message = results.get(name, ("missing", "not run"))
                if outcome != "passed":
                    failures.append(f"{variant}\t{name}\t{outcome}: {message[:300]}")
    return "\n".join(lines), failures


def main(argv: list[str]) -> int:
    outdir = Path(argv[0])
    runs = {v: load(outdir / f"{v}.xml") for v in VARIANTS if (outdir / f"{v}.xml").exists()}
    if "baseline" not in runs:
        print(f"no baseline.xml in {outdir}", file=sys.stderr)
        return 2
    text, failures = table(runs)
    print(text)
    (outdir / "failures.txt").write_text("\n".join(failures) + "\n")
    (outdir / "table.md").write_text(text + "\n")
    print(f"\n{len(failures)} failures listed in {outdir / 'failures.txt'}")
    print("excluded (count calls on zarr-python internals): " + "; ".join(f"{k}: {v}" for k, v in EXCLUDED.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
