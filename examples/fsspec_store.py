"""FsspecStore: any fsspec filesystem; here S3 through s3fs, against a loopback S3 server (moto).

Against real S3 only the storage options change (credentials from your environment or
profile, no endpoint_url).
"""

from __future__ import annotations

import numpy as np

import zarrlayer
from zarrlayer.storage import FsspecStore
from zarrlayer.testing.servers import create_bucket, moto_server, s3fs_options


def main() -> None:
    with moto_server() as endpoint:
        create_bucket(endpoint, "example-bucket")
        options = s3fs_options(endpoint)          # key, secret, client_kwargs={"endpoint_url": ...}

        store = FsspecStore.from_url("s3://example-bucket/data.zarr", storage_options=options)
        print(f"store: {store!r}")                # no credentials in the repr
        root = zarrlayer.create_group(store=store)
        wind = root.create_array("wind", shape=(8, 8), chunks=(4, 4), dtype="float32")
        wind[:] = np.arange(64, dtype="float32").reshape(8, 8)

        # Implicit creation does the same from a URL and storage_options.
        again = zarrlayer.open_array("s3://example-bucket/data.zarr", path="wind", mode="r",
                                     storage_options=options)
        print(f"read back over S3: sum = {again[:].sum():.0f}")
        keys = sorted(zarrlayer.open_group("s3://example-bucket/data.zarr", mode="r",
                                           storage_options=options).array_keys())
        print(f"arrays in the bucket: {keys}")
    print("fsspec store: OK")


if __name__ == "__main__":
    main()
