"""The members recorded in consolidated metadata, each array's document parsed when first asked for.

A consolidated group of hundreds of arrays opens and lists its members at about the cost
of loading its JSON: an array's metadata (data type, fill value, codec pipeline) is only
built when that array is opened.

A mapping read from a store can be made *live* (`track`): it, and every mapping derived from
it (a subgroup's `below`, `with_node`, `without`), is then updated in place when this process
writes or deletes a node it records (`refresh`, `forget`), so a group handle opened before
`array.append(...)` sees the new shape as a fresh reader would.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from zarrlayer.format.metadata import ArrayMetadata

__all__ = ["ConsolidatedNodes", "PendingArray", "track", "refresh", "forget"]

_Live = tuple[str, str]
_registry: dict[_Live, weakref.WeakValueDictionary[int, ConsolidatedNodes]] = {}
_registry_lock = threading.Lock()


def track(nodes: ConsolidatedNodes, identity: str, path: str) -> None:
    """Keep `nodes` (the members of the group at `path` in the store called `identity`) in step with writes."""
    live = (identity, path.strip("/"))
    nodes._live = live
    with _registry_lock:
        _registry.setdefault(live, weakref.WeakValueDictionary())[id(nodes)] = nodes
        if len(_registry) > 4096:
            for key in [k for k, v in _registry.items() if not v]:
                del _registry[key]


def _holders(identity: str, path: str) -> Iterator[tuple[ConsolidatedNodes, str]]:
    """(live mapping, path relative to its group) for every live mapping of a group above `path`."""
    parts = path.strip("/").split("/")
    if not parts[0]:
        return
    with _registry_lock:
        found = [
            (nodes, "/".join(parts[i:]))
            for i in range(len(parts))
            for nodes in list(_registry.get((identity, "/".join(parts[:i])), {}).values())
        ]
    yield from found


def refresh(identity: str, path: str, make_entry: Callable[[], Any]) -> None:
    """Record the node at `path` (metadata or a PendingArray, built by `make_entry` only when some live
    mapping above it exists) in every live mapping above it."""
    entry: Any = _UNSET
    for nodes, rel in _holders(identity, path):
        if entry is _UNSET:
            entry = make_entry()
        nodes._entries = {**nodes._entries, rel: entry}


_UNSET = object()


def forget(identity: str, path: str) -> None:
    """Remove the node at `path` and everything below it from every live mapping above it."""
    for nodes, rel in _holders(identity, path):
        prefix = rel + "/"
        nodes._entries = {k: v for k, v in nodes._entries.items() if k != rel and not k.startswith(prefix)}


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

    __slots__ = ("_entries", "_live", "__weakref__")

    def __init__(self, entries: Mapping[str, Any] | None = None) -> None:
        if isinstance(entries, ConsolidatedNodes):
            entries = entries._entries
        self._entries: dict[str, Any] = dict(entries) if entries else {}
        self._live: _Live | None = None

    def _derived(self, entries: dict[str, Any], below: str = "") -> ConsolidatedNodes:
        """A new mapping over `entries`, live like this one (for the group `below` this one's, if given)."""
        out = ConsolidatedNodes(entries)
        if self._live is not None:
            identity, path = self._live
            track(out, identity, f"{path}/{below}".strip("/") if below else path)
        return out

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
        return self._derived({k[cut:]: v for k, v in self._entries.items() if k.startswith(prefix)}, below=name)

    def prefixed(self, name: str) -> dict[str, Any]:
        """The entries keyed `name/path` (unparsed ones stay unparsed), to record them one level up."""
        return {f"{name}/{k}": v for k, v in self._entries.items()}

    def with_node(self, name: str, node: Any) -> ConsolidatedNodes:
        """A copy that also records `node` at `name`."""
        return self._derived({**self._entries, name: node})

    def without(self, name: str) -> ConsolidatedNodes:
        """A copy without the member `name` and everything below it."""
        prefix = name + "/"
        return self._derived({k: v for k, v in self._entries.items() if k != name and not k.startswith(prefix)})
