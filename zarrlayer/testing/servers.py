"""Loopback servers for testing remote stores: moto's S3 and a directory over HTTP.

Both listen on 127.0.0.1 only, on a free port, so tests, benchmarks and demos never
reach the network:

    with moto_server() as endpoint:            # one S3 server per process, started once
        create_bucket(endpoint, "data")
        store = FsspecStore.from_url("s3://data", storage_options=s3fs_options(endpoint))

    with http_server(directory, latency=0.02) as server:
        store = FsspecStore.from_url(server.url)
        ...
        server.request_count                   # requests answered so far
        server.fail_next(2, status=503)        # fault injection for retry tests
"""

from __future__ import annotations

import atexit
import html
import os
import posixpath
import socket
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = [
    "S3_TEST_KEY",
    "S3_TEST_SECRET",
    "S3_TEST_REGION",
    "MotoServer",
    "moto_server",
    "create_bucket",
    "s3fs_options",
    "obstore_s3_options",
    "LoopbackHTTPServer",
    "http_server",
    "write_files",
]

LOOPBACK = "127.0.0.1"
S3_TEST_KEY = "testing"
S3_TEST_SECRET = "testing"
S3_TEST_REGION = "us-east-1"


# -- S3 (moto) ---------------------------------------------------------------------------


class MotoServer:
    """A moto S3 server on 127.0.0.1; `with server as endpoint_url:` yields its URL.

    Leaving the `with` block keeps it running (it is shared by the whole process and
    stopped at exit); call `reset()` to forget every bucket.
    """

    def __init__(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url: str = f"http://{host}:{port}"
        self._stopped = False

    def __enter__(self) -> str:
        return self.endpoint_url

    def __exit__(self, *exc: object) -> None:
        return None

    def reset(self) -> None:
        """Delete every bucket and object (moto's reset API)."""
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        if not self._stopped:
            self._stopped = True
            self._server.stop()


_moto_lock = threading.Lock()
_moto: MotoServer | None = None


def moto_server() -> MotoServer:
    """The process's moto S3 server, started on first call on a free loopback port."""
    global _moto
    with _moto_lock:
        if _moto is None or _moto._stopped:
            _moto = MotoServer()
            atexit.register(_moto.stop)
        return _moto


def _s3_client(endpoint_url: str) -> Any:
    import botocore.session

    return botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=S3_TEST_REGION,
        aws_access_key_id=S3_TEST_KEY,
        aws_secret_access_key=S3_TEST_SECRET,
    )


