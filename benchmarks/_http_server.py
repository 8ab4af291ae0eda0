"""A static HTTP server with added latency, for the remote benchmarks (run as its own process).

    python benchmarks/_http_server.py DIRECTORY LATENCY_SECONDS   # prints the port, serves until killed

aiohttp on one event loop: GET (with Range), HEAD, 404. Files are read once and kept in
memory, so the server's own cost per request stays far below the latency it adds.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web

__all__ = ["make_app", "main"]


def _range(header: str, size: int) -> tuple[int, int] | None:
    spec = header.strip().removeprefix("bytes=")
    first, _, last = spec.partition("-")
    if not first:
        return max(size - int(last), 0), size
    start = int(first)
    end = size if not last else min(int(last) + 1, size)
    return (start, end) if start < size else None


def make_app(root: Path, latency: float) -> web.Application:
    """The app: every file under `root`, each response delayed by `latency` seconds."""
    cache: dict[str, bytes | None] = {}

    def load(rel: str) -> bytes | None:
        if rel not in cache:
            path = (root / rel).resolve()
            cache[rel] = path.read_bytes() if path.is_file() and root in path.parents else None
        return cache[rel]

    async def handle(request: web.Request) -> web.Response:
        if latency:
            await asyncio.sleep(latency)
        data = load(request.match_info["tail"])
        if data is None:
            return web.Response(status=404)
        header = request.headers.get("Range")
        if request.method == "HEAD":
            return web.Response(headers={"Content-Length": str(len(data)), "Accept-Ranges": "bytes"})
        if header:
            span = _range(header, len(data))
            if span is None:
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(data)}"})
            start, end = span
            return web.Response(status=206, body=data[start:end],
                                headers={"Content-Range": f"bytes {start}-{end - 1}/{len(data)}", "Accept-Ranges": "bytes"})
        return web.Response(body=data, headers={"Accept-Ranges": "bytes"})

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    app.router.add_route("HEAD", "/{tail:.*}", handle)
    return app


async def _serve(root: Path, latency: float) -> None:
    runner = web.AppRunner(make_app(root, latency), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    print(port, flush=True)
    await asyncio.Event().wait()


def main() -> None:
    """Serve DIRECTORY with LATENCY seconds added per request on 127.0.0.1 (port printed first)."""
    asyncio.run(_serve(Path(sys.argv[1]).resolve(), float(sys.argv[2])))


if __name__ == "__main__":
    main()
