"""`zarrlayer copy` never harms its source: overlapping locations, links out of the source, memory://."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from safety_helpers import snapshot
from zarrlayer._cli.copy import UnsafeCopyError, copy_store
from zarrlayer.cli import main
from zarrlayer.core.sync import sync
from zarrlayer.storage import LocalStore, MemoryStore, ZipStore


def _refused(args: list[str], capsys: Any, *watched: Path) -> str:
    before = [snapshot(p) for p in watched]
    assert main(["copy", *args]) == 1
    err = capsys.readouterr().err
    assert [snapshot(p) for p in watched] == before
    return err


def test_issue_input_copy_onto_itself_with_overwrite(dataset: Path, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(dataset.parent)
    files = [k for k, v in snapshot(dataset).items() if v != "dir"]
    assert len(files) >= 5
    err = _refused(["data.zarr", "./data.zarr", "--overwrite"], capsys, dataset.parent)
    assert "is the source itself" in err and str(dataset) in err
    assert err.count(str(dataset)) >= 2  # both locations named


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize(
    ("destination", "reason"),
    [
        ("data.zarr/../data.zarr", "is the source itself"),
        ("alias.zarr", "is the source itself"),  # a link to the source
        ("data.zarr/meta/copy", "lies inside the source"),
        ("data.zarr/copy.zarr.zip", "lies inside the source"),
        ("alias.zarr/inner", "lies inside the source"),
        (".", "contains the source"),
    ],
)
def test_overlapping_destinations_are_refused(dataset: Path, capsys: Any, monkeypatch: Any,
                                              destination: str, reason: str, overwrite: bool) -> None:
    monkeypatch.chdir(dataset.parent)
    os.symlink(dataset, dataset.parent / "alias.zarr")
    args = ["data.zarr", destination] + (["--overwrite"] if overwrite else [])
    err = _refused(args, capsys, dataset.parent)
    assert reason in err and "refusing to copy" in err


def test_source_node_inside_destination_is_refused(dataset: Path, capsys: Any) -> None:
    err = _refused([str(dataset), str(dataset), "--src-path", "meta", "--overwrite"], capsys, dataset)
    assert "contains the source" in err


def test_zip_source_into_the_directory_holding_it(dataset: Path, tmp_path: Path, capsys: Any) -> None:
    holder = tmp_path / "holder"
    holder.mkdir()
    archive = holder / "data.zarr.zip"
    assert main(["copy", str(dataset), str(archive)]) == 0
    capsys.readouterr()
    err = _refused([str(archive), str(holder), "--overwrite"], capsys, holder)
    assert "contains the source" in err
    assert "zarr.json" in zipfile.ZipFile(archive).namelist()


def test_disjoint_copy_still_works(dataset: Path, tmp_path: Path, capsys: Any) -> None:
    before = snapshot(dataset)
    assert main(["copy", str(dataset), str(tmp_path / "data-copy.zarr")]) == 0
    assert main(["copy", str(dataset), str(tmp_path / "data-copy.zarr"), "--overwrite"]) == 0
    assert snapshot(tmp_path / "data-copy.zarr") == before == snapshot(dataset)
    # a sibling whose name starts with the source's name is not inside it
    assert main(["copy", str(dataset), str(tmp_path / "data.zarr2")]) == 0
    assert snapshot(tmp_path / "data.zarr2") == before


def test_python_copy_refuses_overlapping_prefixes_in_one_store() -> None:
    data: dict[str, bytes] = {"a/zarr.json": b"{}", "a/c/0": b"x", "b/zarr.json": b"{}"}
    store = MemoryStore(data)
    before = dict(data)
    for src, dst in [("a", "a"), ("a", "a/copy"), ("a", ""), ("a/c", "a")]:
        with pytest.raises(UnsafeCopyError, match="refusing to copy"):
            sync(copy_store(store, store, src_prefix=src, dst_prefix=dst, overwrite=True))
        assert data == before
    sync(copy_store(store, store, src_prefix="a", dst_prefix="a2"))
    assert data["a2/c/0"] == b"x"


def test_python_copy_refuses_same_archive_and_same_directory(dataset: Path, tmp_path: Path) -> None:
    before = snapshot(dataset)
    with pytest.raises(UnsafeCopyError, match="is the source itself"):
        sync(copy_store(LocalStore(dataset), LocalStore(str(dataset) + "/../data.zarr"), overwrite=True))
    assert snapshot(dataset) == before
    archive = tmp_path / "a.zip"
    sync(copy_store(LocalStore(dataset), ZipStore(archive, mode="w")))
    size = archive.stat().st_size
    with pytest.raises(UnsafeCopyError, match="lies inside the source"):
        sync(copy_store(ZipStore(archive, mode="r"), ZipStore(archive, mode="a"), dst_prefix="inner"))
    assert archive.stat().st_size == size


def test_links_out_of_the_source_are_not_followed(dataset: Path, tmp_path: Path, capsys: Any) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret").write_bytes(b"not part of the dataset")
    os.symlink(elsewhere, dataset / "meta" / "link")
    target = tmp_path / "copy.zarr"
    err = _refused([str(dataset), str(target)], capsys, dataset, elsewhere)
    assert "leads out of the source" in err and str(elsewhere) in err
    assert not target.exists()
    # a file link too, and a link that loops back up
    os.remove(dataset / "meta" / "link")
    os.symlink(elsewhere / "secret", dataset / "meta" / "c")
    assert "leads out of the source" in _refused([str(dataset), str(target)], capsys, dataset)
    os.remove(dataset / "meta" / "c")
    os.symlink(dataset, dataset / "meta" / "loop")
    assert "loop" in _refused([str(dataset), str(target)], capsys, dataset)
    assert not target.exists()


def test_source_path_through_a_link_out_of_the_store_is_refused(dataset: Path, tmp_path: Path, capsys: Any) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "attributes": {}}')
    os.symlink(elsewhere, dataset / "outside")
    target = tmp_path / "copy.zarr"
    err = _refused([str(dataset), str(target), "--src-path", "outside"], capsys, dataset, elsewhere)
    assert "outside the store's root" in err and not target.exists()


def test_links_inside_the_source_are_fine(dataset: Path, tmp_path: Path) -> None:
    os.symlink(dataset / "meta", dataset / "meta-alias")
    assert main(["copy", str(dataset), str(tmp_path / "copy.zarr")]) == 0
    assert (tmp_path / "copy.zarr" / "meta-alias" / "zarr.json").is_file()


def test_copy_into_memory_is_refused(dataset: Path, capsys: Any) -> None:
    err = _refused([str(dataset), "memory://cli-vanishes"], capsys, dataset)
    assert "memory://cli-vanishes" in err and "vanishes when this command exits" in err
    assert not MemoryStore.named("cli-vanishes").store_dict
    MemoryStore.drop_named("cli-vanishes")