def create_bucket(endpoint_url: str, bucket: str) -> str:
    """Create `bucket` on the S3 server at `endpoint_url` (no error if it exists); returns its name."""
    client = _s3_client(endpoint_url)
    try:
        client.create_bucket(Bucket=bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    return bucket


def s3fs_options(endpoint_url: str) -> dict[str, Any]:
    """storage_options for s3fs talking to the test server (fresh dict each call)."""
    return {
        "key": S3_TEST_KEY,
        "secret": S3_TEST_SECRET,
        "client_kwargs": {"endpoint_url": endpoint_url, "region_name": S3_TEST_REGION},
    }


def obstore_s3_options(endpoint_url: str) -> dict[str, Any]:
    """Keyword options for obstore's S3Store / from_url talking to the test server."""
    return {
        "endpoint": endpoint_url,
        "region": S3_TEST_REGION,
        "access_key_id": S3_TEST_KEY,
        "secret_access_key": S3_TEST_SECRET,
        "virtual_hosted_style_request": False,
        "client_options": {"allow_http": True},
    }


# -- HTTP ----------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # a burst of new connections must not wait for SYN retransmits

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Dropped connections (clients gone, or `close()`) are normal here; anything else is printed."""
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


@dataclass
class _Fault:
    status: int
    remaining: int | None
    path: str | None


class LoopbackHTTPServer:
    """A threaded read-only HTTP/1.1 server over `directory` on 127.0.0.1.

    Serves GET and HEAD, single byte ranges (206, 416 when unsatisfiable), HTML
    directory listings (for fsspec's HTTP `ls`), an optional delay per request and
    injected error statuses; counts every request it answers. Like an object store,
    a directory is not a value: `/a` is 404 where `a` is a directory, `/a/` its listing.
    """

    def __init__(self, directory: str | os.PathLike[str], latency: float = 0.0) -> None:
        self.directory = Path(directory).resolve()
        if not self.directory.is_dir():
            raise NotADirectoryError(f"http_server needs an existing directory, found {str(directory)!r}")
        self.latency = float(latency)
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._counts: Counter[str] = Counter()
        self._log: list[tuple[str, str, str | None]] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._connections: set[socket.socket] = set()
        self._httpd = _Server((LOOPBACK, 0), _make_handler(self))
        host, port = self._httpd.server_address[:2]
        self.url: str = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="zarrlayer-http", daemon=True
        )
        self._thread.start()

    # -- counters ------------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """Requests answered so far (every method, faults included)."""
        with self._lock:
            return sum(self._counts.values())

    @property
    def counts(self) -> dict[str, int]:
        """Requests answered so far, by method."""
        with self._lock:
            return dict(self._counts)

    @property
    def requests(self) -> list[tuple[str, str, str | None]]:
        """(method, path, Range header) of every request answered, oldest first."""
        with self._lock:
            return list(self._log)

    @property
    def max_in_flight(self) -> int:
        """The most requests being answered at once since the last `reset_counts`."""
        with self._lock:
            return self._max_in_flight

    def reset_counts(self) -> None:
        """Forget the requests counted so far (and the in-flight high-water mark)."""
        with self._lock:
            self._counts.clear()
            self._log.clear()
            self._max_in_flight = self._in_flight

    # -- faults --------------------------------------------------------------------------

    def fail_next(self, count: int | None, status: int = 503, *, path: str | None = None) -> None:
        """Answer the next `count` requests (every one when None) with `status`.

        With `path`, only requests for that URL path (e.g. '/data/c/0') are affected.
        """
        with self._lock:
            self._faults.append(_Fault(status, count, path))

    def drop_next(self, count: int | None, *, path: str | None = None) -> None:
        """Close the connection without answering the next `count` requests (a connection reset)."""
        self.fail_next(count, 0, path=path)

    def clear_faults(self) -> None:
        """Stop injecting errors."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> int | None:
        with self._lock:
            for fault in self._faults:
                if fault.path is not None and fault.path != path:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault.status
        return None

    def _record(self, method: str, path: str, range_header: str | None) -> None:
        with self._lock:
            self._counts[method] += 1
            self._log.append((method, path, range_header))
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving, drop open keep-alive connections and release the port (idempotent)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()
        for connection in list(self._connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> LoopbackHTTPServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LoopbackHTTPServer({self.url!r}, directory={str(self.directory)!r}, latency={self.latency})"


def http_server(directory: str | os.PathLike[str], latency: float = 0.0) -> LoopbackHTTPServer:
    """Serve `directory` over HTTP on 127.0.0.1 (a free port), adding `latency` seconds per request.

    Returns the running server; use it as a context manager to stop it.
    """
    return LoopbackHTTPServer(directory, latency)


def write_files(directory: str | os.PathLike[str], data: dict[str, bytes]) -> Path:
    """Write `data` (store key -> bytes) as files under `directory`, ready to serve; returns the directory."""
    root = Path(directory)
    for key, value in data.items():
        path = root.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(value)
    return root


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """(start, stop) for a single satisfiable range, None to serve it all, 'unsatisfiable' for a 416."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[len("bytes="):].strip().partition("-")
    if not sep:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0 or size == 0:
                return "unsatisfiable"
            return max(size - suffix, 0), size
        start = int(first)
        stop = int(last) + 1 if last else size
    except ValueError:
        return None
    if start < 0 or (last and stop <= start):
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(stop, size)


def _make_handler(server: LoopbackHTTPServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def setup(self) -> None:
            super().setup()
            server._connections.add(self.connection)

        def finish(self) -> None:
            server._connections.discard(self.connection)
            super().finish()

        def do_GET(self) -> None:
            self._serve(body=True)

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def _reply(
            self, status: int, payload: bytes, headers: dict[str, str], body: bool, length: int | None = None
        ) -> None:
            self._finish_count()  # before the client can see the answer and send its next request
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload) if length is None else length))
            self.end_headers()
            if body and payload:
                self.wfile.write(payload)

        def _serve(self, body: bool) -> None:
            url_path = urllib.parse.urlsplit(self.path).path
            range_header = self.headers.get("Range")
            server._record(self.command, url_path, range_header)
            self._counted = True
            try:
                self._answer(url_path, range_header, body)
            finally:
                self._finish_count()

        def _finish_count(self) -> None:
            if getattr(self, "_counted", False):
                self._counted = False
                server._done()

        def _answer(self, url_path: str, range_header: str | None, body: bool) -> None:
            if server.latency > 0:
                time.sleep(server.latency)
            status = server._take_fault(url_path)
            if status == 0:
                self._finish_count()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if status is not None:
                self._reply(status, b"", {}, body)
                return
            target = self._resolve(url_path)
            if target is None or not target.exists() or (target.is_dir() and not url_path.endswith("/")):
                self._reply(404, b"", {}, body)
            elif target.is_dir():
                self._reply(200, _listing(target, url_path), {"Content-Type": "text/html; charset=utf-8"}, body)
            else:
                self._serve_file(target, range_header, body)

        def _resolve(self, url_path: str) -> Path | None:
            parts = [p for p in urllib.parse.unquote(url_path).split("/") if p]
            if any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
                return None
            return server.directory.joinpath(*parts)

        def _serve_file(self, target: Path, range_header: str | None, body: bool) -> None:
            size = target.stat().st_size
            headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
            selected = _parse_range(range_header, size)
            if selected == "unsatisfiable":
                self._reply(416, b"", {"Content-Range": f"bytes */{size}"}, body)
                return
            start, stop = (0, size) if selected is None else selected  # type: ignore[misc]
            payload = b""
            if body:
                with target.open("rb") as f:
                    f.seek(start)
                    payload = f.read(stop - start)
            if selected is not None:
                headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
            self._reply(200 if selected is None else 206, payload, headers, body, length=stop - start)

    return _Handler


def _listing(directory: Path, url_path: str) -> bytes:
    base = url_path if url_path.endswith("/") else url_path + "/"
    links = []
    for entry in sorted(directory.iterdir()):
        name = entry.name + ("/" if entry.is_dir() else "")
        href = html.escape(posixpath.join(base, urllib.parse.quote(name)), quote=True)
        links.append(f'<li><a href="{href}">{html.escape(name)}</a></li>')
    return ("<!DOCTYPE html><html><body><ul>" + "".join(links) + "</ul></body></html>").encode()
