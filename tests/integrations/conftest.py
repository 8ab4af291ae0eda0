"""Fixtures of the integration tests (helpers live in integ_helpers.py)."""

from __future__ import annotations

import pytest
from integ_helpers import CountingStore, cf_dataset


@pytest.fixture
def cf_ds():
    """A fresh CF test dataset."""
    return cf_dataset()


@pytest.fixture
def counting_store():
    """The CountingStore class (a WrapperStore that records the keys it reads)."""
    return CountingStore
