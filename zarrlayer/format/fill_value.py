"""Fill values: JSON encodings of both formats to numpy scalars of the array's dtype, and back.

Floats accept numbers, "NaN", "Infinity", "-Infinity" and hex bit patterns ("0x7fc00000");
complex values are [re, im] pairs; fixed bytes are base64; v2's `null` stays None.

Bits are kept: a hex pattern becomes the numpy scalar with exactly those bits (never through
a Python float, which would quiet a signalling NaN), and a NaN other than the canonical one
(positive, quiet, zero payload) is written in hex in v3. Zarr v2 can only say "NaN", so a v2
document refuses to record any other NaN rather than change it silently.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any, Literal

import numpy as np

from zarrlayer.errors import MetadataError
from zarrlayer.format.dtypes import DataType

__all__ = ["parse_fill_value", "encode_fill_value", "default_fill_value", "coerce_fill_value", "all_fill_bits"]

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_CANONICAL_NAN = {2: 0x7E00, 4: 0x7FC00000, 8: 0x7FF8000000000000}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def default_fill_value(dtype: DataType) -> Any:
    """The fill value zarr-python uses when none is given: zero, False, NaT, "" or b""."""
    if dtype.kind == "string":
        return ""
    if dtype.kind == "bytes":
        return b""
    dt = dtype.numpy
    if dt.kind in "Mm":
        return dt.type("NaT")
    return np.zeros((), dtype=dt)[()]


def parse_fill_value(value: Any, dtype: DataType, *, zarr_format: Literal[2, 3], where: str) -> Any:
    """The in-memory fill value (numpy scalar, str or bytes) of a JSON `fill_value`; v2 null gives None."""
    if value is None:
        if zarr_format == 2:
            return None
        raise MetadataError(f"{where}: fill_value must not be null in Zarr v3")
    if zarr_format == 2 and dtype.is_variable and not isinstance(value, str):
        return None  # zarr-python 2 wrote numbers (often 0) for object arrays; they mean "no fill"
    try:
        return _parse(value, dtype, zarr_format)
    except (TypeError, ValueError, OverflowError, binascii.Error) as exc:
        raise MetadataError(f"{where}: fill_value {value!r} does not fit data type {_name(dtype)} ({exc})") from None


def _name(dtype: DataType) -> str:
    return dtype.kind if dtype.is_variable else str(dtype.numpy)


def _parse(value: Any, dtype: DataType, zarr_format: int) -> Any:
    dt = dtype.numpy
    if dtype.kind == "string":
        if not isinstance(value, str):
            raise TypeError("expected a string")
        return value
    if dtype.kind == "bytes":
        if isinstance(value, list):
            return bytes(value)
        if not isinstance(value, str):
            raise TypeError("expected base64 text or a list of byte values")
        return base64.b64decode(value, validate=True)
    kind = dt.kind
    if kind == "b":
        if not isinstance(value, bool) and value not in (0, 1):
            raise TypeError("expected true or false")
        return np.bool_(bool(value))
    if kind in "iu":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise TypeError("expected an integer")
        info = np.iinfo(dt)
        if not info.min <= int(value) <= info.max:
            raise ValueError(f"out of range [{info.min}, {info.max}]")
        return dt.type(int(value))
    if kind == "f":
        return _float(value, dt)[()]
    if kind == "c":
        if not isinstance(value, list) or len(value) != 2:
            raise TypeError("expected a [real, imaginary] pair")
        part = np.dtype(f"{dt.byteorder}f{dt.itemsize // 2}")
        return np.concatenate([_float(value[0], part).reshape(1), _float(value[1], part).reshape(1)]).view(dt)[0]
    if kind in "Mm":
        if isinstance(value, bool) or not isinstance(value, int):
            if value == "NaT":
                return dt.type("NaT")
            raise TypeError("expected an integer count of units")
        return np.array(value, dtype=np.int64).view(dt)[()]
    if kind == "U":
        if not isinstance(value, str):
            raise TypeError("expected a string")
        return dt.type(value)
    if kind in "SV":
        if isinstance(value, list):
            raw = bytes(value)
        elif isinstance(value, str):
            raw = base64.b64decode(value, validate=True)
        elif isinstance(value, int) and not isinstance(value, bool) and value == 0:
            raw = b""
        else:
            raise TypeError("expected base64 text")
        if kind == "S":
            return np.bytes_(raw[: dt.itemsize])
        return np.frombuffer(raw.ljust(dt.itemsize, b"\0")[: dt.itemsize], dtype=dt)[0]
    raise TypeError(f"no fill value encoding for {dt}")


def _float(value: Any, dt: np.dtype) -> np.ndarray:
    """A 0-d array of the float dtype `dt` holding `value`; hex patterns keep their exact bits."""
    if isinstance(value, bool):
        raise TypeError("expected a number")
    if isinstance(value, (int, float)):
        with np.errstate(over="ignore"):
            return np.array(float(value), dtype=dt)
    if isinstance(value, str):
        if value in _SPECIAL:
            return np.array(_SPECIAL[value], dtype=dt)
        if value.startswith("0x"):
            digits = value[2:]
            if not digits or not set(digits) <= _HEX_DIGITS or len(digits) > 2 * dt.itemsize:
                raise ValueError(f"expected a hex bit pattern of at most {2 * dt.itemsize} digits")
            little = np.array(int(digits, 16), dtype=f"<u{dt.itemsize}").view(dt.newbyteorder("<"))
            return little.astype(dt)
    raise TypeError('expected a number, "NaN", "Infinity", "-Infinity" or a hex bit pattern')


def coerce_fill_value(value: Any, dtype: DataType, *, where: str = "fill_value") -> Any:
    """A user's fill value (Python or numpy scalar) as the in-memory scalar of `dtype`."""
    if dtype.kind == "string":
        if not isinstance(value, str):
            raise MetadataError(f"{where}: a string array needs a str fill value, found {value!r}")
        return str(value)
    if dtype.kind == "bytes":
        if not isinstance(value, (bytes, bytearray)):
            raise MetadataError(f"{where}: a bytes array needs a bytes fill value, found {value!r}")
        return bytes(value)
    try:
        arr = np.array(value)
        if dtype.numpy.kind in "iu" and arr.dtype.kind in "iu":
            info = np.iinfo(dtype.numpy)
            if not info.min <= int(value) <= info.max:
                raise ValueError(f"{value} is out of range for {dtype.numpy}")
        if dtype.numpy.kind in "SV" and isinstance(value, (bytes, bytearray)):
            return _parse(list(value), dtype, 2)
        if dtype.numpy.kind in "biu" and arr.dtype.kind in "fc" and not np.all(arr == arr.astype(dtype.numpy)):
            raise ValueError(f"{value} is not exactly representable as {dtype.numpy}")
        return arr.astype(dtype.numpy)[()]
    except (TypeError, ValueError, OverflowError) as exc:
        raise MetadataError(f"{where}: {value!r} does not fit data type {dtype.numpy} ({exc})") from None


