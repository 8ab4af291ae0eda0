"""Zip archives and directories are exchangeable with zarr-python's own stores, key for key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import zarr
from zarr.core.buffer import default_buffer_prototype

from zarrlayer.core.sync import sync
from zarrlayer.storage import LocalStore, ZipStore
from zarrlayer.testing import STORE_DATA


async def _peer_items(store: zarr.abc.store.Store) -> dict[str, bytes]:
    await store._ensure_open()
    keys = [k async for k in store.list()]
    values = await asyncio.gather(*(store.get(k, prototype=default_buffer_prototype()) for k in keys))
    return {k: v.to_bytes() for k, v in zip(keys, values)}


async def _our_items(store: ZipStore | LocalStore) -> dict[str, bytes]:
    return {k: bytes(await store.get(k)) async for k in store.list()}


def test_zip_written_by_zarr_python_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "peer.zip"
    peer = zarr.storage.ZipStore(path, mode="w")
    array = zarr.create_array(peer, name="t", shape=(6, 5), chunks=(2, 5), dtype="i4")
    array[:] = np.arange(30, dtype="i4").reshape(6, 5)
    peer.close()
    expected = asyncio.run(_peer_items(zarr.storage.ZipStore(path, mode="r")))
    assert "t/zarr.json" in expected and len(expected) > 3
    assert sync(_our_items(ZipStore(path))) == expected


def test_zip_written_by_us_reads_in_zarr_python(tmp_path: Path) -> None:
    path = tmp_path / "ours.zip"
    ours = ZipStore(path, mode="w")
    for key, value in STORE_DATA.items():
        sync(ours.set(key, b"stale"))
        sync(ours.set(key, value))
    ours.close()
    assert asyncio.run(_peer_items(zarr.storage.ZipStore(path, mode="r"))) == STORE_DATA


def test_directory_written_by_zarr_python_reads_back(tmp_path: Path) -> None:
    array = zarr.create_array(zarr.storage.LocalStore(tmp_path), name="g/t", shape=(4,), chunks=(2,), dtype="f8")
    array[:] = [1.5, 2.5, 3.5, 4.5]
    expected = asyncio.run(_peer_items(zarr.storage.LocalStore(tmp_path)))
    assert sync(_our_items(LocalStore(tmp_path, read_only=True))) == expected
