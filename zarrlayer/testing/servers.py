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

    with fault_server(directory) as server:    # the same server in a process of its own
        server.cut_next(3)                     # bodies cut short, Content-Length matching the cut
        server.short_next(1)                   # a range answered with half the bytes asked
        server.stall_next(1, 5.0)              # headers, then nothing for 5 s
        server.ignore_ranges(True)             # every range answered with the whole object

The kinds of fault (`FAULT_KINDS`): "status" (an error status such as 503), "drop" (the
connection closed without an answer), "cut" (a body cut short, with a Content-Length that
matches the cut, as a broken proxy sends it), "short" (a range answered with 206 and fewer
bytes than asked, the Content-Range saying so), "stall" (headers and then nothing, or with
`before_headers=True` an accepted connection that is never answered) and "ignore_range"
(the whole object with 200 whatever the Range header asks).
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
    "FAULT_KINDS",
    "FaultServer",
    "LoopbackHTTPServer",
    "fault_server",
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


FAULT_KINDS = ("status", "drop", "cut", "short", "stall", "ignore_range")


@dataclass
class _Fault:
    status: int
    remaining: int | None
    path: str | None
    kind: str = "status"
    seconds: float = 0.0
    before_headers: bool = False


class LoopbackHTTPServer:
    """A threaded read-only HTTP/1.1 server over `directory` on 127.0.0.1.

    Serves GET and HEAD, single byte ranges (206, 416 when unsatisfiable), HTML
    directory listings (for fsspec's HTTP `ls`), an optional delay per request and
    injected error statuses; counts every request it answers. Like an object store,
    a directory is not a value: `/a` is 404 where `a` is a directory, `/a/` its listing.
    """

    def __init__(self, directory: str | os.PathLike[str], latency: float = 0.0, *, listings: bool = True) -> None:
        self.directory = Path(directory).resolve()
        if not self.directory.is_dir():
            raise NotADirectoryError(f"http_server needs an existing directory, found {str(directory)!r}")
        self.latency = float(latency)
        self.listings = bool(listings)
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._counts: Counter[str] = Counter()
        self._injected: Counter[str] = Counter()
        self._log: list[tuple[str, str, str | None]] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._connections: set[socket.socket] = set()
        self._httpd = _Server((LOOPBACK, 0), _make_handler(self))
        port = self._httpd.server_address[1]
        self.url: str = f"http://{LOOPBACK}:{port}"
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
        """(method, path with any query string, Range header) of every request answered, oldest first."""
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
        self._add(_Fault(status, count, path, "drop" if status == 0 else "status"))

    def drop_next(self, count: int | None, *, path: str | None = None) -> None:
        """Close the connection without answering the next `count` requests (a connection reset)."""
        self._add(_Fault(0, count, path, "drop"))

    def cut_next(self, count: int | None, *, path: str | None = None) -> None:
        """Answer the next `count` GETs with half the body and a Content-Length that matches the cut."""
        self._add(_Fault(200, count, path, "cut"))

    def short_next(self, count: int | None, *, path: str | None = None) -> None:
        """Answer the next `count` range requests with 206 and half the bytes asked (Content-Range says so)."""
        self._add(_Fault(206, count, path, "short"))

    def stall_next(
        self, count: int | None, seconds: float, *, path: str | None = None, before_headers: bool = False
    ) -> None:
        """Stall the next `count` requests `seconds`: after the headers, or (`before_headers`) before any byte."""
        self._add(_Fault(200, count, path, "stall", float(seconds), bool(before_headers)))

    def ignore_ranges(self, enabled: bool = True, *, path: str | None = None) -> None:
        """Answer every request (for `path`, else all) with the whole object, ignoring Range headers."""
        with self._lock:
            self._faults = [f for f in self._faults if not (f.kind == "ignore_range" and f.path == path)]
        if enabled:
            self._add(_Fault(200, None, path, "ignore_range"))

    def fault(self, kind: str, count: int | None = 1, **options: Any) -> None:
        """Inject `count` faults of `kind` (one of FAULT_KINDS) with the options of the method of that name."""
        if kind == "status":
            self.fail_next(count, **options)
        elif kind == "drop":
            self.drop_next(count, **options)
        elif kind == "cut":
            self.cut_next(count, **options)
        elif kind == "short":
            self.short_next(count, **options)
        elif kind == "stall":
            self.stall_next(count, **options)
        elif kind == "ignore_range":
            self.ignore_ranges(**options)
        else:
            raise ValueError(f"expected a fault kind in {FAULT_KINDS}, found {kind!r}")

    @property
    def injected(self) -> dict[str, int]:
        """Faults injected so far, by kind (not reset by `reset_counts`)."""
        with self._lock:
            return dict(self._injected)

    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Stop injecting errors."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str, method: str, ranged: bool) -> _Fault | None:
        with self._lock:
            for fault in sorted(self._faults, key=lambda f: f.remaining is None):
                if fault.path is not None and fault.path != path:
                    continue
                if fault.kind in ("cut", "stall") and method != "GET" and not fault.before_headers:
                    continue
                if fault.kind in ("short", "ignore_range") and not ranged:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                self._injected[fault.kind] += 1
                return fault
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


