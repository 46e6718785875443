"""The real parts the benchmark runs: Mosquitto sessions, InfluxDB 1.x, ``cityhub run``.

Everything listens on free loopback ports and lives in a work folder of the run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.broker import free_port
from hub.servers import RunningServer, influx_query, start_influxd, stop_server

__all__ = [
    "API_KEY",
    "HUB_FILTERS",
    "HubRunner",
    "Influxd",
    "create_session",
    "hub_client_id",
]

API_KEY = "bench-read-key-0123456789"
SESSION_EXPIRY_S = 3600
# What the hub subscribes to with every adapter installed (checked by the harness at start).
HUB_FILTERS = (
    "gtfsrt/+/vehicle_positions", "ocpp/cp/+", "senml/+", "+/status/+", "tele/+/SENSOR",
    "/hfp/v2/journey/ongoing/#",
)  # fmt: skip


def hub_client_id(client_id: str, shared_group: str | None) -> str:
    """The id the hub connects with (``hub.ingest.mqtt``: a shared group appends the host)."""
    return f"{client_id}-{socket.gethostname()}"[:64] if shared_group else client_id


def create_session(
    port: int, client_id: str, filters: Sequence[str] = HUB_FILTERS, group: str | None = None
) -> None:
    """Create a persistent MQTT v5 session subscribed QoS 1 to ``filters``, then leave, so the
    broker queues what is published until ``client_id`` comes back."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = SESSION_EXPIRY_S
    subscribed: list[bool] = []
    client.on_subscribe = lambda *_args: subscribed.append(True)
    client.connect("127.0.0.1", port, clean_start=False, properties=properties)
    client.loop_start()
    try:
        topics = [(f"$share/{group}/{f}" if group else f, 1) for f in filters]
        client.subscribe(topics)
        deadline = time.monotonic() + 10
        while not subscribed:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no SUBACK for {client_id}")
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()


def _http_get(url: str, timeout_s: float = 5.0, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return bytes(response.read())


class Influxd:
    """The Debian ``influxd`` (1.x) on free loopback ports, HTTP only, database created: the
    test suite's launcher (``hub/servers.py``), so both run the same server."""

    def __init__(self, workdir: Path, database: str = "cityhub") -> None:
        self.workdir = workdir
        self.database = database
        self.server: RunningServer | None = None
        self.url = ""

    @staticmethod
    def available() -> bool:
        return _which("influxd") is not None

    def start(self) -> Influxd:
        self.server = start_influxd(self.workdir, self.database)
        self.url = self.server.url
        return self

    @property
    def pid(self) -> int:
        assert self.server is not None
        return self.server.process.pid

    def query(self, statement: str) -> dict:
        return json.loads(influx_query(self.url, statement, self.database))

    def stop(self) -> None:
        if self.server is not None:
            stop_server(self.server)
            self.server = None


def _which(name: str) -> str | None:
    for folder in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/sbin"]:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _terminate(process: subprocess.Popen[bytes] | None, timeout_s: float = 20.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


_CONNECTED = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO hub\.ingest\.mqtt: connected"
)
_METRIC = re.compile(r"^(cityhub_[a-z_]+?)(?:_total)?(?:\{[^}]*\})? ([0-9.e+-]+)$", re.MULTILINE)


class HubRunner:
    """``cityhub run`` as a subprocess configured by ``CITYHUB_*`` variables."""

    def __init__(
        self,
        workdir: Path,
        broker_port: int,
        registry: Path,
        *,
        client_id: str = "bench-hub",
        shared_group: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "hub.log"
        self.client_id = hub_client_id(client_id, shared_group)
        self.env = {
            **os.environ,
            "CITYHUB_MODE": "test",
            "CITYHUB_LOG_LEVEL": "INFO",
            "CITYHUB_DATA_DIR": str(workdir / "data"),
            "CITYHUB_MQTT__PORT": str(broker_port),
            "CITYHUB_MQTT__CLIENT_ID": client_id,
            "CITYHUB_API__PORT": str(self.port),
            "CITYHUB_API__READ_KEYS": json.dumps([API_KEY]),
            "CITYHUB_INGEST__REGISTRY_FILE": str(registry),
            **({"CITYHUB_MQTT__SHARED_GROUP": shared_group} if shared_group else {}),
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> HubRunner:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.started_at = time.time()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "run"], env=self.env, stdout=log, stderr=log
            )
        return self

    def wait_api(self, timeout_s: float = 60.0) -> None:
        """Until the API answers (readiness may lag while a backlog drains)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.check_alive()
            try:
                _http_get(self.base_url + "/health", 1)
                return
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"hub API not up after {timeout_s} s:\n{self.log()}"
                    ) from None
                time.sleep(0.05)

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"hub exited {self.process.returncode}:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def connected_at(self) -> float | None:
        """When the hub logged its MQTT connection (epoch seconds, millisecond precision)."""
        for line in self.log_path.read_text(errors="replace").splitlines():
            found = _CONNECTED.match(line)
            if found:
                moment = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f")
                return moment.timestamp()  # naive local time, as logging wrote it
        return None

    def metrics(self) -> dict[str, float]:
        """The hub's Prometheus counters summed over their labels."""
        text = _http_get(self.base_url + "/metrics").decode()
        totals: dict[str, float] = {}
        for name, value in _METRIC.findall(text):
            totals[name] = totals.get(name, 0.0) + float(value)
        return totals

    def readiness(self) -> dict:
        try:
            body = _http_get(self.base_url + "/ready")
        except urllib.error.HTTPError as error:
            body = error.read()
        return json.loads(body)

    def get(self, path: str, params: dict | Sequence[tuple[str, str]]) -> bytes:
        query = urllib.parse.urlencode(params, doseq=True)
        return _http_get(
            f"{self.base_url}{path}?{query}", timeout_s=120, headers={"X-API-Key": API_KEY}
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
