"""The docs site: every guide page is in mkdocs.yml's nav, and the API reference pages name real objects."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _nav_pages(nav: Any) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, list):
        return set().union(*(_nav_pages(item) for item in nav))
    if isinstance(nav, dict):
        return set().union(*(_nav_pages(value) for value in nav.values()))
    return set()


def _config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    nav = _nav_pages(_config()["nav"])
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if "dev" not in p.relative_to(DOCS).parts}
    assert pages - nav == set(), f"pages missing from mkdocs.yml nav: {sorted(pages - nav)}"
    assert nav - pages == set(), f"nav entries without a page: {sorted(nav - pages)}"


def test_api_reference_names_importable_objects() -> None:
    names = re.findall(r"^::: (\S+)", "\n".join(p.read_text() for p in (DOCS / "api").glob("*.md")), re.M)
    assert len(names) >= 15
    for name in names:
        target = f"zarrlayer.{name}" if name.startswith("integrations.") else name  # installed under zarrlayer
        try:
            importlib.import_module(target)
        except ModuleNotFoundError:
            module, _, attribute = target.rpartition(".")
            assert hasattr(importlib.import_module(module), attribute), f"{name} in docs/api names nothing"
