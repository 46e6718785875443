"""The hub connects over TLS, verifying the broker's certificate, with a username/password."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hub.broker import Mosquitto
from hub.insights.context import format_time
from tests.conftest import HubProcess, wait_until, write_registry

T0 = (time.time_ns() // 3_600_000_000_000 - 1) * 3_600_000_000_000


def make_certificates(folder: Path) -> dict[str, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make test certificates")
    folder.mkdir()
    paths = {name: folder / name for name in ("ca.key", "ca.crt", "server.key", "server.crt")}
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
        "-keyout", paths["ca.key"], "-out", paths["ca.crt"])  # fmt: skip
    csr = folder / "server.csr"
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", paths["server.key"], "-out", csr)  # fmt: skip
    extensions = folder / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", csr, "-CA", paths["ca.crt"], "-CAkey", paths["ca.key"],
        "-CAcreateserial", "-days", "1", "-extfile", extensions,
        "-out", paths["server.crt"])  # fmt: skip
    return paths


def test_hub_ingests_over_tls_with_a_password(tmp_path: Path) -> None:
    certificates = make_certificates(tmp_path / "tls")
    passwords = tmp_path / "passwd"
    passwords.write_text("")
    for user, password in (("hub", "hub-secret"), ("sensor", "sensor-secret")):
        subprocess.run(
            ["mosquitto_passwd", "-b", str(passwords), user, password],
            check=True,
            capture_output=True,
        )
    broker = Mosquitto(
        tmp_path / "broker",
        extra=[
            f"cafile {certificates['ca.crt']}",
            f"certfile {certificates['server.crt']}",
            f"keyfile {certificates['server.key']}",
            "allow_anonymous false",
            f"password_file {passwords}",
        ],
    ).start()
    registry = write_registry(tmp_path / "registry.json", {"m-1": {"building": "b-1"}})
    hub = HubProcess(
        tmp_path,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
        CITYHUB_MQTT__TLS="true",
        CITYHUB_MQTT__CA_FILE=str(certificates["ca.crt"]),
        CITYHUB_MQTT__USERNAME="hub",
        CITYHUB_MQTT__PASSWORD="hub-secret",
    )
    try:
        hub.start()  # ready means connected: TLS verified and the password accepted
        sensor = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="tls-sensor", protocol=MQTTProtocolVersion.MQTTv5
        )
        sensor.tls_set(ca_certs=str(certificates["ca.crt"]), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        sensor.username_pw_set("sensor", "sensor-secret")
        sensor.connect("127.0.0.1", broker.port)
        sensor.loop_start()
        payload = json.dumps([{"bt": T0 / 1e9, "n": "power", "u": "W", "v": 42.0}])
        sensor.publish("senml/m-1", payload, qos=1).wait_for_publish(10)
        sensor.disconnect()
        sensor.loop_stop()

        def stored() -> list:
            with hub.client() as client:
                return client.get(
                    "/api/v1/aggregate",
                    params={
                        "measurement": "building_energy",
                        "field": "power_w",
                        "fn": "last",
                        "start": format_time(T0),
                        "end": format_time(T0 + 1_000_000_000),
                    },
                ).json()["series"]

        assert wait_until(stored)[0]["points"][0]["value"] == 42.0
    finally:
        hub.stop()
        broker.stop()


def test_a_wrong_password_keeps_the_hub_unready_and_says_why(tmp_path: Path) -> None:
    passwords = tmp_path / "passwd"
    passwords.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), "hub", "right"], check=True)
    broker = Mosquitto(
        tmp_path / "broker", extra=["allow_anonymous false", f"password_file {passwords}"]
    ).start()
    hub = HubProcess(
        tmp_path, broker.port, CITYHUB_MQTT__USERNAME="hub", CITYHUB_MQTT__PASSWORD="wrong"
    )
    try:
        with hub.log_path.open("ab") as log:
            hub.process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "run"], env=hub.env, stdout=log, stderr=log
            )
        # Waits on what the hub says, not on a clock: a loaded machine takes a while to get there.
        wait_until(lambda: "broker refused the connection" in hub.log() or None, 60)

        def ready_answer() -> httpx.Response | None:
            try:
                return httpx.get(f"{hub.base_url}/ready", timeout=5)
            except httpx.HTTPError:
                return None

        ready = wait_until(ready_answer, 60)
        assert ready.status_code == 503, ready.text
        assert "broker refused the connection" in ready.text, ready.text
    finally:
        hub.stop()
        broker.stop()
