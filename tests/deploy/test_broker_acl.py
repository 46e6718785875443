"""The broker of the stack on Mosquitto (docker-compose.mosquitto.yml) for real:
deploy/mosquitto/mosquitto.conf (no-loss settings), the deploy ACL and the password file that
deploy/mosquitto/entrypoint.sh writes, on a private Mosquitto. (The shipped stack's broker,
NATS: test_nats_broker.py.)

Mosquitto 2 answers a refused QoS 1 PUBLISH from an MQTT v5 client with PUBACK reason code
135 (Not authorized) and drops the message; it grants any SUBSCRIBE but delivers a message
only to clients whose ACL lets them read its topic, shared subscriptions included.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hub.broker import Mosquitto
from tests.deploy.mqtt_clients import NOT_AUTHORIZED, client_factory
from tests.deploy.stack import ACL_FILE, require_binary, write_broker_auth

ALLOWED = {
    "senml/m-0001": "senml/+",
    "tele/tasmota-7/SENSOR": "tele/+/SENSOR",
    "shelly-3/status/switch:0": "+/status/+",
    "ocpp/cp/CP-1": "ocpp/cp/+",
    "gtfsrt/metro/vehicle_positions": "gtfsrt/+/vehicle_positions",
    "/hfp/v2/journey/ongoing/vp/bus/0022/00792/1081/2/Kamppi/08:03/1130106/4/60;25/21/18/84": (
        "/hfp/v2/journey/ongoing/#"
    ),
}
REFUSED = [
    "senml/m-0001/extra",  # deeper than the adapter's filter
    "ocpp/cs/CP-1",
    "gtfsrt/metro/trip_updates",
    "/hfp/v2/journey/upcoming/vp/bus/0022/00792",  # HFP, but not an ongoing journey
    "cityhub/commands",
    "$SYS/broker/fake",
]


@pytest.fixture
def clients(compose_broker: Mosquitto, stack_env: dict[str, str]):
    yield from client_factory(compose_broker.port, stack_env)


def test_entrypoint_writes_hashed_passwords_and_refuses_weak_ones(
    auth_dir: Path, stack_env: dict[str, str], tmp_path: Path
) -> None:
    passwd = (auth_dir / "passwd").read_text()
    users = {line.split(":", 1)[0] for line in passwd.splitlines()}
    assert users == {"hub", "simulator", "exporter", "healthcheck"}
    for line in passwd.splitlines():
        assert line.split(":", 1)[1].startswith("$7$")  # PBKDF2-SHA512
    for secret in (stack_env["MQTT_HUB_PASSWORD"], stack_env["MQTT_SIMULATOR_PASSWORD"]):
        assert secret not in passwd
    assert (auth_dir / "acl").read_text() == ACL_FILE.read_text()
    assert len((auth_dir / "healthcheck.password").read_text()) >= 32
    for name in ("passwd", "acl", "healthcheck.password"):
        assert stat.S_IMODE((auth_dir / name).stat().st_mode) == 0o600, name
    weak = write_broker_auth({**stack_env, "MQTT_HUB_PASSWORD": "short"}, tmp_path / "weak")
    assert weak.returncode == 2 and "MQTT_HUB_PASSWORD must be at least 12" in weak.stderr
    unset = {k: v for k, v in stack_env.items() if k != "MQTT_SIMULATOR_PASSWORD"}
    missing = write_broker_auth(unset, tmp_path / "missing")
    assert missing.returncode != 0 and "MQTT_SIMULATOR_PASSWORD" in missing.stderr


def test_only_known_users_with_their_password_connect(clients, stack_env: dict[str, str]) -> None:
    assert clients("sim", "simulator").connack == 0
    assert clients("hub", "hub").connack == 0
    assert clients("anonymous", None).connack == NOT_AUTHORIZED
    assert clients("wrong", "hub", "not-the-password").connack == NOT_AUTHORIZED
    # One service's password does not open the other's account.
    swapped = clients("swapped", "simulator", stack_env["MQTT_HUB_PASSWORD"])
    assert swapped.connack == NOT_AUTHORIZED


def test_acl_lets_simulators_publish_and_the_hub_read_nothing_else(
    clients, stack_env: dict[str, str]
) -> None:
    shared = clients("cityhub-a", "hub")  # a scaled hub: MQTT v5 shared subscriptions
    shared.subscribe([f"$share/cityhub/{f}" for f in sorted(set(ALLOWED.values()))])
    everything = clients("cityhub-wide", "hub")  # granted, but only readable topics arrive
    everything.subscribe(["#"])
    simulator = clients("sim-1", "simulator")
    nosy = clients("sim-2", "simulator")  # simulators read nothing, not even each other
    nosy.subscribe(["#", "senml/+"])

    assert simulator.publish(list(ALLOWED)) == [0] * len(ALLOWED)
    # Mosquitto 2.0.11 with max_queued_messages 0 (the no-loss setting) holds each refusing
    # PUBACK for about a second on its connection: one connection per refused publish keeps
    # this test fast. Accepted publishes are answered at once.
    refused = [
        *[(clients(f"sim-refused-{i}", "simulator"), [topic]) for i, topic in enumerate(REFUSED)],
        *[(clients(f"hub-publishing-{i}", "hub"), [topic]) for i, topic in enumerate(ALLOWED)],
    ]
    sent = [(client, client.send(topics, b"refused")) for client, topics in refused]
    for (client, infos), (_, topics) in zip(sent, refused, strict=True):
        assert client.reasons(infos) == [NOT_AUTHORIZED], topics
    # A last allowed message: once it arrived, everything published before it was routed.
    marker = "senml/marker"
    assert simulator.publish([marker], b"marker") == [0]
    for subscriber in (shared, everything):
        subscriber.wait(lambda s=subscriber: marker in s.topics(), "marker not delivered")
        assert subscriber.topics() == [*ALLOWED, marker]
        assert b"refused" not in [payload for _, payload in subscriber.messages]
    assert nosy.topics() == []


def test_no_loss_settings_keep_a_backlog_beyond_mosquitto_defaults(clients) -> None:
    """The hub's persistent session is offline while 2,500 QoS 1 messages arrive: Mosquitto's
    default (max_queued_messages 1000) would drop 1,500 of them; the deploy config keeps all."""
    hub = clients("cityhub", "hub", persistent=True)
    hub.subscribe(["senml/+"])
    hub.close()
    simulator = clients("sim-backlog", "simulator")
    infos = [simulator.client.publish("senml/m-0001", str(i).encode(), qos=1) for i in range(2500)]
    for info in infos:
        info.wait_for_publish(30)
    assert all(simulator.acks[info.mid] == 0 for info in infos)
    back = clients("cityhub", "hub", persistent=True)
    back.wait(lambda: len(back.messages) >= 2500, "backlog not delivered", timeout_s=30)
    assert [int(payload) for _, payload in back.messages] == list(range(2500))


def test_compose_health_check_command_passes_on_the_broker(
    compose_broker: Mosquitto, auth_dir: Path, mosquitto_config: dict[str, Any]
) -> None:
    require_binary("mosquitto_sub")
    kind, command = mosquitto_config["services"]["broker"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    local = (
        command.replace("$$", "$")
        .replace("/mosquitto/auth", str(auth_dir))
        .replace("-p 1883", f"-p {compose_broker.port}")
    )
    env = {"PATH": os.environ["PATH"]}
    assert subprocess.run(["sh", "-c", local], env=env, timeout=20).returncode == 0
    (auth_dir / "healthcheck.password").write_text("wrong")
    assert subprocess.run(["sh", "-c", local], env=env, timeout=20).returncode != 0