def http_server(directory: str | os.PathLike[str], latency: float = 0.0, *, listings: bool = True) -> LoopbackHTTPServer:
    """Serve `directory` over HTTP on 127.0.0.1 (a free port), adding `latency` seconds per request.

    With `listings=False` a directory is 404, as on object stores served as static files.
    Returns the running server; use it as a context manager to stop it.
    """
    return LoopbackHTTPServer(directory, latency, listings=listings)


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

        def do_POST(self) -> None:
            url_path = urllib.parse.urlsplit(self.path).path
            if url_path.startswith(_CONTROL):
                self._control(url_path)
            else:
                self.send_error(405)

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
            parts = urllib.parse.urlsplit(self.path)
            url_path = parts.path
            range_header = self.headers.get("Range")
            server._record(self.command, url_path + (f"?{parts.query}" if parts.query else ""), range_header)
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
            fault = server._take_fault(url_path, self.command, range_header is not None)
            if fault is not None and fault.kind == "stall" and fault.before_headers:
                time.sleep(fault.seconds)
                self._drop()
                return
            if fault is not None and fault.kind == "drop":
                self._drop()
                return
            if fault is not None and fault.kind == "status":
                self._reply(fault.status, b"", {}, body)
                return
            target = self._resolve(url_path)
            if target is None or not target.exists() or (target.is_dir() and not url_path.endswith("/")):
                self._reply(404, b"", {}, body)
            elif target.is_dir() and not server.listings:
                self._reply(404, b"", {}, body)
            elif target.is_dir():
                self._reply(200, _listing(target, url_path), {"Content-Type": "text/html; charset=utf-8"}, body)
            else:
                self._serve_file(target, None if fault and fault.kind == "ignore_range" else range_header, body, fault)

        def _drop(self) -> None:
            self._finish_count()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def _control(self, url_path: str) -> None:
            """The control endpoint of a FaultServer in another process (uncounted)."""
            import json

            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}") if length else {}
            action = url_path[len(_CONTROL):]
            answer: Any = None
            if action == "fault":
                kind = request.pop("kind")
                server.fault(kind, **request)
            elif action == "clear":
                server.clear_faults()
            elif action == "reset":
                server.reset_counts()
            elif action == "state":
                answer = {
                    "counts": server.counts,
                    "requests": server.requests,
                    "max_in_flight": server.max_in_flight,
                    "injected": server.injected,
                }
            payload = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _resolve(self, url_path: str) -> Path | None:
            parts = [p for p in urllib.parse.unquote(url_path).split("/") if p]
            if any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
                return None
            return server.directory.joinpath(*parts)

        def _serve_file(self, target: Path, range_header: str | None, body: bool, fault: _Fault | None = None) -> None:
            size = target.stat().st_size
            headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
            selected = _parse_range(range_header, size)
            if isinstance(selected, str):  # "unsatisfiable"
                self._reply(416, b"", {"Content-Range": f"bytes */{size}"}, body)
                return
            start, stop = (0, size) if selected is None else selected
            payload = b""
            if body:
                with target.open("rb") as f:
                    f.seek(start)
                    payload = f.read(stop - start)
            kind = fault.kind if fault is not None else None
            if kind in ("cut", "short") and stop - start > 1:
                stop = start + (stop - start) // 2
                payload = payload[: stop - start]
            if selected is not None:
                headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
            if kind == "stall":
                self._finish_count()
                self.send_response(200 if selected is None else 206)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(stop - start))
                self.end_headers()
                self.wfile.flush()
                time.sleep(fault.seconds)  # type: ignore[union-attr]
                self._drop()
                return
            self._reply(200 if selected is None else 206, payload, headers, body, length=stop - start)

    return _Handler


_CONTROL = "/__zarrlayer_control__/"


