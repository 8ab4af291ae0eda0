"""0-d arrays of variable-length strings and bytes (and a fixed dtype), both formats, against zarr-python.

Found by xarray's `test_roundtrip_stringdtype_zarr_v3`: a 0-d vlen array could be neither
written (the 0-d value was stored as the item) nor read (a 0-d object selection is an item,
not a view). Each case is written by both libraries; each reads the other's, and the stored
files are the same bytes.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarrlayer

zarr = pytest.importorskip("zarr")

CASES = [
    pytest.param(3, "str", "héllo wörld", id="v3-str"),
    pytest.param(2, "str", "héllo wörld", id="v2-str"),
    pytest.param(3, "bytes", b"ab\x00\xffc", id="v3-bytes"),
    pytest.param(2, "bytes", b"ab\x00\xffc", id="v2-bytes"),
    pytest.param(3, "int32", -7, id="v3-int32"),
    pytest.param(2, "int32", -7, id="v2-int32"),
]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _item(values: Any) -> Any:
    """The one element of a 0-d result (a 0-d array, or the scalar zarrlayer and zarr-python return for `a[...]`)."""
    return values[()] if isinstance(values, np.ndarray) else values


def _peer_dtype(kind: str) -> Any:
    return zarr.dtype.VariableLengthBytes() if kind == "bytes" else str if kind == "str" else kind


@pytest.mark.parametrize("zarr_format, kind, value", CASES)
def test_zero_dim_round_trip_with_zarr_python(tmp_path: Path, zarr_format: int, kind: str, value: Any) -> None:
    theirs, ours = tmp_path / "zarr_python", tmp_path / "zarrlayer"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        za = zarr.create_array(store=str(theirs), shape=(), dtype=_peer_dtype(kind), zarr_format=zarr_format)
        za[...] = value
    la = zarrlayer.create_array(
        store=str(ours), shape=(), dtype=str if kind == "str" else kind, zarr_format=zarr_format
    )
    la[...] = value
    assert _item(la[...]) == value
    if isinstance(value, (str, bytes)):
        assert type(_item(la[...])) is type(value)

    got = zarrlayer.open_array(str(theirs), mode="r")[...]
    assert np.shape(got) == () and _item(got) == value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = np.asarray(zarr.open_array(str(ours), mode="r")[...])
    assert peer.shape == () and _item(peer) == value

    mine, peers = _files(ours), _files(theirs)
    assert sorted(mine) == sorted(peers)
    for key, data in peers.items():
        if key.endswith(("zarr.json", ".zarray", ".zattrs")):
            assert json.loads(mine[key]) == json.loads(data), key
        else:
            assert mine[key] == data, f"chunk {key} differs from zarr-python's"


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("kind, value", [("str", "wörd"), ("bytes", b"\x00by\xfe")])
def test_zero_dim_vlen_overwrite_and_fill(tmp_path: Path, zarr_format: int, kind: str, value: Any) -> None:
    """A second write replaces the stored item; a never-written 0-d array reads its fill value."""
    dtype = str if kind == "str" else kind
    a = zarrlayer.create_array(store=str(tmp_path / "a"), shape=(), dtype=dtype, zarr_format=zarr_format)
    assert _item(a[()]) == value[:0]
    a[...] = value
    assert _item(a[...]) == value
    a[()] = value[::-1]
    assert _item(zarrlayer.open_array(str(tmp_path / "a"), mode="r")[()]) == value[::-1]


def test_xarray_zero_dim_string_variable_round_trips(tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    from zarrlayer.integrations.xarray import to_zarrlayer

    ds = xr.Dataset({"s": ((), np.array("scalar", dtype=np.dtypes.StringDType())), "b": ((), np.array(b"by"))})
    for zarr_format in (2, 3):
        path = str(tmp_path / f"v{zarr_format}.zarr")
        to_zarrlayer(ds, path, zarr_format=zarr_format)
        for engine in ("zarrlayer", "zarr"):
            with xr.open_dataset(path, engine=engine) as back:
                assert back["s"].values[()] == "scalar", (zarr_format, engine)
                assert back["b"].values[()] == b"by", (zarr_format, engine)


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("kind, values", [("str", ["ab", "ç"]), ("bytes", [b"ab\x00", b"\x00c\x00"])])
def test_one_vlen_element_written_by_itself(tmp_path: Path, zarr_format: int, kind: str, values: list) -> None:
    """The same kind in one dimension: `a[i] = item` (a 0-d value) stores the item, trailing NULs kept."""
    a = zarrlayer.create_array(
        store=str(tmp_path / "a"), shape=(3,), chunks=(2,), dtype=str if kind == "str" else kind,
        zarr_format=zarr_format,
    )  # fmt: skip
    a[:2] = values
    a[2] = values[1]
    a[0] = values[1]
    assert list(zarrlayer.open_array(str(tmp_path / "a"), mode="r")[...]) == [values[1], values[1], values[1]]
