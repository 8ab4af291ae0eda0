"""Issue 14.7 and FsspecStore.from_mapper / from_upath (issue 11): remote URLs as users write them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest

import zarrlayer
from zarrlayer import config
from zarrlayer.core.sync import sync
from zarrlayer.errors import RemoteStoreError
from zarrlayer.storage.fsspec import FsspecStore
from zarrlayer.testing.servers import LoopbackHTTPServer, create_bucket, http_server, moto_server, s3fs_options

DATA = np.arange(10, dtype="i4")


@pytest.fixture(scope="module")
def local_array(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("urls") / "data.zarr"
    zarrlayer.create_array(str(root), data=DATA, chunks=(4,))
    return root


# -- chained URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["simplecache", "filecache", "blockcache"])
def test_chained_urls_over_files_take_missing_keys(local_array: Path, protocol: str) -> None:
    url = f"{protocol}::file://{local_array}"
    store = FsspecStore.from_url(url)
    assert sync(store.get_partial_values([("zarr.json", None), ("missing", None), ("c/0", None)]))[1] is None
    assert sync(store.get("missing")) is None
    assert zarrlayer.open_array(url, mode="r")[:].tolist() == DATA.tolist()
    assert isinstance(zarrlayer.open(url, mode="r"), zarrlayer.Array)  # format probing asks for .zarray too


@pytest.mark.parametrize("protocol,in_flight", [("simplecache", None), ("filecache", 1), ("blockcache", 1)])
def test_caching_filesystems_with_an_unlocked_index_take_one_request_at_a_time(local_array: Path, protocol: str, in_flight: int | None) -> None:
    store = FsspecStore.from_url(f"{protocol}::file://{local_array}")
    assert store.max_concurrency == (in_flight or zarrlayer.config.get().max_concurrency)
    for _ in range(5):  # fsspec's filecache index, read by several threads at once, failed about one read in eight
        values = sync(store.get_partial_values([(f"c/{i}", None) for i in range(3)] + [("zarr.json", None)]))
        assert all(v is not None for v in values)


@pytest.mark.parametrize("protocol", ["simplecache", "filecache", "blockcache"])
def test_chained_urls_over_s3_take_missing_keys(protocol: str) -> None:
    endpoint = moto_server().endpoint_url
    bucket = create_bucket(endpoint, "zarrlayer-chained")
    location = f"s3://{bucket}/{uuid.uuid4().hex[:8]}/data.zarr"
    zarrlayer.create_array(location, data=DATA, chunks=(4,), storage_options=s3fs_options(endpoint))
    url = f"{protocol}::{location}"
    options = {"s3": s3fs_options(endpoint)}
    assert zarrlayer.open_array(url, mode="r", storage_options=options)[:].tolist() == DATA.tolist()
    assert isinstance(zarrlayer.open(url, mode="r", storage_options=options), zarrlayer.Array)


# -- signed URLs ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(local_array: Path) -> Iterator[LoopbackHTTPServer]:
    with http_server(local_array.parent) as srv:
        yield srv


def test_a_query_string_stays_at_the_end_of_each_key(server: LoopbackHTTPServer) -> None:
    server.reset_counts()
    store = FsspecStore.from_url(f"{server.url}/data.zarr?sig=S3CR3T&expires=1")
    assert zarrlayer.open_array(store, mode="r")[:].tolist() == DATA.tolist()
    paths = {path for _, path, _ in server.requests}
    assert "/data.zarr/zarr.json?sig=S3CR3T&expires=1" in paths
    assert "/data.zarr/c/0?sig=S3CR3T&expires=1" in paths
    assert all(path.endswith("?sig=S3CR3T&expires=1") for path in paths)
    assert "S3CR3T" not in store.url and "S3CR3T" not in repr(store)


# -- servers that cannot list -----------------------------------------------------------------


@pytest.fixture(scope="module")
def unlisted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LoopbackHTTPServer, Path]]:
    root = tmp_path_factory.mktemp("unlisted")
    group = zarrlayer.open_group(str(root / "ds.zarr"), mode="w")
    group.create_array("x", data=np.arange(3), chunks=(3,), dimension_names=["x"])
    group.create_array("v", data=np.arange(3.0), chunks=(3,), dimension_names=["x"])
    with http_server(root, listings=False) as srv:
        yield srv, root / "ds.zarr"


@pytest.mark.parametrize("backend", ["fsspec", "obstore"])
def test_a_group_that_cannot_be_listed_says_what_to_do(unlisted: tuple[LoopbackHTTPServer, Path], backend: str) -> None:
    server, _ = unlisted
    with config.override(remote_backend=backend):
        group = zarrlayer.open_group(f"{server.url}/ds.zarr", mode="r")
        with pytest.raises(RemoteStoreError, match="no directory listings") as info:
            list(group.keys())
        assert "consolidate" in str(info.value).lower() and "path=" in str(info.value)
        assert zarrlayer.open_array(f"{server.url}/ds.zarr", path="v", mode="r")[:].tolist() == [0.0, 1.0, 2.0]


@pytest.mark.filterwarnings("ignore:no consolidated metadata:RuntimeWarning")
@pytest.mark.parametrize("backend", ["fsspec", "obstore"])
def test_the_xarray_engine_raises_instead_of_an_empty_dataset(
    unlisted: tuple[LoopbackHTTPServer, Path], backend: str
) -> None:
    xr = pytest.importorskip("xarray")
    server, _ = unlisted
    with config.override(remote_backend=backend), pytest.raises(RemoteStoreError, match="consolidate"):
        xr.open_dataset(f"{server.url}/ds.zarr", engine="zarrlayer")


def test_a_missing_directory_on_a_listing_server_is_just_empty(server: LoopbackHTTPServer) -> None:
    store = FsspecStore.from_url(f"{server.url}/data.zarr")
    assert sync(_names(store, "nothing/")) == []


async def _names(store: FsspecStore, prefix: str) -> list[str]:
    return [name async for name in store.list_dir(prefix)]


# -- from_mapper / from_upath (zarr-python 3's signatures) ------------------------------------


def test_from_mapper(local_array: Path) -> None:
    store = FsspecStore.from_mapper(fsspec.get_mapper(f"file://{local_array}"), read_only=True)
    assert store.read_only
    assert zarrlayer.open_array(store, mode="r")[:].tolist() == DATA.tolist()
    with pytest.raises(TypeError, match="FSMap"):
        FsspecStore.from_mapper({"zarr.json": b"{}"})


def test_from_upath(local_array: Path) -> None:
    upath = pytest.importorskip("upath")
    store = FsspecStore.from_upath(upath.UPath(f"file://{local_array}/"), read_only=True)
    assert zarrlayer.open_array(store, mode="r")[:].tolist() == DATA.tolist()
    with pytest.raises(TypeError, match="UPath"):
        FsspecStore.from_upath(str(local_array))


def test_from_upath_and_from_mapper_have_zarr_python_signatures() -> None:
    import inspect

    zarr_storage = pytest.importorskip("zarr.storage")
    for name in ("from_upath", "from_mapper", "from_url"):
        ours = inspect.signature(getattr(FsspecStore, name)).parameters
        theirs = inspect.signature(getattr(zarr_storage.FsspecStore, name)).parameters
        for parameter in theirs.values():
            assert parameter.name in ours or any(p.kind is p.VAR_KEYWORD for p in ours.values()), (name, parameter.name)