class FaultServer:
    """A LoopbackHTTPServer with fault injection, run in a process of its own (see `fault_server`).

    Its methods are LoopbackHTTPServer's (`fail_next`, `drop_next`, `cut_next`, `short_next`,
    `stall_next`, `ignore_ranges`, `fault`, `clear_faults`, `reset_counts`) and its counters
    (`request_count`, `counts`, `requests`, `injected`), sent to the process over a control path.
    A stalled answer then never holds the test process's own threads or GIL.
    """

    def __init__(self, directory: str | os.PathLike[str], latency: float = 0.0, *, listings: bool = True) -> None:
        import subprocess
        import sys

        self.directory = Path(directory).resolve()
        if not self.directory.is_dir():
            raise NotADirectoryError(f"fault_server needs an existing directory, found {str(directory)!r}")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "zarrlayer.testing.servers", str(self.directory), str(float(latency)), str(int(listings))],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._process.stdout.readline().strip() if self._process.stdout else ""
        if not line.startswith("http://127.0.0.1:"):
            self._process.kill()
            raise RuntimeError(f"the fault server did not start (said {line!r})")
        self.url: str = line

    def _send(self, action: str, payload: dict[str, Any] | None = None) -> Any:
        import json
        import urllib.request

        data = json.dumps(payload or {}).encode()
        request = urllib.request.Request(self.url + _CONTROL + action, data=data, method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def fault(self, kind: str, count: int | None = 1, **options: Any) -> None:
        """Inject `count` faults of `kind` (see LoopbackHTTPServer.fault)."""
        self._send("fault", {"kind": kind, "count": count, **options})

    def fail_next(self, count: int | None, status: int = 503, *, path: str | None = None) -> None:
        self.fault("status", count, status=status, path=path)

    def drop_next(self, count: int | None, *, path: str | None = None) -> None:
        self.fault("drop", count, path=path)

    def cut_next(self, count: int | None, *, path: str | None = None) -> None:
        self.fault("cut", count, path=path)

    def short_next(self, count: int | None, *, path: str | None = None) -> None:
        self.fault("short", count, path=path)

    def stall_next(
        self, count: int | None, seconds: float, *, path: str | None = None, before_headers: bool = False
    ) -> None:
        self.fault("stall", count, seconds=seconds, path=path, before_headers=before_headers)

    def ignore_ranges(self, enabled: bool = True, *, path: str | None = None) -> None:
        self._send("fault", {"kind": "ignore_range", "enabled": enabled, "path": path})

    def clear_faults(self) -> None:
        self._send("clear")

    def reset_counts(self) -> None:
        self._send("reset")

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._send("state")["counts"])

    @property
    def request_count(self) -> int:
        return sum(self.counts.values())

    @property
    def requests(self) -> list[tuple[str, str, str | None]]:
        return [(method, path, range_) for method, path, range_ in self._send("state")["requests"]]

    @property
    def injected(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        return dict(self._send("state")["injected"])

    def close(self) -> None:
        """Stop the server process (idempotent)."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except Exception:  # noqa: BLE001 - kill what will not stop
                self._process.kill()
                self._process.wait()
        if self._process.stdout:
            self._process.stdout.close()

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FaultServer({self.url!r}, directory={str(self.directory)!r})"


def fault_server(directory: str | os.PathLike[str], latency: float = 0.0, *, listings: bool = True) -> FaultServer:
    """Serve `directory` over HTTP on 127.0.0.1 from a separate process, with fault injection.

    Returns the running server; use it as a context manager to stop it.
    """
    return FaultServer(directory, latency, listings=listings)


def _serve_forever(directory: str, latency: float, listings: bool) -> None:
    import signal
    import sys

    server = LoopbackHTTPServer(directory, latency, listings=listings)
    print(server.url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    finally:
        server.close()


def _listing(directory: Path, url_path: str) -> bytes:
    base = url_path if url_path.endswith("/") else url_path + "/"
    links = []
    for entry in sorted(directory.iterdir()):
        name = entry.name + ("/" if entry.is_dir() else "")
        href = html.escape(posixpath.join(base, urllib.parse.quote(name)), quote=True)
        links.append(f'<li><a href="{href}">{html.escape(name)}</a></li>')
    return ("<!DOCTYPE html><html><body><ul>" + "".join(links) + "</ul></body></html>").encode()


if __name__ == "__main__":
    import sys

    _serve_forever(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.0, sys.argv[3:4] != ["0"])
