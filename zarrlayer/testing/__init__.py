"""Test helpers for store authors: the StoreTests conformance suite (needs pytest) and loopback servers.

`StoreTests` and its companions are imported on first use, so that `zarrlayer.testing.servers`
(used by the demo and the examples) works where pytest is not installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zarrlayer.testing.store_tests import BAD_KEYS, STORE_DATA, ReadOnlyStoreTests, StoreTests

__all__ = ["BAD_KEYS", "STORE_DATA", "ReadOnlyStoreTests", "StoreTests"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from zarrlayer.testing import store_tests

        return getattr(store_tests, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
