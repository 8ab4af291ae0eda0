"""Issue 14.1: bodies cut short with a matching Content-Length never stay in a cache.

A proxy that cuts a body and sets Content-Length to match sends an answer that HTTP
cannot tell from a good one. The cache keeps it; the decode fails; the read path then
drops the cached copies and reads once more from upstream. After the server recovers,
every chunk reads back correctly through every stack and both backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import zarrlayer
from zarrlayer.errors import ChunkDecodeError, MetadataError
from zarrlayer.testing.servers import FaultServer, fault_server

from hostile_helpers import BACKENDS, STACKS, remote, stacked

CHUNKS = 256
CHUNK = 64
DATA = np.arange(CHUNKS * CHUNK, dtype="f8") * 1.5


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    root = tmp_path_factory.mktemp("cut")
    zarrlayer.create_array(str(root / "a"), data=DATA, chunks=(CHUNK,))
    with fault_server(root) as server:
        yield server


@pytest.fixture
def server(served: FaultServer) -> Iterator[FaultServer]:
    served.clear_faults()
    yield served
    served.clear_faults()


def _undecodable(array: zarrlayer.Array) -> int:
    """How many chunks fail to decode (read one by one only when the whole read fails)."""
    try:
        whole = array[:]
    except ChunkDecodeError:
        pass
    else:
        assert np.array_equal(whole, DATA)
        return 0
    bad = 0
    for i in range(CHUNKS):
        try:
            got = array[i * CHUNK : (i + 1) * CHUNK]
        except ChunkDecodeError:
            bad += 1
            continue
        assert np.array_equal(got, DATA[i * CHUNK : (i + 1) * CHUNK])
    return bad


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_cut_chunks_are_not_kept_once_the_server_recovers(
    server: FaultServer, backend: str, stack: str, tmp_path: Path
) -> None:
    cache = stacked(stack, remote(backend, server.url + "/a"), tmp_path / "cache")
    array = zarrlayer.open_array(cache, mode="r")
    before = server.injected.get("cut", 0)
    server.cut_next(None)
    with pytest.raises(ChunkDecodeError):
        array[:]  # every chunk cut, and cut again when read once more
    assert server.injected.get("cut", 0) - before >= 2 * CHUNKS
    server.clear_faults()
    assert _undecodable(array) == 0


@pytest.mark.parametrize("stack", ["memory+disk"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_one_cut_read_is_survived_without_an_error(server: FaultServer, backend: str, stack: str, tmp_path: Path) -> None:
    cache = stacked(stack, remote(backend, server.url + "/a"), tmp_path / "cache")
    array = zarrlayer.open_array(cache, mode="r")
    server.cut_next(37)  # 37 of the 256 chunk bodies cut, the server fine when they are read again
    assert np.array_equal(array[:], DATA)
    assert np.array_equal(array[:], DATA)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cut_zarr_json_in_the_disk_cache_recovers_on_the_next_open(
    server: FaultServer, backend: str, tmp_path: Path
) -> None:
    directory = tmp_path / "cache"
    server.cut_next(None, path="/a/zarr.json")
    with pytest.raises(MetadataError):
        zarrlayer.open_array(stacked("disk", remote(backend, server.url + "/a"), directory), mode="r")
    server.clear_faults()
    # a new cache object over the same directory stands for another process
    array = zarrlayer.open_array(stacked("disk", remote(backend, server.url + "/a"), directory), mode="r")
    assert np.array_equal(array[:], DATA)
