"""Disk-cache namespaces of remote stores: the same URL on another endpoint is another dataset."""

from __future__ import annotations

import pickle

import numpy as np

import zarrlayer
from zarrlayer.cache import DiskCacheStore
from zarrlayer.storage.fsspec import FsspecStore
from zarrlayer.storage.obstore import ObjectStore
from zarrlayer.testing.servers import create_bucket, moto_server, obstore_s3_options, s3fs_options

_URL = "s3://bucket/data.zarr"
_SECRET = "the-secret-access-key"


def _fsspec(endpoint: str, secret: str = _SECRET) -> FsspecStore:
    options = {"key": "AKIDEXAMPLE", "secret": secret, "client_kwargs": {"endpoint_url": endpoint}}
    return FsspecStore.from_url(_URL, storage_options=options)


def _obstore(endpoint: str, secret: str = _SECRET) -> ObjectStore:
    return ObjectStore.from_url(
        _URL, access_key_id="AKIDEXAMPLE", secret_access_key=secret, endpoint=endpoint, region="us-east-1"
    )


def test_same_url_on_another_endpoint_gets_its_own_namespace(tmp_path) -> None:
    for make in (_fsspec, _obstore):
        here, there = make("http://127.0.0.1:9001"), make("http://127.0.0.1:9002")
        assert here.url == there.url == _URL
        assert here.cache_identity != there.cache_identity
        a = DiskCacheStore(here, tmp_path / "cache", "1 MiB")
        b = DiskCacheStore(there, tmp_path / "cache", "1 MiB")
        assert a.namespace != b.namespace


def test_namespace_is_stable_across_copies_and_credentials_and_never_shows_them(tmp_path) -> None:
    for make in (_fsspec, _obstore):
        store = make("http://127.0.0.1:9001")
        rotated = make("http://127.0.0.1:9001", secret="a-rotated-secret-key")
        copy = pickle.loads(pickle.dumps(store))
        namespaces = {DiskCacheStore(s, tmp_path / "cache", "1 MiB").namespace for s in (store, rotated, copy)}
        assert len(namespaces) == 1
        assert _SECRET not in store.cache_identity and "AKIDEXAMPLE" not in store.cache_identity
        assert "127.0.0.1:9001" in store.cache_identity


def test_a_cached_remote_array_reads_warm_and_bit_exact(tmp_path) -> None:
    endpoint = moto_server().endpoint_url
    bucket = create_bucket(endpoint, "zarrlayer-namespaces")
    data = np.arange(64, dtype="int32").reshape(8, 8)
    root = f"s3://{bucket}/ns.zarr"
    zarrlayer.create_array(root, shape=data.shape, chunks=(4, 4), dtype="int32",
                           storage_options=s3fs_options(endpoint))[...] = data
    for options, backend in ((s3fs_options(endpoint), "fsspec"), (obstore_s3_options(endpoint), "obstore")):
        with zarrlayer.config.override(remote_backend=backend):
            cache = {"disk": {"directory": str(tmp_path / "cache"), "max_bytes": "1 MiB"}}
            first = zarrlayer.open_array(root, mode="r", storage_options=options, cache=cache)
            np.testing.assert_array_equal(first[...], data)
            again = zarrlayer.open_array(root, mode="r", storage_options=options, cache=cache)
            np.testing.assert_array_equal(again[...], data)
            stats = again.store.stats()
            assert stats["misses"] == 0 and stats["upstream_requests"] == 0


def test_azure_accounts_are_told_apart_without_their_keys() -> None:
    from obstore.store import AzureStore

    key = "c2VjcmV0a2V5MTIzNDU2Nzg="
    one = ObjectStore(AzureStore("cont", prefix="x", account_name="acct1", account_key=key))
    two = ObjectStore(AzureStore("cont", prefix="x", account_name="acct2", account_key=key))
    assert one.url == two.url == "az://cont/x"
    assert one.cache_identity != two.cache_identity
    assert key not in one.cache_identity + two.cache_identity


def test_http_logins_headers_and_tokens_stay_out_of_the_identity() -> None:
    store = FsspecStore.from_url(
        "http://alice:pa55word@127.0.0.1:9/data.zarr?token=t0k3n&x=1",
        storage_options={"headers": {"X-Api-Key": "k3y-value", "Accept": "application/json"}},
    )
    identity = store.cache_identity
    for secret in ("pa55word", "t0k3n", "k3y-value", "Basic "):
        assert secret not in identity
    assert "127.0.0.1:9/data.zarr" in identity and "application/json" in identity
