"""ZipStore: a store inside one zip archive, for shipping a whole hierarchy as one file.

Design. A zip archive cannot replace or remove an entry in place, and Python's zipfile
appends a second entry when a name is written twice. The store therefore keeps an
index (key -> newest entry) in memory: a rewrite appends a new entry and points the index
at it, a delete drops the key from the index, so reads always see the latest state while
the process writes only forward and holds no values in memory.

Crash safety. New entries are always written *after* the archive's last central directory,
never over it, and a central directory listing only the live entries is written after them
at each checkpoint (`flush()`, every `checkpoint_bytes` written, pickling) and on `close()`.
A writer killed at any moment therefore leaves a file whose last complete central directory
still lists every entry as of the previous checkpoint (or as the archive was before the
update began); the next open finds it and drops the unfinished tail (mode 'a' truncates it,
mode 'r' reads as if it were not there).

Closing is cheap. The final central directory lists the live entries only, so readers never
see superseded or deleted entries, nor the earlier directories left inside the file (every
reader that goes through the central directory skips them: zipfile, unzip, zarr-python).
`close()` rewrites the archive only when those dead bytes exceed `compact_threshold` of the
file (default a quarter): the live entries are copied raw (no recompression) into a temporary
file beside it that replaces it atomically; one killed half-way is removed on the next
writable open. See _zip_archive.py (the index and the dead-byte count) and _zip_compact.py.

Every operation holds one lock, so a store can be shared by threads. Views from
`with_read_only` share the open archive (closing any view commits it). An archive never
closed is finished anyway, with live entries only: when its store is garbage collected, and
(rewritten when that pays) at interpreter exit; a killed process keeps its last checkpoint.
A store pickles its path and mode, never its file handle, and reopens lazily; pickling a
writable store first writes a checkpoint, so that the copy reads everything. One writer at a time per archive:
zip files have no multi-writer protocol, and while a writer has the archive open other
readers see it only as of its last checkpoint. Entry names that could escape a directory on
extraction (`../x`, `/abs`, backslashes, drive letters as in `C:/x`, `C:x` or `D:`) are
refused, both as keys and inside archives being opened.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import AsyncIterator, Sequence
from typing import Any, Self

from zarrlayer.errors import ModeError, NodeNotFoundError
from zarrlayer.storage._base import (
    Buffer,
    ByteRequest,
    SyncStore,
    direct_children,
    normalize_prefix,
    validate_prefix,
)
from zarrlayer.storage._buffers import to_bytes
from zarrlayer.storage._zip_archive import ZipMode, _Archive, _unlink_quietly, validate_zip_key
from zarrlayer.storage._zip_compact import DEFAULT_COMPACT_THRESHOLD
from zarrlayer.storage._zip_recovery import leftover_temps

__all__ = ["DEFAULT_CHECKPOINT_BYTES", "DEFAULT_COMPACT_THRESHOLD", "ZipMode", "ZipStore", "validate_zip_key"]

DEFAULT_CHECKPOINT_BYTES = 64 * 2**20
"""Bytes of new entries after which a writable ZipStore writes a central directory (64 MiB)."""


class ZipStore(SyncStore):
    """A store inside the zip archive at `path`; see the module docstring for the design.

    `mode`: 'r' read an existing archive, 'w' create or truncate, 'x' create (FileExistsError
    if the file exists), 'a' read and append (created when missing). `compression` applies to
    new entries (zipfile.ZIP_STORED keeps byte-range reads to the bytes asked for).
    `checkpoint_bytes`: new-entry bytes between central directories (None: only on flush/close).
    `compact_threshold`: fraction (0 to 1) of the file that may be dead bytes before close()
    rewrites the archive (default 0.25; 0 always leaves a plain archive). ValueError if out of range.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: ZipMode = "r",
        read_only: bool | None = None,
        compression: int = zipfile.ZIP_STORED,
        allowZip64: bool = True,  # noqa: N803 - zarr-python's and zipfile's spelling
        checkpoint_bytes: int | None = DEFAULT_CHECKPOINT_BYTES,
        compact_threshold: float = DEFAULT_COMPACT_THRESHOLD,
    ) -> None:
        if mode not in ("r", "w", "a", "x"):
            raise ModeError(f"expected a ZipStore mode of 'r', 'w', 'a' or 'x', found {mode!r}")
        if read_only is False and mode == "r":
            raise ModeError(f"ZipStore mode 'r' is read-only, but read_only=False was asked for {path}")
        if read_only is True and mode in ("w", "x"):
            raise ModeError(f"ZipStore mode {mode!r} writes, but read_only=True was asked for {path}")
        if checkpoint_bytes is not None and (not isinstance(checkpoint_bytes, int) or checkpoint_bytes <= 0):
            raise ValueError(f"expected checkpoint_bytes to be a positive int or None, found {checkpoint_bytes!r}")
        if isinstance(compact_threshold, bool) or not isinstance(compact_threshold, (int, float)) or not (
            0 <= compact_threshold <= 1
        ):
            raise ValueError(
                f"expected compact_threshold to be a fraction from 0 to 1, found {compact_threshold!r}"
            )
        super().__init__(read_only=mode == "r" if read_only is None else read_only)
        self._path = os.path.realpath(os.path.expanduser(os.fspath(path)))
        self._mode: ZipMode = mode
        self._compression = compression
        self._allow_zip64 = bool(allowZip64)
        self._checkpoint_bytes = checkpoint_bytes
        self._compact_threshold = float(compact_threshold)
        archive_mode: ZipMode = "r" if self.read_only else mode
        if mode == "x" and os.path.exists(self._path):
            raise FileExistsError(f"a file exists at {self._path}; mode 'x' creates a new zip archive only")
        if archive_mode == "r" and mode == "r" and not os.path.exists(self._path):
            raise NodeNotFoundError(f"no zip archive at {self._path} to open for reading")
        self._archive = _Archive(
            self._path, archive_mode, compression, self._allow_zip64, checkpoint_bytes, self._compact_threshold
        )
        if archive_mode != "r":
            for leftover in leftover_temps(self._path):
                _unlink_quietly(leftover)
        if archive_mode in ("w", "x"):
            with self._archive.lock:
                self._archive.ensure_open()

    @property
    def path(self) -> str:
        """The absolute path of the archive."""
        return self._path

    @property
    def mode(self) -> ZipMode:
        """The mode the store was created with ('r', 'w', 'a' or 'x')."""
        return self._mode

    @property
    def compression(self) -> int:
        """The zipfile compression constant used for new entries."""
        return self._compression

    @property
    def allowZip64(self) -> bool:  # noqa: N802 - zarr-python's spelling
        """Whether entries and archives past 4 GiB / 65,535 entries may use the ZIP64 extensions."""
        return self._allow_zip64

    @property
    def checkpoint_bytes(self) -> int | None:
        """Bytes of new entries after which a central directory is written (None: only on flush/close)."""
        return self._checkpoint_bytes

    @property
    def compact_threshold(self) -> float:
        """Fraction of the archive's bytes that may be dead (superseded or deleted entries, earlier
        central directories) before close() rewrites it; 0 rewrites whenever any byte is dead."""
        return self._compact_threshold

    @property
    def recovered_bytes(self) -> int:
        """Bytes of an unfinished tail (left by a killed writer) that the last open dropped; 0 if none."""
        return self._archive.recovered_bytes

    @property
    def url(self) -> str:
        return f"zip://{self._path}"

    def with_read_only(self, read_only: bool = False) -> Self:
        if not read_only and not self._archive.writable:
            return type(self)(
                self._path, mode="a", compression=self._compression, allowZip64=self._allow_zip64,
                checkpoint_bytes=self._checkpoint_bytes, compact_threshold=self._compact_threshold,
            )
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._read_only = read_only
        return clone

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZipStore) and other._path == self._path and other.read_only == self.read_only

    def __hash__(self) -> int:
        return hash((ZipStore, self._path))

    def __reduce__(self) -> tuple[Any, ...]:
        if self._archive.writable:
            self.flush()
        mode = "a" if self._archive.writable else "r"
        return (
            _unpickle,
            (
                self._path, mode, self._compression, self.read_only, self._allow_zip64, self._checkpoint_bytes,
                self._compact_threshold,
            ),
        )

    # -- lifecycle --------------------------------------------------------------------

    async def _open(self) -> None:
        await super()._open()
        with self._archive.lock:
            if self._archive.writable or os.path.exists(self._path):
                self._archive.ensure_open()

    def flush(self) -> None:
        """Write a central directory of the live entries now (a checkpoint): every write so far
        survives a crash and other readers see it. Cheap: nothing is copied."""
        self._archive.checkpoint()

    def close(self) -> None:
        """Finish the archive: write its central directory (and rewrite it without dead bytes when
        they pass `compact_threshold`); a valid zip when this returns."""
        self._archive.close()
        self._is_open = False

    async def move(self, path: str | os.PathLike[str]) -> None:
        """Close the archive and move it to `path` (its parent directories are created); the store follows."""
        self.close()
        target = os.path.realpath(os.path.expanduser(os.fspath(path)))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.move(self._path, target)
        self._path = self._archive.path = target

    # -- synchronous fast path --------------------------------------------------------

    def get_sync(self, key: str, byte_range: ByteRequest | None = None) -> Buffer | None:
        return self._archive.read(validate_zip_key(key), byte_range)

    def get_many_sync(self, key_ranges: Sequence[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        for key, _ in key_ranges:
            validate_zip_key(key)
        return [self._archive.read(k, r) for k, r in key_ranges]

    def exists_sync(self, key: str) -> bool:
        return self._archive.info(validate_zip_key(key)) is not None

    def set_sync(self, key: str, value: Buffer) -> None:
        validate_zip_key(key)
        self._check_writable()
        self._archive.write(key, to_bytes(value, key=key, url=self.url))

    def delete_sync(self, key: str) -> None:
        validate_zip_key(key)
        self._check_writable()
        self._archive.remove([key])

    # -- async API (get, exists, set and delete come from SyncStore) --------------------

    async def getsize(self, key: str) -> int:
        info = self._archive.info(validate_zip_key(key))
        if info is None:
            raise FileNotFoundError(f"no value at key {key!r} in store {self.url}")
        return info.file_size

    async def getsize_prefix(self, prefix: str) -> int:
        validate_prefix(prefix)
        return sum(i.file_size for k, i in self._archive.items() if k.startswith(prefix))

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        validate_zip_key(key)
        self._check_writable()
        self._archive.write(key, to_bytes(value, key=key, url=self.url), only_if_missing=True)

    async def delete_dir(self, prefix: str) -> None:
        prefix = normalize_prefix(prefix)
        self._check_writable()
        self._archive.remove([k for k in self._archive.keys() if k.startswith(prefix)])

    async def clear(self) -> None:
        self._check_writable()
        self._archive.remove(self._archive.keys())

    async def is_empty(self, prefix: str = "") -> bool:
        prefix = normalize_prefix(prefix)
        return not any(k.startswith(prefix) for k in self._archive.keys())

    async def list(self) -> AsyncIterator[str]:
        for key in self._archive.keys():
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        validate_prefix(prefix)
        for key in self._archive.keys():
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        for child in direct_children(self._archive.keys(), normalize_prefix(prefix)):
            yield child


def _unpickle(
    path: str, mode: ZipMode, compression: int, read_only: bool, allow_zip64: bool = True,
    checkpoint_bytes: int | None = DEFAULT_CHECKPOINT_BYTES,
    compact_threshold: float = DEFAULT_COMPACT_THRESHOLD,
) -> ZipStore:
    return ZipStore(
        path, mode=mode, compression=compression, read_only=read_only, allowZip64=allow_zip64,
        checkpoint_bytes=checkpoint_bytes, compact_threshold=compact_threshold,
    )
