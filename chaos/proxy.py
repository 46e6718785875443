"""A switchable HTTP stand-in in front of a real server (InfluxDB): it forwards every request,
or answers writes with 500, or holds each write for a while before forwarding it.

A fault injector, not a mock: with ``mode = "pass"`` the hub talks to the real ``influxd``
through it byte for byte. Only writes (``/write``, ``/api/v2/write``) are faulted; queries and
``/ping`` pass, so the figures are read back through the same path. ``slow`` forwards the write
after the delay even when the client has given up waiting (as a slow server would still apply
it): the hub's resend must then be idempotent.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["FaultyProxy"]

Mode = Literal["pass", "error", "slow"]
_WRITE_PATHS = ("/write", "/api/v2/write")
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class FaultyProxy:
    """``url`` forwards to ``upstream`` (``http://host:port``) in the current ``mode``."""

    def __init__(self, upstream: str, delay_s: float = 10.0) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.mode: Mode = "pass"
        self.delay_s = delay_s
        self.faulted = 0  # writes answered 500 or held
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:  # quiet: the figures matter
                return

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                is_write = urlsplit(self.path).path in _WRITE_PATHS
                mode = proxy.mode if is_write else "pass"
                if mode == "error":
                    proxy.faulted += 1
                    self._answer(500, b'{"error":"chaos: injected internal error"}')
                    return
                if mode == "slow":
                    proxy.faulted += 1
                    time.sleep(proxy.delay_s)
                status, headers, data = proxy.forward(self.command, self.path, self.headers, body)
                try:
                    self._answer(status, data, headers)
                except OSError:  # the client gave up waiting: the write was applied anyway
                    self.close_connection = True

            def _answer(
                self, status: int, data: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                for key, value in (headers or {"Content-Type": "application/json"}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle  # noqa: N815 - http.server's naming

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def forward(
        self, method: str, path: str, headers: object, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}  # type: ignore[attr-defined]
            connection.request(method, path, body=body or None, headers=sent)
            response = connection.getresponse()
            data = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS}
            return response.status, kept, data
        except OSError as error:
            return 502, {}, f'{{"error":"chaos proxy: {error}"}}'.encode()
        finally:
            connection.close()

    def start(self) -> FaultyProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
