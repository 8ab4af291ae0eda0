"""Consolidated metadata (v2 `.zmetadata`, v3 inline) against what zarr.consolidate_metadata writes."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
import zarr

from tests.format._peer import peer_store, raw
from zarrlayer.errors import MetadataError
from zarrlayer.format import (
    ArrayV2Metadata,
    ArrayV3Metadata,
    GroupMetadata,
    build_consolidated,
    parse_consolidated,
    parse_node_metadata,
)


def _peer_hierarchy(zarr_format):
    store, backing = peer_store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = zarr.open_group(store, mode="w", zarr_format=zarr_format, attributes={"title": "t", "n": 1})
        root.create_array("temp", shape=(4, 3), chunks=(2, 3), dtype="f4", fill_value=np.nan, attributes={"units": "K"})
        sub = root.create_group("Sub", attributes={"x": "y"})
        sub.create_array("ints", shape=(5,), chunks=(5,), dtype="i2", compressors=None)
        sub.create_group("deeper").create_array("s", shape=(2,), chunks=(1,), dtype=str)
        root.create_array("a_first", shape=(1,), chunks=(1,), dtype="u1")
        zarr.consolidate_metadata(store)
    return raw(backing)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_parse_and_rebuild_match_peer(zarr_format):
    stored = _peer_hierarchy(zarr_format)
    key = "zarr.json" if zarr_format == 3 else ".zmetadata"
    nodes = parse_consolidated(stored[key], zarr_format=zarr_format, path="")
    assert sorted(nodes) == ["Sub", "Sub/deeper", "Sub/deeper/s", "Sub/ints", "a_first", "temp"]
    array_type = ArrayV3Metadata if zarr_format == 3 else ArrayV2Metadata
    assert isinstance(nodes["temp"], array_type) and nodes["temp"].attributes == {"units": "K"}
    assert np.isnan(nodes["temp"].fill_value) and nodes["Sub/ints"].dtype == np.dtype("i2")
    assert isinstance(nodes["Sub"], GroupMetadata) and nodes["Sub"].attributes == {"x": "y"}
    for path, node in nodes.items():
        if not isinstance(node, GroupMetadata):
            own = parse_node_metadata({k.rsplit("/", 1)[1]: v for k, v in stored.items() if k.rsplit("/", 1)[0] == path}, path=path)
            assert own == node
    root = parse_node_metadata({k: v for k, v in stored.items() if "/" not in k and k != ".zmetadata"}, path="")
    assert root.attributes == {"title": "t", "n": 1}
    rebuilt = build_consolidated(nodes, zarr_format=zarr_format, root=GroupMetadata(zarr_format, root.attributes))
    assert rebuilt == {key: stored[key]}


def test_v3_root_group_exposes_consolidated():
    stored = _peer_hierarchy(3)
    group = parse_node_metadata({"zarr.json": stored["zarr.json"]}, path="")
    assert isinstance(group, GroupMetadata) and group.consolidated is not None
    assert set(group.consolidated) == {"Sub", "Sub/deeper", "Sub/deeper/s", "Sub/ints", "a_first", "temp"}
    assert group.to_documents() == {"zarr.json": stored["zarr.json"]}
    plain = group.evolve(consolidated=None)
    assert "consolidated_metadata" not in json.loads(plain.to_documents()["zarr.json"])


def test_nested_v3_consolidated_is_flattened():
    inner = {"kind": "inline", "must_understand": False, "metadata": {"x": {"zarr_format": 3, "node_type": "group", "attributes": {"k": 1}}}}
    doc = {"zarr_format": 3, "node_type": "group", "consolidated_metadata": {"kind": "inline", "must_understand": False, "metadata": {"g": {"zarr_format": 3, "node_type": "group", "consolidated_metadata": inner}}}}
    nodes = parse_consolidated(json.dumps(doc).encode(), zarr_format=3, path="")
    assert set(nodes) == {"g", "g/x"} and nodes["g/x"].attributes == {"k": 1}


def test_bad_consolidated_documents():
    with pytest.raises(MetadataError, match="zarr_consolidated_format"):
        parse_consolidated(b'{"metadata": {}}', zarr_format=2, path="")
    with pytest.raises(MetadataError, match="metadata"):
        parse_consolidated(b'{"metadata": [], "zarr_consolidated_format": 1}', zarr_format=2, path="")
    with pytest.raises(MetadataError, match="consolidated_metadata"):
        parse_consolidated(b'{"zarr_format": 3, "node_type": "group"}', zarr_format=3, path="")
    with pytest.raises(MetadataError, match="invalid JSON"):
        parse_consolidated(b"{not json", zarr_format=2, path="root")
    bad_entry = {"metadata": {"a/.zarray": {"zarr_format": 2, "shape": [1]}}, "zarr_consolidated_format": 1}
    nodes = parse_consolidated(json.dumps(bad_entry).encode(), zarr_format=2, path="")
    assert list(nodes) == ["a"] and nodes.is_array("a")
    with pytest.raises(MetadataError, match="a/.zarray"):
        nodes["a"]
    with pytest.raises(MetadataError, match="entry 'x'"):
        parse_consolidated(b'{"zarr_format": 3, "node_type": "group", "consolidated_metadata": {"metadata": {"x": 1}}}', zarr_format=3, path="")
    with pytest.raises(MetadataError, match="v2 node"):
        build_consolidated({"g": GroupMetadata(2)}, zarr_format=3)


def test_arrays_are_parsed_on_first_lookup_and_pickle_unparsed():
    stored = _peer_hierarchy(3)
    nodes = parse_consolidated(stored["zarr.json"], zarr_format=3, path="")
    assert type(nodes._entries["temp"]).__name__ == "PendingArray"
    assert nodes.is_array("temp") and nodes.is_array("Sub/ints") and not nodes.is_array("Sub")
    copy = pickle.loads(pickle.dumps(nodes))
    assert type(copy._entries["temp"]).__name__ == "PendingArray"
    parsed = nodes["temp"]
    assert isinstance(parsed, ArrayV3Metadata) and nodes["temp"] is parsed and copy["temp"] == parsed
    below = nodes.below("Sub")
    assert sorted(below) == ["deeper", "deeper/s", "ints"] and below["ints"].dtype == np.dtype("i2")
    assert sorted(nodes.without("Sub")) == ["a_first", "temp"]
    assert nodes.with_node("new", GroupMetadata(3))["new"] == GroupMetadata(3)
