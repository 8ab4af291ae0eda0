"""Consolidated metadata stays in step with resizes, appends, attributes, new children and deletions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarrlayer
from safety_helpers import snapshot
from zarrlayer.errors import MetadataError


def _consolidated(path: Path, zarr_format: int, at: str = "") -> dict[str, Any]:
    """The recorded documents: v3 entries by node path, v2 entries by document key."""
    if zarr_format == 3:
        return json.loads((path / at / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    return json.loads((path / at / ".zmetadata").read_text())["metadata"]


def _recorded_shape(path: Path, zarr_format: int, node: str, at: str = "") -> list[int]:
    records = _consolidated(path, zarr_format, at)
    return records[node]["shape"] if zarr_format == 3 else records[f"{node}/.zarray"]["shape"]


def _peer_group(path: Path) -> Any:
    zarr = pytest.importorskip("zarr")
    return zarr.open_group(str(path), mode="r", use_consolidated=True)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_issue_input_append_through_consolidated_group(tmp_path: Path, zarr_format: int) -> None:
    path = tmp_path / "data.zarr"
    group = zarrlayer.create_group(store=path, zarr_format=zarr_format)
    group.create_array("x", shape=(4,), chunks=(2,), dtype="int64")[:] = [1, 2, 3, 4]
    zarrlayer.consolidate_metadata(path)

    group = zarrlayer.open_group(path, mode="r+")
    assert group.metadata.consolidated is not None
    group["x"].append([5, 6])

    reader = zarrlayer.open_group(path, mode="r")
    assert reader.metadata.consolidated is not None
    assert reader["x"][:].tolist() == [1, 2, 3, 4, 5, 6]
    assert _recorded_shape(path, zarr_format, "x") == [6]
    peer = _peer_group(path)
    assert peer["x"].shape == (6,) and peer["x"][:].tolist() == [1, 2, 3, 4, 5, 6]


def _hierarchy(path: Path, zarr_format: int) -> None:
    root = zarrlayer.create_group(store=path, zarr_format=zarr_format, attributes={"title": "t"})
    sub = root.create_group("a")
    sub.create_group("b").create_array("x", shape=(4,), chunks=(2,), dtype="float32")[:] = 1
    root.create_array("y", shape=(3, 3), chunks=(2, 2), dtype="int16")[:] = 7
    zarrlayer.consolidate_metadata(path)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_every_metadata_change_reaches_the_consolidated_document(tmp_path: Path, zarr_format: int) -> None:
    path = tmp_path / "h.zarr"
    _hierarchy(path, zarr_format)
    root = zarrlayer.open_group(path, mode="r+")

    root["a/b/x"].resize((10,))  # nested resize
    assert _recorded_shape(path, zarr_format, "a/b/x") == [10]
    root["y"].attrs["units"] = "m"  # array attributes
    root["a"].attrs.update({"kind": "sub"})  # group attributes
    root.attrs["title"] = "changed"  # the root's own attributes
    root["a"].create_array("new", shape=(2,), chunks=(2,), dtype="uint8")  # a new child, from a subgroup
    root.create_array("deep/er/z", shape=(5,), chunks=(5,), dtype="int8")  # new parents too
    del root["y"]  # deletion

    reader = zarrlayer.open_group(path, mode="r")
    assert reader.metadata.consolidated is not None
    assert reader["a/b/x"].shape == (10,)
    assert reader.attrs["title"] == "changed" and reader["a"].attrs["kind"] == "sub"
    assert reader["a/new"].shape == (2,) and reader["deep/er/z"].shape == (5,)
    assert "deep/er" in reader and "y" not in reader
    assert sorted(reader.group_keys()) == ["a", "deep"] and list(reader.array_keys()) == []

    peer = _peer_group(path)
    assert peer["a/b/x"].shape == (10,) and peer["a/new"].shape == (2,) and peer["deep/er/z"].shape == (5,)
    assert dict(peer.attrs) == {"title": "changed"} and dict(peer["a"].attrs) == {"kind": "sub"}
    assert "y" not in peer
    assert sorted(name for name, _ in peer.members(max_depth=None)) == sorted(
        name for name, _ in reader.members(max_depth=None)
    )


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_consolidated_subgroup_is_kept_in_step_too(tmp_path: Path, zarr_format: int) -> None:
    path = tmp_path / "h.zarr"
    _hierarchy(path, zarr_format)
    zarrlayer.consolidate_metadata(path, path="a")
    zarrlayer.open_array(path, path="a/b/x", mode="r+").append(np.ones(2, dtype="float32"))
    assert _recorded_shape(path, zarr_format, "a/b/x") == [6]
    assert _recorded_shape(path, zarr_format, "b/x", at="a") == [6]
    assert zarrlayer.open_group(path, path="a", mode="r")["b/x"].shape == (6,)


def test_group_opened_without_consolidated_keeps_the_record(tmp_path: Path) -> None:
    path = tmp_path / "h.zarr"
    _hierarchy(path, 3)
    plain = zarrlayer.open_group(path, mode="r+", use_consolidated=False)
    plain.attrs["note"] = "x"
    records = _consolidated(path, 3)
    assert "a/b/x" in records and json.loads((path / "zarr.json").read_text())["attributes"]["note"] == "x"
    assert zarrlayer.open_group(path, mode="r").metadata.consolidated is not None


def test_stale_in_memory_group_does_not_bring_old_shapes_back(tmp_path: Path) -> None:
    path = tmp_path / "h.zarr"
    _hierarchy(path, 3)
    old_handle = zarrlayer.open_group(path, mode="r+")  # holds the old consolidated records in memory
    zarrlayer.open_array(path, path="a/b/x", mode="r+").resize((8,))
    old_handle.attrs["later"] = True  # rewrites the root document
    assert _recorded_shape(path, 3, "a/b/x") == [8]
    assert zarrlayer.open_group(path, mode="r")["a/b/x"].shape == (8,)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_malformed_consolidated_document_refuses_the_write(tmp_path: Path, zarr_format: int) -> None:
    path = tmp_path / "h.zarr"
    _hierarchy(path, zarr_format)
    key = path / ("zarr.json" if zarr_format == 3 else ".zmetadata")
    doc = json.loads(key.read_text())
    if zarr_format == 3:
        doc["consolidated_metadata"]["metadata"] = ["not", "an", "object"]
    else:
        doc["metadata"] = 5
    key.write_text(json.dumps(doc))
    array = zarrlayer.open_array(path, path="a/b/x", mode="r+")
    before = snapshot(path)
    with pytest.raises(MetadataError, match="consolidate_metadata"):
        array.resize((12,))
    assert snapshot(path) == before


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_handles_opened_before_a_change_see_it(tmp_path: Path, zarr_format: int) -> None:
    """The issue's append, read back through the same group handle (zarr-python shows the old shape there)."""
    path = tmp_path / "data.zarr"
    _hierarchy(path, zarr_format)
    root = zarrlayer.open_group(path, mode="r+")
    sub = root["a/b"]
    root["a/b/x"].append(np.full(2, 5, dtype="float32"))
    assert root["a/b/x"].shape == (6,) and root["a/b/x"][:].tolist() == [1, 1, 1, 1, 5, 5]
    assert sub["x"].shape == (6,)
    zarrlayer.open_array(path, path="y", mode="r+").resize((5, 5))  # another handle, same process
    assert root["y"].shape == (5, 5)
    root["a/b"].create_array("w", shape=(1,), chunks=(1,), dtype="int8")
    assert "w" in sub and "a/b/w" in root
    del root["a"]
    assert "a" not in root and "a/b/x" not in root


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_consolidate_metadata_never_drops_a_node_created_while_it_walks(tmp_path: Path, monkeypatch, zarr_format: int) -> None:
    import threading
    import time

    from zarrlayer import api

    path = tmp_path / "race.zarr"
    group = zarrlayer.create_group(store=path, zarr_format=zarr_format)
    group.create_array("a", shape=(2,), dtype="i4")
    zarrlayer.consolidate_metadata(path)
    real_walk = api._walk
    creator: list[threading.Thread] = []

    def walk_while_another_thread_creates(*args: Any, **kwargs: Any) -> Any:
        nodes = real_walk(*args, **kwargs)  # "b" does not exist yet: the walk cannot see it
        writer = zarrlayer.open_group(path, mode="r+")
        creator.append(threading.Thread(target=lambda: writer.create_array("b", shape=(3,), dtype="i4")))
        creator[0].start()
        time.sleep(0.3)  # "b" writes its own document, then waits for the consolidated document's lock
        return nodes

    monkeypatch.setattr(api, "_walk", walk_while_another_thread_creates)
    zarrlayer.consolidate_metadata(path)
    creator[0].join()
    recorded = _consolidated(path, zarr_format)
    assert ("b" in recorded) if zarr_format == 3 else ("b/.zarray" in recorded)
    assert sorted(zarrlayer.open_group(path, mode="r").array_keys()) == ["a", "b"]
