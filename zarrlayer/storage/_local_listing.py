"""Listing and walking LocalStore's directories: the mixin `_LocalListing` that LocalStore inherits.

Listings skip temporary files (`_TMP_RE`), directories that hold no value, and symbolic links
that leave the root or point back at a directory they lie in (a cycle); `_delete_dir_sync`
removes a prefix's values and then its directories. The path checks these rely on (`_path`,
`_dir_path`, `_inside_root`) are LocalStore's; this module only declares their types.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from zarrlayer.errors import StoreError
from zarrlayer.storage._local_files import _TMP_RE

__all__ = ["_LocalListing"]


class _LocalListing:
    """Directory listings, walks and `delete_dir` for LocalStore (which provides the attributes declared here)."""

    _root: str
    _root_sep: str
    _path: Callable[[str], str]
    """The file path of a key, after checking that no directory on the way leads outside the root."""
    _dir_path: Callable[[str], str]
    """The directory for a normalized prefix ('' is the root), refused if it leads outside the root."""
    _inside_root: Callable[[str], bool]
    """Whether a resolved path is the root or lies under it."""

    if TYPE_CHECKING:  # Store's read-only property; declared for the type checker only

        @property
        def url(self) -> str: ...

    def _walk(self, directory: str, prefix: str) -> Iterator[tuple[str, int]]:
        """Every (key, size) under `directory`, whose keys start with the directory prefix `prefix`."""
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if _TMP_RE.match(entry.name):
                continue
            try:
                if not self._listable(entry, directory):
                    continue
                if entry.is_dir():
                    yield from self._walk(entry.path, f"{prefix}{entry.name}/")
                elif entry.is_file():
                    yield f"{prefix}{entry.name}", entry.stat().st_size
            except FileNotFoundError:
                continue

    def _listable(self, entry: os.DirEntry[str], directory: str) -> bool:
        """Whether a listing may show (and descend into) `entry`: not a link that leaves the root or
        that points back at a directory it lies in (a cycle)."""
        if not entry.is_symlink():
            return True
        real = os.path.realpath(entry.path)
        if not self._inside_root(real):
            return False
        return not (os.path.realpath(directory) + os.sep).startswith(real.rstrip(os.sep) + os.sep)

    def _walk_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        """Every (key, size) whose key starts with the string `prefix`."""
        head, _, tail = prefix.rpartition("/")
        dir_prefix = f"{head}/" if head else ""
        directory = self._dir_path(dir_prefix)
        if not tail:
            yield from self._walk(directory, dir_prefix)
            return
        for key, size in self._walk(directory, dir_prefix):
            if key.startswith(prefix):
                yield key, size

    def _list_dir_sync(self, prefix: str) -> list[str]:
        directory = self._dir_path(prefix)
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return []
        names = []
        for entry in entries:
            if _TMP_RE.match(entry.name):
                continue
            try:
                if not self._listable(entry, directory):
                    continue
                if entry.is_file() or (entry.is_dir() and self._has_file(entry.path)):
                    names.append(entry.name)
            except FileNotFoundError:
                continue
        return names

    def _has_file(self, directory: str) -> bool:
        """Whether any value lies under `directory` (as listings see it), stopping at the first one found."""
        pending = [directory]
        while pending:
            current = pending.pop()
            subdirs = []
            try:
                with os.scandir(current) as entries:
                    for entry in entries:
                        if _TMP_RE.match(entry.name) or not self._listable(entry, current):
                            continue
                        if entry.is_file():
                            return True
                        if entry.is_dir():
                            subdirs.append(entry.path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            pending.extend(subdirs)
        return False

    def _delete_dir_sync(self, prefix: str) -> None:
        directory = self._dir_path(prefix)
        for key, _ in list(self._walk(directory, prefix)):
            try:
                os.unlink(self._path(key))
            except FileNotFoundError:
                pass
            except OSError as e:
                raise StoreError(f"could not delete key {key!r} in store {self.url}: {e.strerror or e}") from e
        for dirpath, _, _ in sorted(os.walk(directory), key=lambda t: -len(t[0])):
            if dirpath != self._root:
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
        self._prune(os.path.dirname(directory))

    def _prune(self, directory: str) -> None:
        """Remove now-empty directories from `directory` up to (not including) the root."""
        while directory.startswith(self._root_sep):
            try:
                os.rmdir(directory)
            except OSError:
                return
            directory = os.path.dirname(directory)
