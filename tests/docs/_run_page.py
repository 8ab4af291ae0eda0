"""Run the ```python blocks of one guide page in order, in one namespace (`python _run_page.py PAGE SETUP [--fresh-dir]`).

SETUP is a JSON object: block number (0 for the first block) -> code run just before that block,
which creates what the page's prose says exists at that point.

With --fresh-dir each block runs in a new working directory holding only an empty `data/`
(for pages whose blocks are separate examples that each create the same path).

A block preceded by a line `<!-- skip: reason -->` is not run. Tracebacks name the page
and its line numbers. Prints `ran N, skipped M` on success.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

FENCE = re.compile(r"^```python\s*$")
SKIP = re.compile(r"^<!--\s*skip:\s*(\S.*?)\s*-->\s*$")


def blocks(text: str) -> list[tuple[int, str, str | None]]:
    """(first line number, code, skip reason or None) of each ```python block."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            previous = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            skip = SKIP.match(previous)
            found.append((i + 2, "\n".join(lines[i + 1 : end]), skip.group(1) if skip else None))
            i = end
        i += 1
    return found


def main(page: str, setup: dict[str, str], fresh_dir: bool = False) -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    ran = skipped = 0
    for number, (line, code, skip) in enumerate(blocks(Path(page).read_text())):
        if str(number) in setup:
            exec(compile(setup[str(number)], f"<setup before block {number} of {Path(page).name}>", "exec"), namespace)
        if skip is not None:
            skipped += 1
            continue
        if fresh_dir:
            Path(f"block-{line}/data").mkdir(parents=True)
            os.chdir(f"block-{line}")
        exec(compile("\n" * (line - 1) + code, page, "exec"), namespace)
        ran += 1
        if fresh_dir:
            os.chdir("..")
    print(f"ran {ran}, skipped {skipped}")


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]), "--fresh-dir" in sys.argv[3:])
