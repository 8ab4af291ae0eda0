"""The members recorded in consolidated metadata, each array's document parsed when first asked for.

A consolidated group of hundreds of arrays opens and lists its members at about the cost
of loading its JSON: an array's metadata (data type, fill value, codec pipeline) is only
built when that array is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from zarrlayer.format.metadata import ArrayMetadata

__all__ = ["ConsolidatedNodes", "PendingArray"]


class PendingArray:
    """An array member not parsed yet: `parse(*args)` gives its metadata (or its MetadataError)."""

    __slots__ = ("parse", "args")

    def __init__(self, parse: Callable[..., ArrayMetadata], *args: Any) -> None:
        self.parse = parse
        self.args = args

    def __reduce__(self) -> tuple[Any, ...]:
        return (PendingArray, (self.parse, *self.args))


class ConsolidatedNodes(Mapping[str, Any]):
    """Node metadata by path relative to a group (`"a"`, `"a/b"`); arrays are parsed on first access."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, Any] | None = None) -> None:
        if isinstance(entries, ConsolidatedNodes):
            entries = entries._entries
        self._entries: dict[str, Any] = dict(entries) if entries else {}

    def __getitem__(self, key: str) -> Any:
        entry = self._entries[key]
        if type(entry) is PendingArray:
            entry = entry.parse(*entry.args)
            self._entries[key] = entry
        return entry

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ConsolidatedNodes({sorted(self._entries)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ConsolidatedNodes, (self._entries,))

    def is_array(self, key: str) -> bool:
        """Whether the member `key` is an array, without parsing it."""
        entry = self._entries[key]
        return type(entry) is PendingArray or isinstance(entry, ArrayMetadata)

    def below(self, name: str) -> ConsolidatedNodes:
        """The members under the member `name`, by path relative to it (unparsed ones stay unparsed)."""
        prefix = name + "/"
        cut = len(prefix)
        return ConsolidatedNodes({k[cut:]: v for k, v in self._entries.items() if k.startswith(prefix)})

    def prefixed(self, name: str) -> dict[str, Any]:
        """The entries keyed `name/path` (unparsed ones stay unparsed), to record them one level up."""
        return {f"{name}/{k}": v for k, v in self._entries.items()}

    def with_node(self, name: str, node: Any) -> ConsolidatedNodes:
        """A copy that also records `node` at `name`."""
        return ConsolidatedNodes({**self._entries, name: node})

    def without(self, name: str) -> ConsolidatedNodes:
        """A copy without the member `name` and everything below it."""
        prefix = name + "/"
        return ConsolidatedNodes({k: v for k, v in self._entries.items() if k != name and not k.startswith(prefix)})
