"""Any JSON value in any field of a valid document parses or raises a ZarrlayerError, never anything else."""

from __future__ import annotations

import copy
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.format.fuzz_cases import json_paths
from zarrlayer.errors import NodeNotFoundError, ZarrlayerError
from zarrlayer.format import build_array_metadata, parse_node_metadata

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
_V3 = json.loads(build_array_metadata(zarr_format=3, shape=(4, 4), chunks=(2, 2), shards=(4, 4), dtype="f4").to_documents()["zarr.json"])
_V2 = json.loads(build_array_metadata(zarr_format=2, shape=(4, 4), chunks=(2, 2), dtype="<f4").to_documents()[".zarray"])




def _replace(doc, path, value):
    doc = copy.deepcopy(doc)
    if not path:
        return value
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


def _check(name, base, index, value):
    paths = list(json_paths(base))
    doc = _replace(base, paths[index % len(paths)], value)
    try:
        parse_node_metadata({name: json.dumps(doc).encode()}, path="fuzz")
    except NodeNotFoundError:
        raise
    except ZarrlayerError as exc:
        assert "fuzz" in str(exc)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10_000), _JSON)
def test_v3_field_fuzz(index, value):
    _check("zarr.json", _V3, index, value)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), _JSON)
def test_v2_field_fuzz(index, value):
    _check(".zarray", _V2, index, value)
