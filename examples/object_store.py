"""ObjectStore: obstore's Rust object-store clients; here S3 against a loopback S3 server (moto).

`ObjectStore.from_url` builds the obstore store for a URL; `ObjectStore(S3Store(...))`
wraps one you made (S3Store, GCSStore, AzureStore, HTTPStore, LocalStore...);
`zarrlayer.config.set(remote_backend="obstore")` makes implicit creation use obstore for URLs.
"""

from __future__ import annotations

import numpy as np

import zarrlayer
from zarrlayer.storage import ObjectStore
from zarrlayer.testing.servers import create_bucket, moto_server, obstore_s3_options


def main() -> None:
    import obstore
    from obstore.store import S3Store

    with moto_server() as endpoint:
        create_bucket(endpoint, "obstore-example")
        # from_url turns obstore's own retries off, so zarrlayer's retry policy is the one in force
        store = ObjectStore.from_url("s3://obstore-example/data.zarr", **obstore_s3_options(endpoint))
        print(f"store: {store!r}")
        root = zarrlayer.create_group(store=store, attributes={"backend": "obstore"})
        heights = root.create_array("heights", shape=(1000,), chunks=(250,), dtype="int16")
        heights[:] = np.arange(1000, dtype="int16")
        s3 = S3Store("obstore-example", prefix="data.zarr", **obstore_s3_options(endpoint))
        objects = sorted(meta["path"] for meta in obstore.list(s3).collect())
        print(f"objects under s3://obstore-example/data.zarr: {objects}")
        reader = zarrlayer.open_group(store=store.with_read_only(True), mode="r")
        print(f"read back through obstore: sum = {int(reader['heights'][:].sum())}")
    print("object store: OK")


if __name__ == "__main__":
    main()
