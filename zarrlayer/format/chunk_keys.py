"""Chunk key encodings: v3 `default` (`c/0/1`) and `v2` (`0.1`), and v2's dimension_separator."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from zarrlayer.errors import MetadataError

__all__ = ["ChunkKeyEncoding", "parse_chunk_key_encoding"]


@dataclass(frozen=True)
class ChunkKeyEncoding:
    """How grid coordinates become a key: `default` prefixes `c`, `v2` does not (and 0-d gives `0`)."""

    name: Literal["default", "v2"] = "default"
    separator: Literal["/", "."] = "/"

    def encode(self, coords: tuple[int, ...]) -> str:
        """The key of the chunk at `coords`, relative to the array."""
        if self.name == "default":
            return self.separator.join(("c", *map(str, coords)))
        return self.separator.join(map(str, coords)) or "0"

    def encode_many(self, prefix: str, coords: Iterable[tuple[int, ...]], ndim: int) -> list[str]:
        """`prefix + encode(c)` for every `c` of `coords` (each of `ndim` ints), in order.

        About 0.1 µs a key against 0.6 µs through `encode`: one format string per dimensionality.
        """
        sep = self.separator
        if ndim == 0:
            return [prefix + ("c" if self.name == "default" else "0") for _ in coords]
        head = prefix + "c" + sep if self.name == "default" else prefix
        if ndim == 1:
            return [f"{head}{a}" for (a,) in coords]
        if ndim == 2:
            return [f"{head}{a}{sep}{b}" for a, b in coords]
        if ndim == 3:
            return [f"{head}{a}{sep}{b}{sep}{c}" for a, b, c in coords]
        return [head + sep.join(map(str, c)) for c in coords]

    def encode_ids(self, prefix: str, ids: Iterable[int]) -> list[str]:
        """`prefix + encode((i,))` for every chunk index `i` of a 1-d array, in order."""
        head = prefix + "c" + self.separator if self.name == "default" else prefix
        return [f"{head}{i}" for i in ids]

    def to_json(self) -> dict[str, Any]:
        """The v3 `chunk_key_encoding` object."""
        return {"name": self.name, "configuration": {"separator": self.separator}}


def parse_chunk_key_encoding(value: Any, *, where: str) -> ChunkKeyEncoding:
    """Parse a v3 `chunk_key_encoding` (or a user's `{"name", "separator"}` shorthand)."""
    if isinstance(value, ChunkKeyEncoding):
        return value
    if type(value) is dict and len(value) == 2 and type(config := value.get("configuration")) is dict and len(config) == 1:
        name, separator = value.get("name"), config.get("separator")
        known = _CANONICAL.get((name, separator)) if type(name) is str and type(separator) is str else None
        if known is not None:  # the usual document: one shared instance per encoding
            return known
    if not isinstance(value, dict) or value.get("name") not in ("default", "v2"):
        raise MetadataError(f"{where}: chunk_key_encoding must be an object named 'default' or 'v2', found {value!r}")
    name = value["name"]
    config = value.get("configuration", {k: v for k, v in value.items() if k == "separator"})
    if not isinstance(config, dict):
        raise MetadataError(f"{where}: chunk_key_encoding configuration must be an object, found {config!r}")
    separator = config.get("separator", "/" if name == "default" else ".")
    if separator not in ("/", "."):
        raise MetadataError(f"{where}: chunk key separator must be '/' or '.', found {separator!r}")
    return ChunkKeyEncoding(name, separator)


_CANONICAL = {(n, sep): ChunkKeyEncoding(n, sep) for n in ("default", "v2") for sep in ("/", ".")}
