"""mkdocs hooks: links from guide pages to repository files outside docs/ (examples, scripts) point at the repository."""

from __future__ import annotations

import re
from typing import Any

_OUTSIDE = re.compile(r"\]\(\.\./((?:examples|scripts|benchmarks|tests)/[^)#\s]+|README\.md)\)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Rewrite `](../examples/x.py)` to `](<repo_url>/blob/main/examples/x.py)`."""
    repo = str(config["repo_url"]).rstrip("/")
    return _OUTSIDE.sub(lambda m: f"]({repo}/blob/main/{m.group(1)})", markdown)
