"""Every ```python block of the guide (docs/*.md) runs, in page order, in a fresh interpreter.

Each page runs in its own temp directory (relative paths like data/x.zarr land there) with
HOME and the cache directory inside it. s3:// URLs reach a loopback S3 server (moto) through
the standard AWS environment variables, as they would reach MinIO; its bucket `bucket` holds
what the pages open. SETUP creates, before a block, what the page's prose says exists there (an
opened `array`, a dataset `ds`). A block that cannot run standalone is preceded by `<!-- skip: reason -->`
in the page; SKIP_ALLOWED lists those, so a new skip is a deliberate change here too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _run_page import blocks

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(p.name for p in DOCS.glob("*.md") if "```python" in p.read_text())

# Code run before block N (0 = the first) of a page: what its prose says exists at that point.
SETUP: dict[str, dict[int, str]] = {
    "arrays-and-groups.md": {
        0: "import numpy as np\nmask = np.arange(360) % 7 == 0",
        3: "buffer = np.empty((2, 180, int(mask.sum())), dtype='float32')  # for out=",
    },
    "dask.md": {
        0: textwrap.dedent(
            """
            import zarrlayer
            from _sandbox import write_climate
            write_climate("data/climate.zarr")
            array = zarrlayer.open_array("data/climate.zarr", path="temperature", mode="r")
            """
        )
    },
    "xarray.md": {
        0: textwrap.dedent(
            """
            from _sandbox import climate_dataset, write_climate, write_hierarchy
            write_climate("data/climate.zarr")
            write_hierarchy("data/hierarchy.zarr")
            next_month = climate_dataset(days=31, start="2001-05-01")
            """
        ),
        # the writing examples start from a dataset in memory (dask-backed ones must align with chunks)
        1: "ds = climate_dataset(days=120)",
    },
    "storage.md": {0: "import fsspec\nfs = fsspec.filesystem('memory')"},
}
# Pages whose blocks are separate examples (each block runs in a fresh working directory).
FRESH_DIR_PER_BLOCK = {"storage.md"}
# Absolute paths in the pages, moved into the page's temp directory.
REWRITES = {"caching.md": [('"/scratch/zarrlayer"', '"scratch/zarrlayer"')]}
SKIP_ALLOWED: dict[str, int] = {"dask.md": 1}  # its LocalCluster block (20 s): tests/integrations covers it

_KEY, _SECRET, _REGION = "docs-key", "docs-secret", "us-east-1"


@pytest.fixture(scope="module")
def s3_endpoint() -> str:
    """A loopback S3 server whose bucket `bucket` holds data.zarr, example.zarr and era5.zarr."""
    pytest.importorskip("moto")
    import zarrlayer
    from zarrlayer.integrations.xarray import to_zarrlayer
    from zarrlayer.testing.servers import create_bucket, moto_server, s3fs_options

    sys.path.insert(0, str(Path(__file__).parent))
    from _sandbox import climate_dataset

    endpoint = moto_server().__enter__()
    create_bucket(endpoint, "bucket")
    options = s3fs_options(endpoint)
    zarrlayer.create_group("s3://bucket/example.zarr", storage_options=options)
    data = zarrlayer.create_group("s3://bucket/data.zarr", storage_options=options)
    data.create_array("temperature", shape=(12, 8), chunks=(4, 8), dtype="float32")[:] = np.ones((12, 8), "f4")
    to_zarrlayer(climate_dataset(), "s3://bucket/era5.zarr", mode="w", storage_options=options,
                 encoding={"temperature": {"chunks": (120, 18, 36)}})  # whole-time chunks, as xarray.md's writes need
    _allow_anonymous_reads(endpoint, "bucket")  # the pages read with {"anon": True}, as for public data
    return endpoint


def _allow_anonymous_reads(endpoint: str, bucket: str) -> None:
    import botocore.session

    client = botocore.session.get_session().create_client(
        "s3", endpoint_url=endpoint, region_name=_REGION, aws_access_key_id=_KEY, aws_secret_access_key=_SECRET
    )
    statement = {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"],
                 "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


def _environment(home: Path, endpoint: str) -> dict[str, str]:
    aws = home / ".aws"
    aws.mkdir(parents=True)
    profiles = "".join(f"[{p}]\naws_access_key_id = {_KEY}\naws_secret_access_key = {_SECRET}\n" for p in ("default", "work"))
    (aws / "credentials").write_text(profiles)
    (aws / "config").write_text(f"[default]\nregion = {_REGION}\n[profile work]\nregion = {_REGION}\n")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FSSPEC_"))}
    return {
        **keep,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(ROOT)]),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": _REGION,
        "AWS_DEFAULT_REGION": _REGION,
        "AWS_ACCESS_KEY_ID": _KEY,
        "AWS_SECRET_ACCESS_KEY": _SECRET,
        "NO_PROXY": "127.0.0.1,localhost",
    }


def test_every_page_with_code_is_checked() -> None:
    assert {"index.md", "storage.md", "xarray.md"} <= set(PAGES)
    assert set(SETUP) | set(REWRITES) | FRESH_DIR_PER_BLOCK <= set(PAGES)


def test_skips_are_few_and_give_a_reason() -> None:
    skips = {page: sum(1 for _, _, skip in blocks((DOCS / page).read_text()) if skip) for page in PAGES}
    assert {p: n for p, n in skips.items() if n} == SKIP_ALLOWED


@pytest.mark.parametrize("page", PAGES)
def test_page_code_runs(page: str, tmp_path: Path, s3_endpoint: str) -> None:
    source = DOCS / page
    for old, new in REWRITES.get(page, []):
        text = source.read_text()
        assert old in text, f"{page} no longer contains {old!r}: update REWRITES"
        source = tmp_path / page
        source.write_text(text.replace(old, new))
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("_run_page.py")), str(source), json.dumps(SETUP.get(page, {})),
         *(["--fresh-dir"] if page in FRESH_DIR_PER_BLOCK else [])],
        cwd=work, env=_environment(tmp_path / "home", s3_endpoint), capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, f"a code block of docs/{page} failed:\n{result.stdout}\n{result.stderr[-4000:]}"
    ran = int(result.stdout.split("ran ")[-1].split(",")[0])
    assert ran == sum(1 for _, _, skip in blocks((DOCS / page).read_text()) if not skip)
