"""Test helpers for store authors: the StoreTests conformance suite (needs pytest)."""

from __future__ import annotations

from zarrlayer.testing.store_tests import BAD_KEYS, STORE_DATA, ReadOnlyStoreTests, StoreTests

__all__ = ["BAD_KEYS", "STORE_DATA", "ReadOnlyStoreTests", "StoreTests"]
