"""pytest plugin: run xarray's own zarr backend tests through zarrlayer.

Loaded with `-p zarrlayer_xarray_suite` (this directory on PYTHONPATH). The variant comes
from the environment variable ZARRLAYER_XARRAY_VARIANT:

- ``baseline``: nothing is changed (engine="zarr" and xarray's writer);
- ``reads``: every open with engine="zarr" (open_dataset, open_zarr, open_datatree,
  open_groups, open_mfdataset) uses engine="zarrlayer" with the same arguments;
- ``writes``: `Dataset.to_zarr`, `DataArray.to_zarr` and `DataTree.to_zarr` call
  `to_zarrlayer` with the same arguments;
- ``both``: reads and writes.

Test bodies are untouched: the routing is at xarray's backend lookup and at its writer
functions, so every argument a test passes reaches zarrlayer as a user's call would.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import pytest

__all__ = ["EXCLUDED", "VARIANTS", "variant"]

VARIANTS = ("baseline", "reads", "writes", "both")

# Tests that count calls on zarr-python's own classes (instrumented stores, metadata
# request counts): they measure zarr-python, not the engine, and cannot apply to another
# engine. Matched as substrings of the test node id; left out of every count.
EXCLUDED: dict[str, str] = {
    "TestInstrumentedZarrStore": "counts calls on a zarr-python KVStore wrapped in MagicMocks",
    "test_avoid_excess_metadata_calls": "counts zarr-python Group.__getitem__ calls while opening",
    "TestZarrDictStore::test_indexing": "counts calls on zarr-python's AsyncArray/AsyncOIndex/AsyncVIndex.getitem",
    "test_concurrent_load_multiple_objects": "counts calls on zarr-python's AsyncArray.getitem",
    "test_async_load_multiple_variables": "counts calls on zarr-python's AsyncArray.getitem",
}


def variant() -> str:
    """The variant this run uses (ZARRLAYER_XARRAY_VARIANT, default 'baseline')."""
    name = os.environ.get("ZARRLAYER_XARRAY_VARIANT", "baseline")
    if name not in VARIANTS:
        raise pytest.UsageError(f"ZARRLAYER_XARRAY_VARIANT must be one of {VARIANTS}, found {name!r}")
    return name


def _route_reads() -> None:
    from xarray.backends import plugins
    from xarray.backends.zarr import ZarrBackendEntrypoint

    from zarrlayer.integrations.xarray import ZarrlayerBackendEntrypoint

    original = plugins.get_backend

    def get_backend(engine: Any) -> Any:
        if engine == "zarr" or engine is ZarrBackendEntrypoint:
            return ZarrlayerBackendEntrypoint()
        return original(engine)

    plugins.get_backend = get_backend  # type: ignore[assignment]


def _route_writes() -> None:
    from xarray.backends import writers

    from zarrlayer.integrations.xarray import to_zarrlayer

    dataset_signature = inspect.signature(writers.to_zarr)
    tree_signature = inspect.signature(writers._datatree_to_zarr)

    def to_zarr(*args: Any, **kwargs: Any) -> Any:
        bound = dataset_signature.bind(*args, **kwargs)
        bound.apply_defaults()
        given = dict(bound.arguments)
        # what the user passed (Dataset.to_zarr forwards every keyword, defaults included)
        return to_zarrlayer(given.pop("dataset"), **given)

    def datatree_to_zarr(*args: Any, **kwargs: Any) -> Any:
        bound = tree_signature.bind(*args, **kwargs)
        given = dict(bound.arguments)
        given.update(given.pop("kwargs", {}))
        return to_zarrlayer(given.pop("dt"), **given)

    writers.to_zarr = to_zarr  # type: ignore[assignment]
    writers._datatree_to_zarr = datatree_to_zarr  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    name = variant()
    if name in ("reads", "both"):
        _route_reads()
    if name in ("writes", "both"):
        _route_writes()
    config.addinivalue_line("markers", "zarrlayer_excluded: counts calls on zarr-python internals")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Mirror zarr-python's `default_zarr_format` (set by xarray's fixtures) into zarrlayer's config.

    xarray's tests choose the format of new stores through `zarr.config`; a zarrlayer user
    sets the same thing with `zarrlayer.config.set(default_zarr_format=...)`.
    """
    if variant() == "baseline":
        yield
        return
    import zarr

    from zarrlayer import config

    with config.set(default_zarr_format=zarr.config.get("default_zarr_format")):
        yield


def pytest_report_header(config: pytest.Config) -> str:
    return f"zarrlayer xarray suite: variant={variant()}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(key in item.nodeid for key in EXCLUDED):
            item.add_marker(pytest.mark.zarrlayer_excluded)
