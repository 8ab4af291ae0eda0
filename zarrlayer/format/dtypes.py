"""Data types of both formats: v3 `data_type` names and v2 `dtype` strings to numpy and back.

In memory, v3 numeric types are little-endian numpy dtypes (byte order is the `bytes`
codec's business); v2 keeps the stored byte order (`>i4` stays big-endian). Variable-length
strings and bytes are numpy object arrays of `str` / `bytes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from zarrlayer.errors import DataTypeError, MetadataError

__all__ = ["DataType", "parse_data_type_v3", "parse_dtype_v2", "data_type_from_user"]

Kind = Literal["fixed", "string", "bytes"]

_V3_NUMERIC = {
    "bool": "|b1",
    "int8": "|i1",
    "int16": "<i2",
    "int32": "<i4",
    "int64": "<i8",
    "uint8": "|u1",
    "uint16": "<u2",
    "uint32": "<u4",
    "uint64": "<u8",
    "float16": "<f2",
    "float32": "<f4",
    "float64": "<f8",
    "complex64": "<c8",
    "complex128": "<c16",
}
_NUMPY_TO_V3 = {np.dtype(v).newbyteorder("<") if np.dtype(v).itemsize > 1 else np.dtype(v): k for k, v in _V3_NUMERIC.items()}
_V3_TIME = {"numpy.datetime64": "M8", "numpy.timedelta64": "m8"}
_V3_FIXED_BYTES = {"null_terminated_bytes": "S", "raw_bytes": "V", "fixed_length_utf32": "U"}
_TIME_UNITS = ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "μs", "ns", "ps", "fs", "as", "generic")
_OBJECT_CODECS = {"vlen-utf8": "string", "vlen-bytes": "bytes", "json2": "string", "vlen-array": "array", "msgpack2": "string", "pickle": "string", "categorize": "string"}


@dataclass(frozen=True)
class DataType:
    """A parsed data type: the numpy dtype of arrays in memory and what kind of items it holds."""

    numpy: np.dtype
    kind: Kind = "fixed"
    v3_name: str = ""
    """The v3 spelling used when writing (`string` or `variable_length_bytes` for variable-length)."""
    object_codec: str | None = None
    """v2 only: the id of the object codec (`vlen-utf8`, ...) that serializes an `|O` array."""

    @property
    def is_variable(self) -> bool:
        """Whether items have no fixed byte size (numpy object dtype)."""
        return self.kind != "fixed"

    def to_json_v3(self) -> Any:
        """The v3 `data_type` value, spelled as zarr-python 3.1 writes it."""
        dt = self.numpy
        if self.kind == "string":
            return "string"
        if self.kind == "bytes":
            return "bytes" if self.v3_name == "bytes" else "variable_length_bytes"
        if dt.kind in "Mm":
            unit, scale = np.datetime_data(dt)
            name = "numpy.datetime64" if dt.kind == "M" else "numpy.timedelta64"
            return {"name": name, "configuration": {"unit": unit, "scale_factor": scale}}
        if dt.kind in "SVU":
            name = {"S": "null_terminated_bytes", "V": "raw_bytes", "U": "fixed_length_utf32"}[dt.kind]
            return {"name": name, "configuration": {"length_bytes": dt.itemsize}}
        return _NUMPY_TO_V3[_little(dt)]

    def to_json_v2(self) -> Any:
        """The v2 `dtype` value (`<i4`, `|O`, or a list of fields for structured types)."""
        if self.numpy.fields is not None:
            return _structured_to_json(self.numpy)
        return self.numpy.str


def _little(dt: np.dtype) -> np.dtype:
    return dt.newbyteorder("<") if dt.itemsize > 1 and dt.kind not in "SVO" else dt


def _structured_to_json(dt: np.dtype) -> list[list[Any]]:
    out: list[list[Any]] = []
    for name in dt.names or ():
        sub = dt.fields[name][0]  # type: ignore[index]  # names is set, so fields is too
        if sub.subdtype is not None:
            base, shape = sub.subdtype
            out.append([name, base.str, list(shape)])
        else:
            out.append([name, _structured_to_json(sub) if sub.fields else sub.str])
    return out


def parse_data_type_v3(value: Any, *, where: str) -> DataType:
    """Parse a v3 `data_type` (a name, or `{"name", "configuration"}` for parametrised types)."""
    name, config = value, {}
    if isinstance(value, dict):
        name, config = value.get("name"), value.get("configuration", {})
        if not isinstance(config, dict):
            raise MetadataError(f"{where}: data_type configuration must be an object, found {config!r}")
    if not isinstance(name, str):
        raise MetadataError(f"{where}: data_type must be a name or an object with a name, found {value!r}")
    if name in _V3_NUMERIC:
        return DataType(np.dtype(_V3_NUMERIC[name]), "fixed", name)
    if name == "string":
        return DataType(np.dtype(object), "string", name)
    if name in ("bytes", "variable_length_bytes"):
        return DataType(np.dtype(object), "bytes", name)
    if name in _V3_TIME:
        unit, scale = config.get("unit"), config.get("scale_factor", 1)
        if unit not in _TIME_UNITS or not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
            raise MetadataError(f"{where}: {name} needs a unit in {_TIME_UNITS} and a positive scale_factor, found {config!r}")
        unit = "us" if unit == "μs" else unit
        spec = f"<{_V3_TIME[name]}" + ("" if unit == "generic" else f"[{scale if scale != 1 else ''}{unit}]")
        return DataType(np.dtype(spec), "fixed", name)
    if name in _V3_FIXED_BYTES:
        length = config.get("length_bytes")
        if not isinstance(length, int) or isinstance(length, bool) or length < 1:
            raise MetadataError(f"{where}: {name} needs a positive integer length_bytes, found {config!r}")
        code = _V3_FIXED_BYTES[name]
        if code == "U":
            if length % 4:
                raise MetadataError(f"{where}: fixed_length_utf32 length_bytes must be a multiple of 4, found {length}")
            return DataType(np.dtype(f"<U{length // 4}"), "fixed", name)
        return DataType(np.dtype(f"|{code}{length}"), "fixed", name)
    raise MetadataError(f"{where}: unknown data_type {value!r}; expected one of {sorted(_V3_NUMERIC)} or string/bytes")


def parse_dtype_v2(value: Any, *, object_codec: str | None, where: str) -> DataType:
    """Parse a v2 `dtype` (a numpy type string with byte order, or a list of structured fields)."""
    try:
        if isinstance(value, list):
            dt = np.dtype([tuple(_field(f)) for f in value])
        elif isinstance(value, str) and value and value[0] in "<>|":
            dt = np.dtype(value)
        else:
            raise TypeError(value)
    except (TypeError, ValueError):
        raise MetadataError(
            f"{where}: dtype must be a numpy type string with byte order (e.g. '<i4', '|u1') or a field list, found {value!r}"
        ) from None
    if dt.kind == "O":
        kind = _OBJECT_CODECS.get(object_codec or "")
        if kind is None:
            raise MetadataError(
                f"{where}: dtype '|O' needs an object codec (vlen-utf8, vlen-bytes, json2...) in filters or "
                f"compressor, found {object_codec!r}"
            )
        return DataType(dt, "bytes" if kind == "bytes" else "string", "", object_codec)
    if dt.kind not in "biufcMmSUV":
        raise MetadataError(f"{where}: unsupported dtype {value!r}")
    return DataType(_no_object_fields(dt, where), "fixed", "")


def _no_object_fields(dt: np.dtype, where: str) -> np.dtype:
    """Structured dtypes hold fixed-size values only: an object field would store memory addresses."""
    if dt.hasobject:
        raise MetadataError(f"{where}: a structured dtype may not have object fields (they have no byte encoding), found {dt}")
    return dt


def _field(f: Any) -> tuple[Any, ...]:
    if not isinstance(f, list) or len(f) not in (2, 3) or not isinstance(f[0], str):
        raise TypeError(f)
    if isinstance(f[1], list):
        return (f[0], [tuple(_field(x)) for x in f[1]], *f[2:])
    return (f[0], f[1], tuple(f[2])) if len(f) == 3 else (f[0], f[1])


def data_type_from_user(dtype: Any, *, zarr_format: Literal[2, 3], where: str = "dtype") -> DataType:
    """The data type of a new array from a user's dtype (numpy-like, `str`, `"string"`, `bytes`...)."""
    if isinstance(dtype, DataType):
        return dtype
    if dtype in (str, "str", "string", "U", "<U") or (isinstance(dtype, np.dtype) and dtype.kind == "T"):
        return DataType(np.dtype(object), "string", "string", "vlen-utf8" if zarr_format == 2 else None)
    if dtype in (bytes, "bytes", "variable_length_bytes", "S", "|S"):
        return DataType(np.dtype(object), "bytes", "variable_length_bytes", "vlen-bytes" if zarr_format == 2 else None)
    if zarr_format == 3 and isinstance(dtype, (str, dict)) and (dtype in _V3_NUMERIC or isinstance(dtype, dict)):
        return parse_data_type_v3(dtype, where=where)
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        raise DataTypeError(f"{where}: not a data type: {dtype!r}") from None
    if dt.kind == "O":
        raise MetadataError(f"{where}: object dtype is ambiguous; use dtype=str or dtype=bytes")
    _no_object_fields(dt, where)
    if zarr_format == 3:
        if dt.fields is not None:
            raise MetadataError(f"{where}: structured dtypes are not supported by Zarr v3, found {dt}")
        dt = _little(dt)
        try:
            DataType(dt).to_json_v3()
        except KeyError:
            raise MetadataError(f"{where}: data type {dt} has no Zarr v3 equivalent") from None
    return DataType(dt, "fixed", "")
