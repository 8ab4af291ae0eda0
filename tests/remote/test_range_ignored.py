"""A server that ignores Range headers (Python's http.server) still yields exactly the requested bytes."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from zarrlayer.core.sync import sync
from zarrlayer.storage import RangeByteRequest, SuffixByteRequest
from zarrlayer.storage.fsspec import FsspecStore

VALUE = bytes(range(256)) * 8


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("plain")
    (root / "blob").write_bytes(VALUE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "request_, expected",
    [
        (RangeByteRequest(10, 20), VALUE[10:20]),
        (RangeByteRequest(100, 1100), VALUE[100:1100]),
        (SuffixByteRequest(16), VALUE[-16:]),
    ],
    ids=["range", "wide-range", "suffix"],
)
def test_ranges_are_cut_when_the_server_sends_everything(plain_server: str, request_, expected: bytes) -> None:
    store = FsspecStore.from_url(plain_server, read_only=True)
    assert bytes(sync(store.get("blob", request_))) == expected
    [batched] = sync(store.get_partial_values([("blob", request_)]))
    assert bytes(batched) == expected
