"""The loopback test servers behave like the real services the stores talk to."""

from __future__ import annotations

import http.client
import time
import urllib.parse
from pathlib import Path

import pytest

from zarrlayer.testing.servers import create_bucket, http_server, moto_server, write_files

VALUE = bytes(range(100))


def _request(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, parts.path or "/", headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.fixture
def served(tmp_path: Path) -> Path:
    return write_files(tmp_path, {"dir/value": VALUE, "empty": b""})


@pytest.mark.parametrize(
    ("range_header", "status", "expected"),
    [(None, 200, VALUE), ("bytes=10-19", 206, VALUE[10:20]), ("bytes=95-", 206, VALUE[95:]),
     ("bytes=-7", 206, VALUE[-7:]), ("bytes=-500", 206, VALUE), ("bytes=90-500", 206, VALUE[90:]),
     ("bytes=100-", 416, b""), ("bytes=200-300", 416, b""), ("bytes=1-2,5-6", 200, VALUE), ("lines=1-2", 200, VALUE)],
)
def test_ranges(served: Path, range_header: str | None, status: int, expected: bytes) -> None:
    with http_server(served) as server:
        got_status, headers, body = _request(f"{server.url}/dir/value", headers={"Range": range_header} if range_header else None)
    assert (got_status, body) == (status, expected)
    if status == 206:
        assert headers["content-range"].endswith("/100")
    if status == 416:
        assert headers["content-range"] == "bytes */100"


def test_head_gives_the_size_without_a_body(served: Path) -> None:
    with http_server(served) as server:
        status, headers, body = _request(f"{server.url}/dir/value", "HEAD")
        assert (status, headers["content-length"], body) == (200, "100", b"")
        assert server.counts == {"HEAD": 1}


def test_directories_are_listed_only_with_a_trailing_slash(served: Path) -> None:
    with http_server(served) as server:
        assert _request(f"{server.url}/dir")[0] == 404
        status, headers, body = _request(f"{server.url}/dir/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'href="/dir/value"' in body


@pytest.mark.parametrize("path", ["/../etc/passwd", "/dir/../../x", "/%2e%2e/x", "/missing"])
def test_traversal_and_missing_paths_are_404(served: Path, path: str) -> None:
    with http_server(served / "dir") as server:
        assert _request(server.url + path)[0] == 404


def test_faults_latency_and_counters(served: Path) -> None:
    with http_server(served, latency=0.05) as server:
        server.fail_next(2, 503, path="/dir/value")
        statuses = [_request(f"{server.url}/dir/value")[0] for _ in range(3)] + [_request(f"{server.url}/empty")[0]]
        assert statuses == [503, 503, 200, 200]
        assert server.request_count == 4 and server.max_in_flight == 1
        server.fail_next(None, 403)
        assert [_request(f"{server.url}/empty")[0] for _ in range(2)] == [403, 403]
        server.clear_faults()
        server.reset_counts()
        start = time.perf_counter()
        assert _request(f"{server.url}/empty")[0] == 200
        assert time.perf_counter() - start >= 0.05
        assert server.requests == [("GET", "/empty", None)]


def test_close_drops_keep_alive_connections(served: Path) -> None:
    server = http_server(served)
    parts = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    connection.request("GET", "/empty")
    assert connection.getresponse().read() == b""
    server.close()
    server.close()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        connection.request("GET", "/empty")
        connection.getresponse()
    with pytest.raises(OSError):
        _request(f"{server.url}/empty")


def test_moto_server_is_one_per_process_and_resets() -> None:
    import botocore.session

    first, second = moto_server(), moto_server()
    assert first is second
    with first as endpoint:
        assert endpoint.startswith("http://127.0.0.1:")
    assert create_bucket(endpoint, "servers-test") == "servers-test"
    assert create_bucket(endpoint, "servers-test") == "servers-test"  # idempotent
    client = botocore.session.get_session().create_client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    assert "servers-test" in [b["Name"] for b in client.list_buckets()["Buckets"]]
