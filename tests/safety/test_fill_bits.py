"""Bits are kept: NaN payloads, signed zeros and whole integer ranges, in fill values and in chunks."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zarrlayer
from zarrlayer.errors import MetadataError
from zarrlayer.storage import MemoryStore

_FLOAT_BITS = {
    "float16": {"snan": 0x7D01, "qnan_payload": 0x7E01, "neg_nan": 0xFE00, "neg_zero": 0x8000, "nan": 0x7E00},
    "float32": {"snan": 0x7FA00000, "qnan_payload": 0x7FC00001, "neg_nan": 0xFFC00000, "neg_zero": 0x80000000,
                "nan": 0x7FC00000},
    "float64": {"snan": 0x7FF4000000000000, "qnan_payload": 0x7FF8000000000001, "neg_nan": 0xFFF8000000000000,
                "neg_zero": 0x8000000000000000, "nan": 0x7FF8000000000000},
}
_CANONICAL = {"nan", "neg_zero"}


def _from_bits(dtype: str, bits: int) -> np.generic:
    n = np.dtype(dtype).itemsize
    return np.array(bits, dtype=f"<u{n}").view(f"<{np.dtype(dtype).char}")[()]


def _bits(values: np.ndarray) -> np.ndarray:
    values = np.ascontiguousarray(values)
    unit = values.dtype.itemsize // (2 if values.dtype.kind == "c" else 1)
    return values.reshape(-1).view(f"u{unit}")


def _document(store: MemoryStore, zarr_format: int, path: str = "a") -> dict:
    return json.loads(store.store_dict[f"{path}/{'zarr.json' if zarr_format == 3 else '.zarray'}"])


def test_issue_input_float32_fill_0x7fa00000() -> None:
    store = MemoryStore()
    fill = _from_bits("float32", 0x7FA00000)
    zarrlayer.create_array(store=store, name="a", shape=(4,), chunks=(2,), dtype="float32", fill_value=fill)
    assert _document(store, 3)["fill_value"] == "0x7fa00000"
    again = zarrlayer.open_array(store, path="a", mode="r")
    assert _bits(np.asarray(again.fill_value)).tolist() == [0x7FA00000]
    assert _bits(again[:]).tolist() == [0x7FA00000] * 4


def test_issue_input_hand_written_hex_is_exact() -> None:
    store = MemoryStore()
    zarrlayer.create_array(store=store, name="a", shape=(4,), chunks=(2,), dtype="float32", fill_value=0.0)
    doc = _document(store, 3)
    doc["fill_value"] = "0x7fa00000"
    store.store_dict["a/zarr.json"] = json.dumps(doc).encode()
    array = zarrlayer.open_array(store, path="a", mode="r")
    assert _bits(np.asarray(array.fill_value)).tolist() == [0x7FA00000]  # not 0x7fe00000 (quieted)
    assert _bits(array[:]).tolist() == [0x7FA00000] * 4


@pytest.mark.parametrize("dtype", sorted(_FLOAT_BITS))
@pytest.mark.parametrize("case", ["snan", "qnan_payload", "neg_nan", "neg_zero", "nan"])
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_float_fill_values_round_trip_bit_for_bit(dtype: str, case: str, zarr_format: int) -> None:
    bits = _FLOAT_BITS[dtype][case]
    store = MemoryStore()
    fill = _from_bits(dtype, bits)
    if zarr_format == 2 and case not in _CANONICAL:
        with pytest.raises(MetadataError, match="cannot be recorded exactly in Zarr v2"):
            zarrlayer.create_array(store=store, name="a", shape=(4,), chunks=(2,), dtype=dtype,
                                   fill_value=fill, zarr_format=2)
        assert store.store_dict == {}
        return
    array = zarrlayer.create_array(store=store, name="a", shape=(4,), chunks=(2,), dtype=dtype,
                                   fill_value=fill, zarr_format=zarr_format)
    written = _document(store, zarr_format)["fill_value"]
    if case not in _CANONICAL:
        assert written == f"0x{bits:0{2 * np.dtype(dtype).itemsize}x}"
    again = zarrlayer.open_array(store, path="a", mode="r+")
    assert _bits(np.asarray(again.fill_value)).tolist() == [bits]
    assert _bits(again[:]).tolist() == [bits] * 4
    again.resize((6,))  # metadata rewritten from the parsed value
    assert _bits(np.asarray(zarrlayer.open_array(store, path="a").fill_value)).tolist() == [bits]
    del array


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_fill_values_keep_both_parts(dtype: str) -> None:
    part = "float32" if dtype == "complex64" else "float64"
    re_bits, im_bits = _FLOAT_BITS[part]["snan"], _FLOAT_BITS[part]["neg_zero"]
    fill = np.array([re_bits, im_bits], dtype=f"<u{np.dtype(part).itemsize}").view(dtype)[0]
    store = MemoryStore()
    zarrlayer.create_array(store=store, name="a", shape=(3,), chunks=(2,), dtype=dtype, fill_value=fill)
    assert _document(store, 3)["fill_value"] == [f"0x{re_bits:0{2 * np.dtype(part).itemsize}x}", -0.0]
    array = zarrlayer.open_array(store, path="a", mode="r")
    assert _bits(np.asarray(array.fill_value)).tolist() == [re_bits, im_bits]
    assert _bits(array[:]).tolist() == [re_bits, im_bits] * 3


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"])
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_whole_integer_range_round_trips(dtype: str, zarr_format: int) -> None:
    info = np.iinfo(dtype)
    for fill in (info.min, info.max):
        store = MemoryStore()
        array = zarrlayer.create_array(store=store, name="a", shape=(4,), chunks=(2,), dtype=dtype,
                                       fill_value=fill, zarr_format=zarr_format)
        assert _document(store, zarr_format)["fill_value"] == int(fill)
        array[:2] = np.array([info.min, info.max], dtype=dtype)
        again = zarrlayer.open_array(store, path="a", mode="r")
        assert int(again.fill_value) == int(fill) and again.fill_value.dtype == np.dtype(dtype)
        assert again[:].tolist() == [int(info.min), int(info.max), int(fill), int(fill)]


@pytest.mark.parametrize("shards", [None, (4,)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_chunk_is_fill_only_when_its_bits_are(dtype: str, shards: tuple[int, ...] | None) -> None:
    store = MemoryStore()
    array = zarrlayer.create_array(store=store, name="a", shape=(8,), chunks=(2,), shards=shards, dtype=dtype,
                                   fill_value=np.nan)
    other_nan = _from_bits(dtype, _FLOAT_BITS[dtype]["snan"])
    array[0:2] = other_nan  # NaN, but not the fill's bits: must be stored
    array[2:4] = np.nan  # the fill itself: not stored
    array[4:6] = -0.0
    again = zarrlayer.open_array(store, path="a", mode="r")
    got = _bits(again[:]).tolist()
    table = _FLOAT_BITS[dtype]
    assert got[0:2] == [table["snan"]] * 2
    assert got[2:4] == [table["nan"]] * 2 and got[6:8] == [table["nan"]] * 2
    assert got[4:6] == [table["neg_zero"]] * 2
    if shards is None:
        chunk_keys = sorted(k for k in store.store_dict if "/c/" in k)
        assert chunk_keys == ["a/c/0", "a/c/2"]


def test_zero_chunk_is_stored_when_fill_is_negative_zero() -> None:
    store = MemoryStore()
    array = zarrlayer.create_array(store=store, name="a", shape=(4,), chunks=(2,), dtype="float64", fill_value=-0.0)
    array[:2] = 0.0
    array[2:] = -0.0
    assert sorted(k for k in store.store_dict if "/c/" in k) == ["a/c/0"]
    assert _bits(zarrlayer.open_array(store, path="a")[:]).tolist() == [0, 0, 1 << 63, 1 << 63]


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_python_reads_our_fill_values(tmp_path, zarr_format: int) -> None:
    zarr = pytest.importorskip("zarr")
    cases: list[tuple[str, np.generic, int | None]] = [
        ("float32", _from_bits("float32", 0x80000000), 0x80000000),
        ("float64", _from_bits("float64", 1 << 63), 1 << 63),
        ("int64", np.int64(np.iinfo("int64").min), None),
        ("int64", np.int64(np.iinfo("int64").max), None),
        ("uint64", np.uint64(np.iinfo("uint64").max), None),
    ]
    if zarr_format == 3:
        cases += [
            ("float32", _from_bits("float32", 0x7FC00001), 0x7FC00001),
            ("float64", _from_bits("float64", 0xFFF8000000000000), 0xFFF8000000000000),
        ]
    for i, (dtype, fill, bits) in enumerate(cases):
        path = tmp_path / f"{zarr_format}-{i}.zarr"
        zarrlayer.create_array(store=path, shape=(2,), chunks=(2,), dtype=dtype, fill_value=fill,
                               zarr_format=zarr_format)
        peer = zarr.open_array(str(path), mode="r")
        if bits is None:
            assert int(peer.fill_value) == int(fill) and peer[:].tolist() == [int(fill)] * 2
        else:
            assert _bits(np.asarray(peer.fill_value, dtype=dtype)).tolist() == [bits]
            assert _bits(peer[:]).tolist() == [bits] * 2


def test_zarr_python_quiets_a_signalling_nan_fill(tmp_path) -> None:
    """Documented in docs/coming-from-zarr-python.md: zarr-python reads 0x7fa00000 as 0x7fe00000."""
    zarr = pytest.importorskip("zarr")
    path = tmp_path / "snan.zarr"
    zarrlayer.create_array(store=path, shape=(2,), chunks=(2,), dtype="float32",
                           fill_value=_from_bits("float32", 0x7FA00000))
    peer = zarr.open_array(str(path), mode="r")
    assert np.isnan(peer.fill_value)
    assert _bits(np.asarray(peer.fill_value, dtype="float32")).tolist() in ([0x7FA00000], [0x7FE00000])
