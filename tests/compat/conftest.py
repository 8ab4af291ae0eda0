"""Fixtures for the bridge tests; async tests (zarr-python's StoreTests) run on zarr-python's own event loop."""

from __future__ import annotations

import inspect
import uuid
import pytest

from zarrlayer.testing.servers import create_bucket, moto_server


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests to completion on zarr-python's loop (no pytest-asyncio needed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    from zarr.core.sync import sync

    names = pyfuncitem._fixtureinfo.argnames
    sync(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    """The moto S3 server's URL (127.0.0.1, started once per run)."""
    return moto_server().endpoint_url


@pytest.fixture(scope="session")
def bucket(s3_endpoint: str) -> str:
    return create_bucket(s3_endpoint, "zarrlayer-compat-tests")


@pytest.fixture
def s3_root(bucket: str) -> str:
    """A fresh, empty `bucket/<prefix>` for one test."""
    return f"{bucket}/{uuid.uuid4().hex[:12]}"
