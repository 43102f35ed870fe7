"""Serving a sandbox over real HTTP on one port (:class:`SandboxServer`).

Each connection is read by a thread of a :class:`~http.server.ThreadingHTTPServer`; the sandbox
answers one request at a time (under a lock), so every process that calls it is metered by the same
counters, as clients behind one IP are by the real exchange. ``GET /__sandbox__/stats`` returns the
sandbox's counters as JSON (requests, answers by status, and whatever the sandbox counts).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from txsync.sandboxes._served import ServedSandbox

__all__ = ["STATS_PATH", "SandboxServer"]

#: The path of the served sandbox's own counters (not part of any emulated API).
STATS_PATH = "/__sandbox__/stats"
#: The largest request body read (the sandboxes take small forms and JSON bodies).
_MAX_BODY = 1024 * 1024
#: Response headers the server writes itself.
_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"})


class SandboxServer:
    """Serves ``sandbox`` on ``host``:``port`` (port 0: any free one) until :meth:`close`.

    :meth:`start` serves from a background thread (tests, benchmarks); :meth:`serve_forever`
    serves from the calling thread (``txsync sandbox serve``; Ctrl-C ends it).
    """

    def __init__(self, sandbox: ServedSandbox, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self._lock = threading.Lock()
        self._by_status: dict[int, int] = {}
        self._requests = 0
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the server."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def stats(self) -> dict[str, Any]:
        """The server's counters and the sandbox's own."""
        with self._lock:
            return {
                "requests": self._requests,
                "by_status": {str(k): v for k, v in sorted(self._by_status.items())},
                **self.sandbox.stats(),
            }

    def answer(self, request: httpx.Request) -> httpx.Response:
        """One request through the sandbox, counted."""
        with self._lock:
            self._requests += 1
            response = self.sandbox.handle(request)
            response.read()
            self._by_status[response.status_code] = self._by_status.get(response.status_code, 0) + 1
            return response

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle's algorithm and the client's
            # delayed ACK hold every answer back by ~40 ms.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > _MAX_BODY:
                    self._write(413, {"Content-Type": "application/json"}, b'{"msg": "body too large"}')
                    return
                body = self.rfile.read(length) if length else b""
                if self.path == STATS_PATH:
                    stats = json.dumps(server.stats()).encode()
                    self._write(200, {"Content-Type": "application/json"}, stats)
                    return
                host = self.headers.get("Host") or "127.0.0.1"
                headers = [(k, v) for k, v in self.headers.items() if k.lower() != "host"]
                request = httpx.Request(
                    self.command, f"http://{host}{self.path}", headers=[("Host", host), *headers],
                    content=body,
                )
                try:
                    response = server.answer(request)
                except Exception as exc:  # a sandbox bug answers 500 and is shown, never kills the server
                    self.log_error("sandbox error: %s: %s", type(exc).__name__, exc)
                    self._write(500, {"Content-Type": "application/json"}, b'{"msg": "sandbox error"}')
                    return
                out = {k: v for k, v in response.headers.items() if k.lower() not in _HOP}
                self._write(response.status_code, out, response.content)

            def _write(self, status: int, headers: dict[str, str], content: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: thousands of requests a minute; the counters say what happened

        return Handler

    def start(self) -> SandboxServer:
        """Serve from a daemon thread; returns ``self``."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sandbox-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve from this thread until :meth:`close` (from another thread) or Ctrl-C."""
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
