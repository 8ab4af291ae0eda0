"""zarr-python 3.4's newer error names port: `except` clauses written for them catch zarrlayer's errors."""

from __future__ import annotations

import json

import pytest

import zarrlayer
from zarrlayer.errors import DataTypeValidationError, PickleCodecDisabledError, UnsafeCodecError
from zarrlayer.storage import MemoryStore


def test_an_unknown_data_type_is_a_data_type_validation_error() -> None:
    with pytest.raises(DataTypeValidationError, match="nonsense"):
        zarrlayer.create_array(MemoryStore(), shape=(2,), dtype="nonsense")


def test_the_refused_pickle_codec_is_a_pickle_codec_disabled_error() -> None:
    doc = {
        "zarr_format": 2, "shape": [2], "chunks": [2], "dtype": "|O", "compressor": None,
        "fill_value": None, "filters": [{"id": "pickle"}], "order": "C",
    }
    store = MemoryStore({"a/.zarray": json.dumps(doc).encode()})
    with pytest.raises(PickleCodecDisabledError, match="pickle") as info:
        zarrlayer.open_array(store, path="a", mode="r")
    assert isinstance(info.value, UnsafeCodecError) and isinstance(info.value, ValueError)
