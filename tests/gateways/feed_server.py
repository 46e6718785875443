"""A local HTTP server serving recorded GTFS-Realtime feeds, scripted by the test: the feed
with ETag (honouring If-None-Match), a 500, a response slower than the poller's timeout, or a
body cut short of its Content-Length."""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.transit import gtfs_realtime_pb2 as pb


def vehicle_feed(header_s: int, count: int, bad: int | None = None) -> bytes:
    """A FeedMessage of ``count`` buses; bus number ``bad`` reports latitude 200."""
    feed = pb.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.timestamp = header_s
    for i in range(count):
        entity = feed.entity.add(id=f"e{i}")
        vehicle = entity.vehicle
        vehicle.vehicle.id = f"bus-{i:04d}"
        vehicle.trip.route_id = str(10 + i % 7)
        vehicle.position.latitude = 200.0 if i == bad else 52.4 + i / 5000
        vehicle.position.longitude = 13.3 + i / 5000
        vehicle.timestamp = header_s - i % 20
    return feed.SerializeToString()


@dataclass
class Script:
    mode: str = "feed"  # feed | error | slow | truncated
    body: bytes = b""
    etag: str = '"0"'
    requests: list[tuple[str, dict[str, str], int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, mode: str, status: int | None = None) -> int:
        with self.lock:
            return sum(1 for m, _, s in self.requests if m == mode and status in (None, s))


class FeedServer:
    def __init__(self) -> None:
        self.script = Script()
        script = self.script

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                mode, body, etag = script.mode, script.body, script.etag
                with script.lock:  # recorded first: a client that timed out is gone after
                    script.requests.append((mode, dict(self.headers), 0))
                    index = len(script.requests) - 1
                status = self._answer(mode, body, etag)
                with script.lock:
                    script.requests[index] = (mode, dict(self.headers), status)

            def _answer(self, mode: str, body: bytes, etag: str) -> int:
                if mode == "error":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return 500
                if mode == "slow":
                    time.sleep(2.0)
                    return 0  # the poller gave up after its timeout: nobody to answer
                if mode == "feed" and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return 304
                gzipped = "gzip" in self.headers.get("Accept-Encoding", "")
                payload = gzip.compress(body) if gzipped else body
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("ETag", etag)
                if gzipped:
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if mode == "truncated":
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return 200
                self.wfile.write(payload)
                return 200

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/gtfs-rt/vehiclepositions.pb"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FeedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
