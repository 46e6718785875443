"""``InfluxDBStore.ping`` with InfluxDB 2.x's token API: a local stand-in that checks the token,
the org and the bucket the way InfluxDB 2.x's ``/api/v2/write`` does (401 for a bad token,
404 for an unknown org or bucket, 204 for an empty body), since InfluxDB 2.x is not
installable here. The 1.x side runs on a real influxd: tests/ingest/test_store_credentials.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from hub.errors import StoreUnavailable
from hub.stores.influxdb import InfluxDBStore

TOKEN = "the-right-token"


class _InfluxV2(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Authorization") != f"Token {TOKEN}":
            return self._answer(401, {"code": "unauthorized", "message": "unauthorized access"})
        if url.path == "/api/v2/write":
            if query.get("org") != ["city"] or query.get("bucket") != ["cityhub"]:
                return self._answer(404, {"code": "not found", "message": "bucket not found"})
            return self._answer(204, None)
        if url.path == "/query":
            return self._answer(200, {"results": [{"statement_id": 0}]})
        return self._answer(404, {"message": "no such path"})

    def _answer(self, status: int, body: dict | None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def influx_v2() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _InfluxV2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def ping(url: str, token: str, org: str = "city", bucket: str = "cityhub") -> None:
    store = InfluxDBStore(url, bucket, api="v2", token=token, org=org, timeout_s=2)
    try:
        store.ping()
    finally:
        store.close()


def test_the_right_token_org_and_bucket_pass(influx_v2: str) -> None:
    ping(influx_v2, TOKEN)


def test_a_wrong_token_names_the_token_setting(influx_v2: str) -> None:
    with pytest.raises(StoreUnavailable) as error:
        ping(influx_v2, "an-old-token")
    assert str(error.value).startswith(
        '401 unauthorized for bucket "cityhub" (check CITYHUB_STORE__INFLUX_TOKEN)'
    )


@pytest.mark.parametrize(("org", "bucket"), [("elsewhere", "cityhub"), ("city", "typo")])
def test_an_unknown_org_or_bucket_names_both_settings(
    influx_v2: str, org: str, bucket: str
) -> None:
    with pytest.raises(StoreUnavailable) as error:
        ping(influx_v2, TOKEN, org=org, bucket=bucket)
    assert "404" in str(error.value)
    assert "CITYHUB_STORE__INFLUX_BUCKET and CITYHUB_STORE__INFLUX_ORG" in str(error.value)


def test_an_unreachable_server_is_unavailable_not_a_crash() -> None:
    with pytest.raises(StoreUnavailable, match="unreachable"):
        ping("http://127.0.0.1:9", TOKEN)
