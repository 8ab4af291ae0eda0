"""What the demo's HTTP server sent: requests and bytes, from the server's own request log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Traffic", "traffic_since"]


@dataclass(frozen=True)
class Traffic:
    """Requests answered and payload bytes sent by the server over one step."""

    requests: int
    nbytes: int

    def __sub__(self, other: "Traffic") -> "Traffic":
        return Traffic(self.requests - other.requests, self.nbytes - other.nbytes)


def _range_length(header: str | None, size: int) -> int:
    """Bytes a GET with `header` returns from a file of `size` bytes (single ranges, as the server serves)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return size
    first, _, last = header[len("bytes="):].partition("-")
    try:
        if first == "":
            return min(int(last), size)
        start = int(first)
        stop = min(int(last) + 1, size) if last else size
    except ValueError:
        return size
    return max(stop - start, 0) if start < size else 0


def traffic_since(server: Any, start: int = 0) -> Traffic:
    """Requests and bytes of the server's log entries from index `start` on."""
    log = server.requests[start:]
    total = 0
    sizes: dict[str, int] = {}
    for method, path, header in log:
        if method != "GET":
            continue
        if path not in sizes:
            file = Path(server.directory, *[p for p in path.split("/") if p])
            sizes[path] = file.stat().st_size if file.is_file() else 0
        total += _range_length(header, sizes[path])
    return Traffic(len(log), total)
