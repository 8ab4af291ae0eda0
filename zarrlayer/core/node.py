"""Node: what arrays and groups share -- a path in a store, parsed metadata, persistent attributes."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Self, TypeVar

from zarrlayer.core.attributes import Attributes
from zarrlayer.core.nodes import write_metadata
from zarrlayer.errors import ReadOnlyError
from zarrlayer.storage._base import Store

__all__ = ["Node"]

M = TypeVar("M")


class Node(Generic[M]):
    """The identity and attributes of an array or group at `path` in `store`."""

    _kind: ClassVar[str] = "node"

    def __init__(self, store: Store, path: str, metadata: M) -> None:
        self._store = store
        self._path = path.strip("/")
        self._metadata = metadata

    @property
    def store(self) -> Store:
        """The store holding the node."""
        return self._store

    @property
    def path(self) -> str:
        """The node's path in the store ('' for the root)."""
        return self._path

    @property
    def name(self) -> str:
        """The node's absolute name in the hierarchy, e.g. '/foo/bar' ('/' for the root)."""
        return "/" + self._path

    @property
    def basename(self) -> str:
        """The last segment of the name ('' for the root)."""
        return self.name.split("/")[-1]

    @property
    def metadata(self) -> M:
        """The parsed metadata (frozen)."""
        return self._metadata

    @property
    def zarr_format(self) -> int:
        """2 or 3."""
        return self._metadata.zarr_format  # type: ignore[attr-defined]

    @property
    def read_only(self) -> bool:
        """Whether writes raise ReadOnlyError."""
        return self._store.read_only

    @property
    def attrs(self) -> Attributes:
        """The user attributes; every change is written to the store."""
        return Attributes(self)

    def _current_attributes(self) -> dict[str, Any]:
        return self._metadata.attributes  # type: ignore[attr-defined]

    def _replace_attributes(self, attributes: dict[str, Any]) -> None:
        self._check_writable()
        metadata = self._metadata.evolve(attributes=attributes)  # type: ignore[attr-defined]
        write_metadata(self._store, self._path, metadata)
        self._metadata = metadata

    def update_attributes(self, new_attributes: dict[str, Any]) -> Self:
        """Merge `new_attributes` into the attributes with one metadata write; returns self."""
        self.attrs.update(new_attributes)
        return self

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError(
                f"{self._kind} '{self._path}' in store {self._store.url} is read-only; "
                "open it with mode 'r+' or 'a' to write"
            )

    def _where(self) -> str:
        return self._store.url + (f"/{self._path}" if self._path else "")
