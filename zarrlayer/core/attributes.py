"""Attributes: a MutableMapping view of a node's user attributes that persists every change."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, Protocol

__all__ = ["Attributes"]


class _Owner(Protocol):
    def _current_attributes(self) -> dict[str, Any]: ...

    def _replace_attributes(self, attributes: dict[str, Any]) -> None: ...


class Attributes(MutableMapping[str, Any]):
    """A node's attributes; each write stores the node's metadata document again (one write per call)."""

    def __init__(self, owner: _Owner) -> None:
        self._owner = owner

    def __getitem__(self, key: str) -> Any:
        return self._owner._current_attributes()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        attributes = dict(self._owner._current_attributes())
        del attributes[key]
        self._owner._replace_attributes(attributes)

    def __iter__(self) -> Iterator[str]:
        return iter(self._owner._current_attributes())

    def __len__(self) -> int:
        return len(self._owner._current_attributes())

    def update(self, other: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:  # type: ignore[override]
        """Add or change several attributes with one metadata write."""
        attributes = dict(self._owner._current_attributes())
        attributes.update(other or {}, **kwargs)
        self._owner._replace_attributes(attributes)

    def put(self, attributes: Mapping[str, Any]) -> None:
        """Replace all attributes with `attributes` (one metadata write)."""
        self._owner._replace_attributes(dict(attributes))

    def asdict(self) -> dict[str, Any]:
        """A plain dict copy of the attributes."""
        return dict(self._owner._current_attributes())

    def __repr__(self) -> str:
        return f"Attributes({self.asdict()!r})"
