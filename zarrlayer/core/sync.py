"""One background event loop that runs every coroutine a synchronous caller needs.

`sync(coro)` is safe from many threads at once (dask's threaded scheduler) and from
inside a running event loop (Jupyter): the coroutine always runs on zarrlayer's own
loop thread, never on the caller's loop. After a fork (dask worker processes started
by fork) the child starts a fresh loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["get_loop", "sync", "in_loop_thread"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_pid: int | None = None


def get_loop() -> asyncio.AbstractEventLoop:
    """The process's zarrlayer event loop, started on first use (and anew after a fork)."""
    global _loop, _thread, _pid
    loop = _loop
    if loop is not None and _pid == os.getpid() and not loop.is_closed():
        return loop
    with _lock:
        if _loop is None or _pid != os.getpid() or _loop.is_closed():
            new_loop = asyncio.new_event_loop()
            thread = threading.Thread(target=new_loop.run_forever, name="zarrlayer-io", daemon=True)
            thread.start()
            _loop, _thread, _pid = new_loop, thread, os.getpid()
        return _loop


def in_loop_thread() -> bool:
    """Whether the caller runs on zarrlayer's loop thread (where `sync` would deadlock)."""
    return _thread is not None and threading.current_thread() is _thread and _pid == os.getpid()


def sync(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run `coro` on the background loop and return its result (or raise its error)."""
    if in_loop_thread():
        coro.close()
        raise RuntimeError(
            "zarrlayer's synchronous API was called from its own event-loop thread; "
            "use the async API (await ...) inside coroutines run by zarrlayer"
        )
    future = asyncio.run_coroutine_threadsafe(coro, get_loop())
    return future.result(timeout)
