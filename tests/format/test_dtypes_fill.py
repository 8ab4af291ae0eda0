"""Data type names and fill value encodings of both formats, one rule at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zarrlayer.errors import MetadataError
from zarrlayer.format.dtypes import data_type_from_user, parse_data_type_v3, parse_dtype_v2
from zarrlayer.format.fill_value import encode_fill_value, parse_fill_value

W = "x/zarr.json"


@pytest.mark.parametrize(
    ("name", "numpy"),
    [("bool", "|b1"), ("int8", "|i1"), ("int16", "<i2"), ("uint64", "<u8"), ("float16", "<f2"), ("complex128", "<c16")],
)
def test_v3_numeric_names(name, numpy):
    dt = parse_data_type_v3(name, where=W)
    assert dt.numpy == np.dtype(numpy) and dt.kind == "fixed" and dt.to_json_v3() == name
    assert parse_data_type_v3({"name": name}, where=W).numpy == np.dtype(numpy)


def test_v3_variable_length_names():
    assert parse_data_type_v3("string", where=W).kind == "string"
    for name in ("bytes", "variable_length_bytes"):
        dt = parse_data_type_v3(name, where=W)
        assert dt.kind == "bytes" and dt.numpy == np.dtype(object) and dt.to_json_v3() == name


def test_v3_parametrised_names():
    dt = parse_data_type_v3({"name": "numpy.datetime64", "configuration": {"unit": "ms", "scale_factor": 10}}, where=W)
    assert dt.numpy == np.dtype("<M8[10ms]") and dt.to_json_v3()["configuration"] == {"unit": "ms", "scale_factor": 10}
    assert parse_data_type_v3({"name": "fixed_length_utf32", "configuration": {"length_bytes": 8}}, where=W).numpy == np.dtype("<U2")
    with pytest.raises(MetadataError, match="multiple of 4"):
        parse_data_type_v3({"name": "fixed_length_utf32", "configuration": {"length_bytes": 6}}, where=W)
    with pytest.raises(MetadataError, match="unit"):
        parse_data_type_v3({"name": "numpy.timedelta64", "configuration": {"unit": "fortnight"}}, where=W)


def test_v2_dtype_strings_keep_byte_order():
    assert parse_dtype_v2(">i4", object_codec=None, where=W).numpy == np.dtype(">i4")
    assert parse_dtype_v2("<M8[ns]", object_codec=None, where=W).numpy == np.dtype("<M8[ns]")
    assert parse_dtype_v2("|O", object_codec="vlen-bytes", where=W).kind == "bytes"
    assert parse_dtype_v2("|O", object_codec="vlen-utf8", where=W).kind == "string"
    for bad in ("i4", "", 5, [["a"]]):
        with pytest.raises(MetadataError):
            parse_dtype_v2(bad, object_codec=None, where=W)


def test_user_dtypes():
    assert data_type_from_user(str, zarr_format=3).to_json_v3() == "string"
    assert data_type_from_user(bytes, zarr_format=2).object_codec == "vlen-bytes"
    assert data_type_from_user(">f8", zarr_format=3).numpy == np.dtype("<f8")
    assert data_type_from_user(">f8", zarr_format=2).numpy == np.dtype(">f8")
    with pytest.raises(MetadataError, match="ambiguous"):
        data_type_from_user(object, zarr_format=3)
    with pytest.raises(MetadataError, match="v3"):
        data_type_from_user([("a", "i4")], zarr_format=3)


@pytest.mark.parametrize(
    ("dtype", "json_value", "expected"),
    [
        ("float32", "0x7fc00000", math.nan),
        ("float64", "0x3ff0000000000000", 1.0),
        ("float16", "0x3c00", 1.0),
        ("float64", "Infinity", math.inf),
        ("float64", "-Infinity", -math.inf),
        ("float32", "NaN", math.nan),
        ("float64", 2, 2.0),
        ("int16", -32768, -32768),
        ("uint8", 255, 255),
        ("bool", False, False),
    ],
)
def test_v3_fill_values(dtype, json_value, expected):
    dt = parse_data_type_v3(dtype, where=W)
    value = parse_fill_value(json_value, dt, zarr_format=3, where=W)
    assert value.dtype == dt.numpy
    assert (math.isnan(value) and math.isnan(expected)) if isinstance(expected, float) and math.isnan(expected) else value == expected


def test_complex_and_special_encodings():
    dt = parse_data_type_v3("complex64", where=W)
    value = parse_fill_value(["NaN", "-Infinity"], dt, zarr_format=3, where=W)
    assert math.isnan(value.real) and value.imag == -math.inf
    assert encode_fill_value(value, dt, zarr_format=3) == ["NaN", "-Infinity"]
    nat = parse_fill_value(-(2**63), parse_dtype_v2("<M8[s]", object_codec=None, where=W), zarr_format=2, where=W)
    assert np.isnat(nat)
    sdt = parse_dtype_v2("|S4", object_codec=None, where=W)
    assert parse_fill_value("YWI=", sdt, zarr_format=2, where=W) == b"ab"
    assert encode_fill_value(b"ab", sdt, zarr_format=2) == "YWI="
    vdt = parse_dtype_v2("|V2", object_codec=None, where=W)
    assert parse_fill_value("AQI=", vdt, zarr_format=2, where=W).tobytes() == b"\x01\x02"


def test_v2_null_and_legacy_object_fill():
    i4 = parse_dtype_v2("<i4", object_codec=None, where=W)
    assert parse_fill_value(None, i4, zarr_format=2, where=W) is None
    assert encode_fill_value(None, i4, zarr_format=2) is None
    obj = parse_dtype_v2("|O", object_codec="vlen-utf8", where=W)
    assert parse_fill_value(0, obj, zarr_format=2, where=W) is None
    assert parse_fill_value("", obj, zarr_format=2, where=W) == ""


@pytest.mark.parametrize(
    ("dtype", "json_value"),
    [("int8", 128), ("int8", "1"), ("int8", True), ("uint8", -1), ("bool", "yes"), ("float32", "0xZZ"), ("float32", "nan"),
     ("complex64", 1.0), ("complex64", [1.0]), ("string", 3), ("variable_length_bytes", "!!not base64!!")],
)
def test_bad_fill_values(dtype, json_value):
    with pytest.raises(MetadataError, match="x/zarr.json"):
        parse_fill_value(json_value, parse_data_type_v3(dtype, where=W), zarr_format=3, where=W)
