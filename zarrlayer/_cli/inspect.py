"""`zarrlayer info|tree|ls`: what a hierarchy holds, read-only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["open_node", "info_text", "tree_text", "ls_rows", "format_rows"]


def open_node(url: str, path: str, storage_options: Mapping[str, Any]) -> Any:
    """The array or group at `path` inside `url`, opened read-only."""
    import zarrlayer

    return zarrlayer.open(store=url, path=path, mode="r", storage_options=dict(storage_options) or None)


def info_text(node: Any, complete: bool = False) -> str:
    """What `group.info` / `array.info` show (`info_complete()` with `complete`: counts members or stored bytes)."""
    return str(node.info_complete() if complete else node.info)


def tree_text(node: Any) -> str:
    """The hierarchy under a group as an indented tree (an array shows itself)."""
    if _is_array(node):
        return f"{_name(node)} {tuple(node.shape)} {node.dtype}"
    return str(node.tree()).rstrip("\n")  # the drawing ends with a newline; print adds one


def _is_array(node: Any) -> bool:
    return hasattr(node, "shape") and hasattr(node, "dtype")


def _name(node: Any) -> str:
    return getattr(node, "path", "") or "/"


def _row(name: str, node: Any) -> tuple[str, ...]:
    if not _is_array(node):
        return (name, "group", "", "", "", "")
    shards = getattr(node, "shards", None)
    return (
        name,
        "array",
        str(tuple(node.shape)),
        str(node.dtype),
        str(tuple(node.chunks)),
        str(tuple(shards)) if shards else "",
    )


def ls_rows(node: Any) -> list[tuple[str, ...]]:
    """One row per member (recursively): name, kind, shape, dtype, chunks, shards."""
    if _is_array(node):
        return [_row(_name(node), node)]
    return [_row(name, child) for name, child in _walk(node, "")]


def _walk(group: Any, prefix: str) -> list[tuple[str, Any]]:
    """Every member below `group`, depth first, each group before its members."""
    found: list[tuple[str, Any]] = []
    for name, child in sorted(group.members(), key=lambda item: item[0]):
        found.append((prefix + name, child))
        if not _is_array(child):
            found.extend(_walk(child, f"{prefix}{name}/"))
    return found


def format_rows(rows: list[tuple[str, ...]]) -> str:
    """Rows as an aligned table under a header."""
    header = ("name", "kind", "shape", "dtype", "chunks", "shards")
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in table]
    return "\n".join(lines)
