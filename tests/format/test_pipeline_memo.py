"""Alike arrays share one parsed codec pipeline, without letting a cached parse skip a safety check."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import zarrlayer.config
from zarrlayer.errors import UnsafeCodecError
from zarrlayer.format import build_array_metadata, parse_node_metadata

_BASE = json.loads(
    build_array_metadata(zarr_format=3, shape=(6, 4), chunks=(3, 2), dtype="f4").to_documents()["zarr.json"]
)


def _doc(**changes):
    doc = copy.deepcopy(_BASE)
    doc.update(changes)
    return {"zarr.json": json.dumps(doc).encode()}


@pytest.fixture
def fresh_memos(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty structure and pipeline memos: earlier parses in the process (a structure memo entry whose
    pipeline has since left the pipeline memo) must not decide what this test sees."""
    from zarrlayer.format import metadata_v3
    from zarrlayer.format.codecs import chain

    monkeypatch.setattr(metadata_v3, "_structure_memo", {})
    monkeypatch.setattr(chain, "_memo", {})


@pytest.mark.usefixtures("fresh_memos")
def test_alike_arrays_share_a_pipeline_and_different_ones_do_not():
    a = parse_node_metadata(_doc(attributes={"name": "a"}), path="a")
    b = parse_node_metadata(_doc(shape=[9, 9], attributes={"name": "b"}), path="b")
    assert a.codecs is b.codecs
    other_fill = parse_node_metadata(_doc(fill_value=1.5), path="c")
    other_chunks = parse_node_metadata(
        _doc(chunk_grid={"name": "regular", "configuration": {"chunk_shape": [2, 2]}}), path="d"
    )
    assert other_fill.codecs is not a.codecs and other_chunks.codecs is not a.codecs
    assert other_chunks.codecs.shape == (2, 2)
    chunk = np.arange(6, dtype="f4").reshape(3, 2)
    assert np.array_equal(b.codecs.decode(a.codecs.encode(chunk), (3, 2)), chunk)


def test_a_pipeline_parsed_while_unsafe_codecs_were_allowed_is_refused_afterwards():
    codecs = [{"name": "vlen-utf8"}, {"name": "numcodecs.pickle"}]
    document = _doc(data_type="string", fill_value="", codecs=codecs)
    with zarrlayer.config.override(allow_unsafe_codecs=True):
        assert parse_node_metadata(document, path="p").codecs is not None
    with pytest.raises(UnsafeCodecError, match="pickle"):
        parse_node_metadata(document, path="p")


def test_a_full_memo_keeps_what_was_just_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """At capacity the oldest entry goes, not the whole memo (a clear-all between two alike parses
    made them parse twice, and made the sharing above fail when other threads parsed meanwhile)."""
    from zarrlayer.format import metadata_v3

    monkeypatch.setattr(metadata_v3, "_STRUCTURE_MEMO_SIZE", 3)
    monkeypatch.setattr(metadata_v3, "_structure_memo", {})
    keys = []
    for n, fill in enumerate([0.0, 1.0, 2.0, 9.0]):  # the fourth arrives at a full memo: the oldest goes
        parse_node_metadata(_doc(fill_value=fill, attributes={"n": n}), path=f"f{n}")
        keys.append(metadata_v3._structure_key(json.loads(_doc(fill_value=fill)["zarr.json"])))
    assert list(metadata_v3._structure_memo) == keys[1:]
