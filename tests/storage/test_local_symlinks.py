"""LocalStore never reaches outside its root through a symbolic link (issue 14, point 5).

The issue's input: `root/link -> /elsewhere`; reads, writes and deletes through `link/...`
must raise InvalidKeyError and leave /elsewhere byte for byte as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zarrlayer.core.sync import sync
from zarrlayer.errors import InvalidKeyError
from zarrlayer.storage import LocalStore, RangeByteRequest


def _tree(path: Path) -> dict[str, bytes]:
    """Every file under `path` and its bytes (to prove nothing outside changed)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def layout(tmp_path: Path) -> tuple[LocalStore, Path, Path]:
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    (elsewhere / "sub").mkdir(parents=True)
    (elsewhere / "secret").write_bytes(b"outside data")
    (elsewhere / "sub" / "zarr.json").write_bytes(b'{"outside": true}')
    (root / "inner").mkdir(parents=True)
    (root / "zarr.json").write_bytes(b"{}")
    (root / "inner" / "c0").write_bytes(b"inside")
    os.symlink(elsewhere, root / "link")
    os.symlink(elsewhere / "secret", root / "filelink")
    os.symlink(root / "inner", root / "alias")  # a link that stays inside the root keeps working
    return LocalStore(root), root, elsewhere


def test_reads_through_a_link_out_of_the_root_are_refused(layout: tuple[LocalStore, Path, Path]) -> None:
    store, _, elsewhere = layout
    before = _tree(elsewhere)
    for key in ("link/secret", "link/sub/zarr.json", "filelink"):
        for call in (lambda: store.get(key), lambda: store.get(key, RangeByteRequest(0, 3)),
                     lambda: store.exists(key), lambda: store.getsize(key),
                     lambda: store.get_partial_values([(key, None)])):
            with pytest.raises(InvalidKeyError, match="outside the root"):
                sync(call())
        with pytest.raises(InvalidKeyError):
            store.get_sync(key)
        with pytest.raises(InvalidKeyError):
            store.exists_sync(key)
    assert _tree(elsewhere) == before


def test_writes_and_deletes_through_a_link_leave_elsewhere_untouched(layout: tuple[LocalStore, Path, Path]) -> None:
    store, _, elsewhere = layout
    before = _tree(elsewhere)
    for call in (lambda: store.set("link/secret", b"overwritten"), lambda: store.set("link/new", b"planted"),
                 lambda: store.set("link/sub/deeper/x", b"planted"),
                 lambda: store.set_if_not_exists("link/new2", b"planted"),
                 lambda: store.delete("link/secret"), lambda: store.delete("link/sub/zarr.json"),
                 lambda: store.delete_dir("link"), lambda: store.delete_dir("link/sub")):
        with pytest.raises(InvalidKeyError, match="outside the root"):
            sync(call())
    with pytest.raises(InvalidKeyError):
        store.set_sync("link/secret", b"overwritten")
    with pytest.raises(InvalidKeyError):
        store.delete_sync("link/secret")
    assert _tree(elsewhere) == before
    assert sorted(os.listdir(elsewhere)) == ["secret", "sub"]


def test_clear_and_listing_do_not_descend_into_the_link(layout: tuple[LocalStore, Path, Path]) -> None:
    store, root, elsewhere = layout
    before = _tree(elsewhere)

    async def keys(prefix: str = "") -> list[str]:
        return sorted([k async for k in store.list_prefix(prefix)])

    async def children(prefix: str) -> list[str]:
        return sorted([k async for k in store.list_dir(prefix)])

    assert sync(keys()) == ["alias/c0", "inner/c0", "zarr.json"]
    assert sync(children("")) == ["alias", "inner", "zarr.json"]
    with pytest.raises(InvalidKeyError):
        sync(keys("link/"))
    with pytest.raises(InvalidKeyError):
        sync(children("link"))
    with pytest.raises(InvalidKeyError):
        sync(store.getsize_prefix("link/"))
    with pytest.raises(InvalidKeyError):
        sync(store.is_empty("link"))
    assert sync(store.getsize_prefix("")) == len(b"{}") + 2 * len(b"inside")
    sync(store.clear())
    assert _tree(elsewhere) == before
    assert os.path.islink(root / "link")


def test_links_inside_the_root_are_followed(layout: tuple[LocalStore, Path, Path]) -> None:
    store, root, _ = layout
    assert bytes(sync(store.get("alias/c0"))) == b"inside"
    sync(store.set("alias/c1", b"via alias"))
    assert (root / "inner" / "c1").read_bytes() == b"via alias"


def test_a_link_made_later_is_still_refused(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x").write_bytes(b"outside")
    store = LocalStore(root)
    sync(store.set("a/b", b"1"))
    os.symlink(elsewhere, root / "late")
    with pytest.raises(InvalidKeyError):
        sync(store.get("late/x"))
    with pytest.raises(InvalidKeyError):
        sync(store.delete("late/x"))
    assert (elsewhere / "x").read_bytes() == b"outside"


def test_a_link_cycle_inside_the_root_does_not_hang_listing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = LocalStore(root)
    sync(store.set("a/k", b"1"))
    os.symlink(root, root / "a" / "loop")

    async def keys() -> list[str]:
        return sorted([k async for k in store.list()])

    assert sync(keys()) == ["a/k"]
