"""Shared fixtures: a private Mosquitto with the project's config, a hub process, helpers.

In CI (``CI`` set) a test that would be skipped for a missing server fails instead.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from hypothesis import Phase, settings
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hub.broker import Mosquitto, free_port
from tests.servers_influx import (
    RunningServer,
    ServerMissing,
    influx_query,
    start_influxd,
    stop_server,
)

# No "explain" phase: after a failure it reruns the shrunk example under a line tracer, which
# made a property test against a real InfluxDB run past the suite's 300 s limit, so that the
# report showed the time-out and not the failure.
settings.register_profile("cityhub", phases=[p for p in Phase if p is not Phase.explain])
settings.load_profile("cityhub")

READ_KEY = "test-read-key-0123456789"
ADMIN_KEY = "test-admin-key-0123456789"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test: {report.longrepr}"


# -- one influxd per session, shared by the store and API tests -----------------------------

_databases = itertools.count(1)


def _start_or_skip(start: Callable[[], RunningServer]) -> RunningServer:
    try:
        return start()
    except ServerMissing as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: a server the store tests need is missing in CI")
        pytest.skip(str(missing))


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("influxd")
    server = _start_or_skip(lambda: start_influxd(directory, "cityhub"))
    yield server
    stop_server(server)


def fresh_database(server: RunningServer) -> str:
    """A new, empty database on ``server`` (cheaper than a new server per test)."""
    name = f"test_{next(_databases)}"
    influx_query(server.url, f'CREATE DATABASE "{name}"')
    return name


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "broker").start()
    yield broker
    broker.stop()


def write_registry(path: Path, devices: dict[str, dict[str, str]]) -> Path:
    path.write_text(json.dumps({"devices": devices}))
    return path


class HubProcess:
    """``cityhub run`` (or ``command``: ``api``) as a real subprocess, configured through its
    environment."""

    def __init__(self, tmp_path: Path, broker_port: int, command: str = "run", **env: str) -> None:
        self.command = command
        self.port = free_port()
        self.data_dir = tmp_path / "hub-data"
        self.log_path = tmp_path / "hub.log"
        self.env = {
            **os.environ,
            "CITYHUB_DATA_DIR": str(self.data_dir),
            "CITYHUB_MQTT__PORT": str(broker_port),
            "CITYHUB_API__PORT": str(self.port),
            "CITYHUB_API__READ_KEYS": json.dumps([READ_KEY]),
            "CITYHUB_API__ADMIN_KEYS": json.dumps([ADMIN_KEY]),
            "CITYHUB_INGEST__BATCH_MAX_AGE_MS": "20",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0, *, wait_ready: bool = True) -> HubProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", self.command],
                env=self.env,
                stdout=log,
                stderr=log,
            )
        if wait_ready:
            self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                code, self.process = self.process.returncode, None
                raise AssertionError(f"hub exited {code}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"hub not ready after {timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def client(self, key: str = READ_KEY) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"X-API-Key": key}, timeout=30)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM, and check the hub shut down gracefully: exit 0, after its last batch was
        stored and acknowledged."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"hub ignored SIGTERM:\n{self.log()}") from None
        assert code == 0, f"hub exited {code}:\n{self.log()}"
        if self.command != "api":
            assert "stopped: received messages stored and acknowledged" in self.log()


class Publisher:
    """A paho QoS 1 publisher that waits until the broker acknowledged everything."""

    def __init__(
        self,
        port: int,
        client_id: str = "test-publisher",
        *,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol
        )
        if login is not None:
            self.client.username_pw_set(*login)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos)

    def publish_all(self, messages: list[tuple[str, bytes | str]], qos: int = 1) -> None:
        infos = [self.publish(topic, payload, qos) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(30)
            assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(predicate, timeout_s: float = 20.0, interval_s: float = 0.1, message: str = ""):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or "condition not met in time")
        time.sleep(interval_s)
