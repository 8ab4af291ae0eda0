"""to_zarrlayer: stores that xr.open_zarr (zarr-python) reads identically, with append and region writes."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from integ_helpers import cf_dataset, open_with_zarr, record_store_calls, write_with_zarr

xr = pytest.importorskip("xarray")
pytest.importorskip("zarr")
pytest.importorskip("dask")

from zarrlayer.errors import ModeError, NodeExistsError  # noqa: E402
from zarrlayer.integrations.xarray import InvalidWriteError, UnalignedWriteError, to_zarrlayer  # noqa: E402


def _zarr_read(path: str) -> "xr.Dataset":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_zarr(path).load()


def _later(ds: "xr.Dataset", days: int) -> "xr.Dataset":
    return ds.assign_coords(time=ds.time + np.timedelta64(days, "D"))


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("consolidated", [True, False])
def test_round_trip_matches_zarr_written_store(tmp_path, zarr_format, consolidated):
    ours, theirs = str(tmp_path / "ours.zarr"), str(tmp_path / "theirs.zarr")
    to_zarrlayer(cf_dataset(), ours, zarr_format=zarr_format, consolidated=consolidated)
    write_with_zarr(cf_dataset(), theirs, zarr_format=zarr_format, consolidated=consolidated)
    xr.testing.assert_identical(_zarr_read(ours), _zarr_read(theirs))
    xr.testing.assert_identical(xr.open_dataset(ours, engine="zarrlayer").load(), _zarr_read(theirs))
    if zarr_format == 3:
        meta = json.loads((tmp_path / "ours.zarr" / "temp" / "zarr.json").read_text())
        assert meta["dimension_names"] == ["time", "x"]
        root = json.loads((tmp_path / "ours.zarr" / "zarr.json").read_text())
        assert ("consolidated_metadata" in root) == consolidated
    else:
        zattrs = json.loads((tmp_path / "ours.zarr" / "temp" / ".zattrs").read_text())
        assert zattrs["_ARRAY_DIMENSIONS"] == ["time", "x"]
        assert (tmp_path / "ours.zarr" / ".zmetadata").exists() == consolidated


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_append_dim_matches_zarr(tmp_path, zarr_format):
    ours, theirs = str(tmp_path / "ours.zarr"), str(tmp_path / "theirs.zarr")
    to_zarrlayer(cf_dataset(), ours, zarr_format=zarr_format)
    write_with_zarr(cf_dataset(), theirs, zarr_format=zarr_format, consolidated=True)
    more = _later(cf_dataset(), 6).chunk(time=6)
    to_zarrlayer(more, ours, append_dim="time")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        more.to_zarr(theirs, append_dim="time")
    got = _zarr_read(ours)
    assert got.sizes["time"] == 12
    xr.testing.assert_identical(got, _zarr_read(theirs))
    xr.testing.assert_identical(xr.open_dataset(ours, engine="zarrlayer").load(), got)


def test_region_write(tmp_path):
    path = str(tmp_path / "r.zarr")
    to_zarrlayer(cf_dataset(), path, zarr_format=3)
    part = cf_dataset().isel(time=slice(3, 6))[["temp", "flag"]].drop_vars(["x", "lat"])
    part["temp"][:] = 42.0
    part["flag"][:] = 9
    to_zarrlayer(part, path, region={"time": slice(3, 6)})
    got = _zarr_read(path)
    assert (got["temp"].values[3:] == 42).all() and (got["flag"].values[3:] == 9).all()
    np.testing.assert_array_equal(got["temp"].values[:3], cf_dataset()["temp"].values[:3])


def test_dask_chunks_must_not_share_stored_chunks(tmp_path):
    path = str(tmp_path / "d.zarr")
    ds = cf_dataset()[["temp"]].chunk(time=2)
    ds["temp"].encoding = {"chunks": (3, 4)}
    with pytest.raises(UnalignedWriteError, match="race"):
        to_zarrlayer(ds, path)
    aligned = cf_dataset()[["temp"]].chunk(time=3)
    to_zarrlayer(aligned, str(tmp_path / "ok.zarr"), encoding={"temp": {"chunks": (3, 4)}})
    xr.testing.assert_identical(_zarr_read(str(tmp_path / "ok.zarr")), cf_dataset()[["temp"]])


def test_lazy_write_with_compute_false(tmp_path):
    path = str(tmp_path / "lazy.zarr")
    ds = cf_dataset().drop_vars("name").chunk(time=3)
    ds["temp"].encoding = {"chunks": (3, 2)}
    delayed = to_zarrlayer(ds, path, compute=False)
    assert np.isnan(xr.open_dataset(path, engine="zarrlayer")["temp"].values).all()
    delayed.compute()
    xr.testing.assert_identical(_zarr_read(path)["temp"], cf_dataset()["temp"])


def test_modes(tmp_path):
    path = str(tmp_path / "m.zarr")
    to_zarrlayer(cf_dataset(), path)
    with pytest.raises(NodeExistsError):
        to_zarrlayer(cf_dataset(), path)
    small = cf_dataset()[["flag"]]
    to_zarrlayer(small, path, mode="w")
    assert set(_zarr_read(path).data_vars) == {"flag"}
    with pytest.raises(ModeError):
        to_zarrlayer(small, path, mode="w", append_dim="time")
    with pytest.raises(ModeError):
        to_zarrlayer(small, path, mode="x")
    before = _zarr_read(path)
    with pytest.raises(ModeError, match="non-pre-existing variables"):
        new = cf_dataset()[["temp"]].isel(time=slice(0, 3)).drop_vars(["x", "lat"])
        to_zarrlayer(new, path, region={"time": slice(0, 3)})
    xr.testing.assert_identical(_zarr_read(path), before)


def test_group_and_v2_reader_compat(tmp_path):
    path, theirs = str(tmp_path / "g.zarr"), str(tmp_path / "theirs.zarr")
    to_zarrlayer(cf_dataset(), path, group="sub/inner", zarr_format=2)
    write_with_zarr(cf_dataset(), theirs, zarr_format=2, consolidated=True, group="sub/inner")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = xr.open_zarr(path, group="sub/inner").load()
        expected = xr.open_zarr(theirs, group="sub/inner").load()
    xr.testing.assert_identical(got, expected)
    xr.testing.assert_identical(got["temp"], cf_dataset()["temp"])
    xr.testing.assert_identical(open_with_zarr(path, group="sub/inner").load(), got)


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("engine", ["zarrlayer", "zarr"])
def test_rewrite_keeps_encoding(tmp_path, zarr_format, engine):
    """A dataset read with either engine writes back with its chunks, codecs and strings intact."""
    src, dst = str(tmp_path / "src.zarr"), str(tmp_path / "dst.zarr")
    write_with_zarr(cf_dataset(), src, zarr_format=zarr_format, consolidated=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to_zarrlayer(xr.open_dataset(src, engine=engine), dst, zarr_format=zarr_format)
    xr.testing.assert_identical(_zarr_read(dst), _zarr_read(src))
    name = "zarr.json" if zarr_format == 3 else ".zarray"
    ours = json.loads((tmp_path / "dst.zarr" / "temp" / name).read_text())
    theirs = json.loads((tmp_path / "src.zarr" / "temp" / name).read_text())
    for key in ("chunks", "chunk_grid", "codecs", "compressor", "fill_value"):
        assert ours.get(key) == theirs.get(key), key


def test_sharded_write_in_parallel(tmp_path):
    path = str(tmp_path / "sharded.zarr")
    ds = xr.Dataset({"v": (("y", "x"), np.arange(40 * 12, dtype="f4").reshape(40, 12))})
    ds = ds.chunk(y=20)
    to_zarrlayer(ds, path, encoding={"v": {"chunks": (5, 4), "shards": (20, 12)}})
    theirs = open_with_zarr(path)
    assert theirs["v"].encoding["shards"] == (20, 12) and theirs["v"].encoding["chunks"] == (5, 4)
    xr.testing.assert_identical(theirs.load(), ds.load())
    bad = tmp_path / "bad.zarr"
    with pytest.raises(UnalignedWriteError):
        to_zarrlayer(ds.chunk(y=10), str(bad), encoding={"v": {"chunks": (5, 4), "shards": (20, 12)}})
    assert not (bad / "v").exists()


def test_mode_a_adds_variables(tmp_path):
    path, theirs = str(tmp_path / "a.zarr"), str(tmp_path / "theirs.zarr")
    to_zarrlayer(cf_dataset()[["flag"]], path, zarr_format=2)
    to_zarrlayer(cf_dataset()[["temp"]], path, mode="a")
    write_with_zarr(cf_dataset()[["flag"]], theirs, zarr_format=2, consolidated=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cf_dataset()[["temp"]].to_zarr(theirs, mode="a")
    got = _zarr_read(path)
    assert set(got.data_vars) == {"flag", "temp"}
    xr.testing.assert_identical(got, _zarr_read(theirs))
    with pytest.raises(ValueError, match="already exist"):
        to_zarrlayer(cf_dataset()[["temp"]], path, mode="a", encoding={"temp": {"chunks": (2, 2)}})


def test_region_auto_finds_the_slice_from_coordinates(tmp_path):
    path = str(tmp_path / "auto.zarr")
    to_zarrlayer(cf_dataset(), path, zarr_format=3)
    part = cf_dataset()[["temp"]].isel(time=slice(2, 4))
    part["temp"][:] = -1.0
    to_zarrlayer(part.drop_vars("lat"), path, region="auto")
    got = _zarr_read(path)["temp"].values
    assert (got[2:4] == -1).all() and not (got[:2] == -1).any() and not (got[4:] == -1).any()
    stray = cf_dataset()[["temp"]].isel(time=[0, 3]).drop_vars("lat")
    with pytest.raises(ValueError, match="contiguous"):
        to_zarrlayer(stray, path, region="auto")


def _snapshot(path) -> dict:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def test_bad_input_changes_nothing(tmp_path):
    from zarrlayer.errors import ZarrlayerError

    path = tmp_path / "keep.zarr"
    to_zarrlayer(cf_dataset(), str(path), zarr_format=3)
    before = _snapshot(path)
    unaligned = cf_dataset()[["temp"]].chunk(time=2)
    bad_calls = [
        lambda: to_zarrlayer(unaligned, str(path), mode="w", encoding={"temp": {"chunks": (3, 4)}}),
        lambda: to_zarrlayer(cf_dataset(), str(path), mode="w", encoding={"temp": {"no_such_option": 1}}),
        lambda: to_zarrlayer(unaligned.rename(temp="new"), str(path), mode="a",
                             encoding={"new": {"chunks": (3, 4)}}),
        lambda: to_zarrlayer(cf_dataset()[["temp"]], str(path), region={"time": slice(0, 6, 2)}),
        lambda: to_zarrlayer(cf_dataset()[["flag"]], str(path), append_dim="nope"),
    ]
    for call in bad_calls:
        with pytest.raises(InvalidWriteError) as info:
            call()
        assert isinstance(info.value, ZarrlayerError) and isinstance(info.value, ValueError), info.value
        assert _snapshot(path) == before, info.value
    fresh = tmp_path / "fresh.zarr"
    with pytest.raises(UnalignedWriteError):
        to_zarrlayer(unaligned, str(fresh), encoding={"temp": {"chunks": (3, 4)}})
    assert not fresh.exists()


def test_dask_variables_are_written_without_a_lock(tmp_path, monkeypatch):
    calls = record_store_calls(monkeypatch)
    ds = cf_dataset()[["temp", "flag"]].chunk(time=3)
    to_zarrlayer(ds, str(tmp_path / "nolock.zarr"), encoding={"temp": {"chunks": (3, 2)}, "flag": {"chunks": (3,)}})
    assert [call["lock"] for call in calls] == [False]
    xr.testing.assert_identical(_zarr_read(str(tmp_path / "nolock.zarr")), cf_dataset()[["temp", "flag"]])


def test_the_dataset_and_encoding_passed_in_are_left_alone(tmp_path):
    ds = cf_dataset()
    ds["lead"].encoding = {"units": "hours"}
    encodings = {name: dict(var.encoding) for name, var in ds.variables.items()}
    user_encoding = {"flag": {"chunks": (3,)}}
    to_zarrlayer(ds, str(tmp_path / "a.zarr"), mode="w", encoding=user_encoding)
    to_zarrlayer(ds, str(tmp_path / "a.zarr"), mode="w", encoding=user_encoding)
    xr.testing.assert_identical(ds, cf_dataset())
    assert {name: var.encoding for name, var in ds.variables.items()} == encodings
    assert user_encoding == {"flag": {"chunks": (3,)}}
    assert all(isinstance(v.data, np.ndarray) for v in ds.variables.values())
    sharded = xr.Dataset({"v": (("y", "x"), np.arange(40 * 12, dtype="f4").reshape(40, 12))})
    to_zarrlayer(sharded, str(tmp_path / "s.zarr"), encoding={"v": {"shards": (20, 12)}})
    assert open_with_zarr(str(tmp_path / "s.zarr"))["v"].encoding["shards"] == (20, 12)
    back = _zarr_read(str(tmp_path / "a.zarr"))
    assert back["flag"].encoding["chunks"] == (3,) and back["lead"].encoding["units"] == "hours"
    xr.testing.assert_identical(back["lead"], cf_dataset()["lead"])
