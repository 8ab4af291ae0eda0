"""Single flight: concurrent misses of one cache entry make one upstream read.

Threads and tasks (on any event loop) that miss the same entry share one
`concurrent.futures.Future`: the first caller (the leader) fetches and publishes the
result, the others wait for it. A leader that is cancelled makes its waiters retry.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from concurrent.futures import Future
from typing import Any

__all__ = ["LeaderCancelled", "SingleFlight"]


class LeaderCancelled(Exception):
    """Published to waiters when the leader was cancelled before it had a result; they retry."""


class SingleFlight:
    """A registry of in-flight fetches keyed by cache entry; thread-safe and loop-agnostic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Hashable, Future[Any]] = {}

    def claim(self, key: Hashable) -> tuple[bool, Future[Any]]:
        """`(True, future)` when the caller leads the fetch of `key`, else `(False, future)` to wait on."""
        with self._lock:
            future = self._flights.get(key)
            if future is not None:
                return False, future
            future = self._flights[key] = Future()
            return True, future

    def finish(
        self, key: Hashable, future: Future[Any], result: Any = None, error: BaseException | None = None
    ) -> None:
        """Publish the leader's `result` (or `error`) for `key` and retire the flight."""
        with self._lock:
            if self._flights.get(key) is future:
                del self._flights[key]
        if future.done():
            return
        if error is None:
            future.set_result(result)
        elif isinstance(error, Exception):
            future.set_exception(error)
        else:
            future.set_exception(LeaderCancelled(f"the fetch of {key!r} was cancelled"))

    def in_flight(self) -> int:
        """How many fetches are in flight now."""
        with self._lock:
            return len(self._flights)
