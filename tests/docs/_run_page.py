"""Run the ```python blocks of one guide page in order, in one namespace (`python _run_page.py PAGE PREAMBLE [--fresh-dir]`).

With --fresh-dir each block runs in a new working directory holding only an empty `data/`
(for pages whose blocks are separate examples that each create the same path).

A block preceded by a line `<!-- skip: reason -->` is not run. Tracebacks name the page
and its line numbers. Prints `ran N, skipped M` on success.
"""

from __future__ import annotations

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


def main(page: str, preamble: str, fresh_dir: bool = False) -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(preamble, f"<preamble of {Path(page).name}>", "exec"), namespace)
    ran = skipped = 0
    for line, code, skip in blocks(Path(page).read_text()):
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
    main(sys.argv[1], sys.argv[2], "--fresh-dir" in sys.argv[3:])