def encode_fill_value(value: Any, dtype: DataType, *, zarr_format: Literal[2, 3]) -> Any:
    """The JSON `fill_value` for an in-memory fill value, as zarr-python writes it."""
    if value is None:
        return None
    if dtype.kind == "string":
        return str(value)
    if dtype.kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii")
    kind = dtype.numpy.kind
    if kind == "b":
        return bool(value)
    if kind in "iu":
        return int(value)
    if kind == "f":
        return _encode_float(np.asarray(value, dtype=dtype.numpy), zarr_format)
    if kind == "c":
        both = np.asarray(value, dtype=dtype.numpy).reshape(1)
        part = np.dtype(f"{dtype.numpy.byteorder}f{dtype.numpy.itemsize // 2}")
        re, im = both.view(part)
        return [_encode_float(np.asarray(re), zarr_format), _encode_float(np.asarray(im), zarr_format)]
    if kind in "Mm":
        return int(np.array(value, dtype=dtype.numpy).view(np.int64)[()])
    if kind == "U":
        return str(value)
    if kind in "SV":
        raw = bytes(value) if kind == "S" else np.array(value, dtype=dtype.numpy).tobytes()
        return base64.b64encode(raw).decode("ascii")
    raise MetadataError(f"no fill value encoding for {dtype.numpy}")


def _bits(value: np.ndarray) -> int:
    """The IEEE bit pattern of a 0-d float array, as an integer."""
    n = value.dtype.itemsize
    return int(value.astype(value.dtype.newbyteorder("<")).view(f"<u{n}")[()])


def _encode_float(value: np.ndarray, zarr_format: int) -> float | str:
    """JSON for a 0-d float array: a number, "Infinity", "NaN", or (v3) the hex bits of any other NaN."""
    if np.isnan(value):
        n = value.dtype.itemsize
        bits = _bits(value)
        if bits == _CANONICAL_NAN.get(n):
            return "NaN"
        if zarr_format == 3:
            return f"0x{bits:0{2 * n}x}"
        raise MetadataError(
            f"fill_value: the NaN with bits 0x{bits:0{2 * n}x} cannot be recorded exactly in Zarr v2, which "
            f"knows only \"NaN\" (0x{_CANONICAL_NAN.get(n, 0):0{2 * n}x}); use zarr_format=3 (hex fill values) "
            "or the canonical NaN (numpy.nan)"
        )
    x = float(value)
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def all_fill_bits(chunk: np.ndarray, fill: Any) -> bool | None:
    """Whether every element of `chunk` has the bits of `fill` (floats, complex, times, integers, bools).

    NaNs with other bits than the fill, and -0.0 against 0.0, are not the fill. Returns None for
    data types compared by value instead (strings, objects, structured, long double).
    """
    dt = chunk.dtype
    if dt.kind not in "biufcmM":
        return None
    parts = 2 if dt.kind == "c" else 1
    unit = dt.itemsize // parts
    if unit not in (1, 2, 4, 8):
        return None
    uint = np.dtype(f"u{unit}")
    expected = np.asarray(fill, dtype=dt).reshape(1).view(uint)
    flat = np.ascontiguousarray(chunk).reshape(-1).view(uint)
    if flat.size and not (flat[:parts] == expected).all():
        return False  # data chunks nearly always differ at once: skip the full comparison
    if parts == 1:
        return bool((flat == expected[0]).all())
    return bool((flat.reshape(-1, parts) == expected).all())
