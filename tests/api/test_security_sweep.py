"""Security sweep: every operation of the OpenAPI document refuses a missing key, a wrong key
and (admin operations) a read key, on the real app over HTTP; keys are compared in constant
time; production refuses an empty key; the shipped broker ACL keeps simulators out of other
families' topics and the hub from publishing.

The operations come from the app's own OpenAPI document, so a new endpoint is swept without
anyone adding it here; which ones need the admin role comes from the route's dependencies.
"""

from __future__ import annotations

import hmac
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hub.api import create_app
from hub.api.deps import require_admin, require_read
from hub.broker import Mosquitto
from hub.errors import ConfigError
from hub.service import Hub
from hub.settings import Settings, load_settings
from tests.conftest import ADMIN_KEY, READ_KEY, HubProcess

OPEN_PATHS = {"/health", "/ready", "/metrics"}


def needs_admin(method: str, path: str) -> bool:
    """The roles as documented: dead letters and every change (registry) need an admin key."""
    return path.startswith("/api/v1/dead-letters") or method not in ("GET", "HEAD")


def operations(tmp_path: Path) -> list[tuple[str, str, bool]]:
    """(method, path, needs admin) of every operation in the app's OpenAPI document."""
    settings = Settings(
        data_dir=tmp_path / "sweep-data", api={"read_keys": [READ_KEY], "admin_keys": [ADMIN_KEY]}
    )
    hub = Hub(settings)
    try:
        document = create_app(settings, hub).openapi()
    finally:
        hub.store.close()
        hub.deadletters.close()
    return [
        (method.upper(), path, needs_admin(method.upper(), path))
        for path, methods in document["paths"].items()
        for method in methods
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "b-1", path)


def test_every_operation_refuses_missing_wrong_and_read_keys(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    swept = operations(tmp_path)
    assert len(swept) > 20 and any(admin for *_, admin in swept)
    hub = HubProcess(tmp_path, mosquitto.port).start()
    try:
        with httpx.Client(base_url=hub.base_url, timeout=30) as client:
            served = set(client.get("/openapi.json").json()["paths"])
            assert served == {path for _, path, _ in swept}
            for method, path, admin in swept:
                url = concrete(path)
                if path in OPEN_PATHS:
                    continue
                body = {} if method in ("POST", "PUT") else None
                missing = client.request(method, url, json=body)
                assert missing.status_code == 401, (method, path, missing.text)
                wrong = client.request(method, url, json=body, headers={"X-API-Key": "wrong"})
                assert wrong.status_code == 401, (method, path, wrong.text)
                bearer = client.request(
                    method, url, json=body, headers={"Authorization": "Bearer wrong"}
                )
                assert bearer.status_code == 401, (method, path, bearer.text)
                read = client.request(method, url, json=body, headers={"X-API-Key": READ_KEY})
                if admin:
                    assert read.status_code == 403, (method, path, read.text)
                else:
                    assert read.status_code not in (401, 403), (method, path, read.text)
                with_admin = client.request(
                    method, url, json=body, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
                )
                assert with_admin.status_code not in (401, 403), (method, path, with_admin.text)
    finally:
        hub.stop()


def test_keys_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    settings = Settings(api={"read_keys": [READ_KEY], "admin_keys": [ADMIN_KEY]})
    require_read(settings, READ_KEY)
    with pytest.raises(Exception, match="not valid"):
        require_read(settings, "almost-" + READ_KEY)
    with pytest.raises(Exception, match="admin"):
        require_admin(settings, READ_KEY)
    assert (b"almost-" + READ_KEY.encode(), READ_KEY.encode()) in compared
    assert (READ_KEY.encode(), ADMIN_KEY.encode()) in compared


@pytest.mark.parametrize("setting", ["CITYHUB_API__READ_KEYS", "CITYHUB_API__ADMIN_KEYS"])
@pytest.mark.parametrize("value", ['[""]', '["  "]', '["good-key-0123456789", ""]'])
def test_production_refuses_an_empty_key(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: str
) -> None:
    monkeypatch.setenv("CITYHUB_API__READ_KEYS", '["good-key-0123456789"]')
    monkeypatch.setenv(setting, value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert refused.value.setting.startswith(setting)


def test_cityhub_run_refuses_to_start_with_an_empty_key(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "run"],
        env={"CITYHUB_API__READ_KEYS": '[""]', "CITYHUB_DATA_DIR": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CITYHUB_API__READ_KEYS" in result.stderr


class Subscriber:
    def __init__(self, port: int, user: str, password: str, topics: list[str]) -> None:
        self.messages: list[str] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"sweep-{user}-{time.time_ns()}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )  # fmt: skip
        self.client.username_pw_set(user, password)
        self.client.on_message = lambda _c, _u, m: self.messages.append(m.topic)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe([(t, 1) for t in topics])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_the_shipped_acl_keeps_families_apart_and_the_hub_read_only(tmp_path: Path) -> None:
    users = {"simulator": "sim-secret-0123", "hub": "hub-secret-0123"}
    broker = Mosquitto(tmp_path / "broker", auth=users).start()
    try:
        nosy = Subscriber(broker.port, "simulator", users["simulator"], ["ocpp/cp/+", "#"])
        hub = Subscriber(broker.port, "hub", users["hub"], ["senml/+", "ocpp/cp/+"])
        simulator = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="sweep-pub", protocol=MQTTProtocolVersion.MQTTv5
        )
        simulator.username_pw_set("simulator", users["simulator"])
        simulator.connect("127.0.0.1", broker.port)
        simulator.loop_start()
        simulator.publish("ocpp/cp/CP-1", b"[2]", qos=1).wait_for_publish(10)
        hub_publisher = mqtt.Client(  # the hub account publishing: refused (PUBACK 135)
            CallbackAPIVersion.VERSION2,
            client_id="sweep-hub-pub",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        hub_publisher.username_pw_set("hub", users["hub"])
        hub_publisher.connect("127.0.0.1", broker.port)
        hub_publisher.loop_start()
        hub_publisher.publish("senml/m-1", b"[]", qos=1).wait_for_publish(10)
        hub_publisher.loop_stop()
        hub_publisher.disconnect()
        simulator.publish("senml/m-2", b"[]", qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 10
        while len(hub.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert sorted(hub.messages) == ["ocpp/cp/CP-1", "senml/m-2"]  # not its own publish
        assert nosy.messages == [], "a simulator read another family's topics"
        simulator.loop_stop()
        simulator.disconnect()
        nosy.close()
        hub.close()
    finally:
        broker.stop()
