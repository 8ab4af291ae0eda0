"""The engine's remote route (no sync fast path): HTTP and S3 (moto, via s3fs and obstore) servers on 127.0.0.1."""

from __future__ import annotations

import numpy as np
import pytest

import zarrlayer
from zarrlayer.testing import servers


def test_plain_sharded_and_consolidated_reads_over_http(tmp_path):
    ref = np.random.default_rng(7).random((30, 20))
    group = zarrlayer.open_group(str(tmp_path / "data.zarr"), mode="w", zarr_format=3)
    group.create_array("plain", data=ref, chunks=(4, 4))
    group.create_array("sharded", data=ref, chunks=(2, 5), shards=(10, 10))
    group.create_group("sub").create_array("v", data=np.arange(5), chunks=(2,))
    zarrlayer.consolidate_metadata(str(tmp_path / "data.zarr"))

    with servers.http_server(tmp_path) as server:
        remote = zarrlayer.open_group(f"{server.url}/data.zarr", mode="r")
        assert not remote.store.supports_sync
        assert remote.metadata.consolidated is not None and list(remote) == ["plain", "sharded", "sub"]
        plain, sharded = remote["plain"], remote["sharded"]
        assert np.array_equal(plain[...], ref) and np.array_equal(sharded[...], ref)
        assert np.array_equal(plain[3:29:4, ::3], ref[3:29:4, ::3])
        assert np.array_equal(sharded.vindex[[0, 29, 15], [19, 0, 7]], ref[[0, 29, 15], [19, 0, 7]])
        server.reset_counts()
        assert np.array_equal(sharded[3:29:4, ::3], ref[3:29:4, ::3])
        ranged = [r for r in server.requests if r[2] is not None]
        assert ranged and len(ranged) == server.request_count  # only index reads and inner-chunk ranges
        assert server.request_count <= 2 * 6  # one index read and one coalesced range per shard
        assert np.array_equal(remote["sub/v"][...], np.arange(5))
        assert np.array_equal(zarrlayer.open_array(f"{server.url}/data.zarr/plain", mode="r")[5], ref[5])


@pytest.mark.parametrize("backend", ["fsspec", "obstore"])
def test_writes_and_reads_through_s3_on_moto(backend):
    from zarrlayer import config

    with servers.moto_server() as endpoint:
        bucket = servers.create_bucket(endpoint, f"core-{backend}")
        if backend == "fsspec":
            url, options = f"s3://{bucket}/data.zarr", servers.s3fs_options(endpoint)
        else:
            url, options = f"s3://{bucket}/data.zarr", servers.obstore_s3_options(endpoint)
        with config.override(remote_backend=backend):
            root = zarrlayer.open_group(url, mode="w", storage_options=options)
            assert not root.store.supports_sync
            ref = np.random.default_rng(11).random((20, 12))
            plain = root.create_array("plain", shape=ref.shape, dtype="f8", chunks=(4, 5), fill_value=0)
            plain[...] = ref
            plain[0:4, 0:5] = 0  # a whole chunk of fill: deleted remotely
            ref[0:4, 0:5] = 0
            plain[5:7, 3:9] = -1  # partial chunks: read, merged, written back
            ref[5:7, 3:9] = -1
            sharded = root.create_array("sharded", data=ref, chunks=(2, 3), shards=(10, 6))
            sharded[1, 1] = 42
            zarrlayer.consolidate_metadata(url, storage_options=options)
            again = zarrlayer.open_group(url, mode="r", storage_options=options)
            assert list(again) == ["plain", "sharded"] and again.metadata.consolidated is not None
            assert np.array_equal(again["plain"][...], ref)
            assert "c/0/0" not in [k[len("plain/"):] for k in again["plain"]._stored_keys()]
            expect = ref.copy()
            expect[1, 1] = 42
            assert np.array_equal(again["sharded"][...], expect)
            assert np.array_equal(again["sharded"][3:19:4, ::5], expect[3:19:4, ::5])
