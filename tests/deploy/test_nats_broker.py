"""The compose stack's broker for real: deploy/nats/nats.conf on a private NATS Server, with
the passwords docker-compose.yml passes it from .env.

NATS speaks MQTT 3.1.1: a refused CONNECT gets return code 5 (not authorized); a refused
SUBSCRIBE gets 0x80 in its SUBACK; a refused PUBLISH is dropped (3.1.1's PUBACK carries no
reason), so what a client may publish is checked by what a subscriber receives. Topics map to
subjects with "/" as "." (an empty first level, as in HFP's "/hfp/...", is "/").
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from hub.broker import NatsServer
from hub.contracts import AdapterEnv
from hub.devices import DeviceRegistry
from hub.plugins import load_adapters
from hub.timestamps import TimePolicy
from tests.conftest import HubProcess, Publisher, wait_until, write_registry
from tests.deploy.mqtt_clients import NOT_AUTHORIZED, Client, client_factory
from tests.deploy.stack import NATS_CONF, NATS_ENTRYPOINT, require_binary, service_environment
from tests.deploy.test_broker_acl import ALLOWED, REFUSED
from tests.ingest.test_broker_outage_and_sharing import METERS, count, reading

SUBSCRIBE_REFUSED = 0x80
V311 = MQTTProtocolVersion.MQTTv311


def subject(topic_filter: str) -> list[str]:
    """The NATS subjects an MQTT filter subscribes to ("#" also matches its parent)."""
    levels = ["/" if level == "" else level for level in topic_filter.split("/")]
    levels = ["*" if level == "+" else ">" if level == "#" else level for level in levels]
    if levels[-1] == ">":
        return [".".join(levels[:-1]), ".".join(levels)]
    return [".".join(levels)]


def permissions(user: str) -> dict[str, list[str]]:
    """publish / subscribe → the subjects nats.conf lists for ``user`` (a "deny" block as
    ["deny", ...])."""
    text = re.sub(r"^\s*#.*\n", "", NATS_CONF.read_text(), flags=re.M)
    block = re.search(r"user: " + user + r"\n(.*?)\n    \}\n", text, re.S)
    assert block, f"no user {user} in {NATS_CONF}"
    found = {}
    for kind in ("publish", "subscribe"):
        part = re.search(kind + r": (\{[^}]*\}|\[[^\]]*\])", block[1])
        assert part, f"{user}: no {kind} permission"
        quoted = re.findall(r'"([^"]+)"', part[1])
        found[kind] = ["deny", *quoted] if part[1].startswith("{ deny") else quoted
    return found


@pytest.fixture
def clients(nats_broker: NatsServer, passwords: dict[str, str]):
    yield from client_factory(nats_broker.port, passwords, protocol=V311)


def test_the_permissions_are_the_adapters_topics_and_the_mosquitto_acls() -> None:
    env = AdapterEnv(time=TimePolicy(zone=ZoneInfo("UTC")), devices=DeviceRegistry())
    filters = sorted({f.value for adapter in load_adapters(None, {}, env) for f in adapter.topics})
    assert sorted(set(ALLOWED.values())) == filters  # the Mosquitto ACL test's topics
    subjects = sorted(s for f in filters for s in subject(f))
    hub, simulator = permissions("hub"), permissions("simulator")
    # The hub also reads the subjects NATS delivers its QoS 1 subscriptions on.
    assert sorted(hub["subscribe"]) == sorted(["$MQTT.sub.>", *subjects])
    assert hub["publish"] == ["deny", ">"]
    # Devices publish below a "#" filter's parent, never on it.
    assert sorted(simulator["publish"]) == sorted(subject(f)[-1] for f in filters)
    assert simulator["subscribe"] == ["deny", ">"]


def test_only_the_stacks_accounts_with_their_password_connect(
    clients, passwords: dict[str, str]
) -> None:
    assert clients("sim", "simulator").connack == 0
    assert clients("hub", "hub").connack == 0
    assert clients("anonymous", None).connack == NOT_AUTHORIZED
    assert clients("wrong", "hub", "not-the-password").connack == NOT_AUTHORIZED
    swapped = clients("swapped", "simulator", passwords["MQTT_HUB_PASSWORD"])
    assert swapped.connack == NOT_AUTHORIZED


def test_simulators_publish_their_topics_and_the_hub_reads_them_and_nothing_else(
    clients, passwords: dict[str, str]
) -> None:
    hub = clients("cityhub", "hub", persistent=True)
    assert hub.subscribe(sorted(set(ALLOWED.values()))) == [1] * len(set(ALLOWED.values()))
    assert hub.subscribe(["#"]) == [SUBSCRIBE_REFUSED]  # nothing beyond the devices' topics
    nosy = clients("sim-2", "simulator")  # simulators read nothing, not even each other
    assert nosy.subscribe(["senml/+"]) == [SUBSCRIBE_REFUSED]
    simulator = clients("sim-1", "simulator")
    simulator.publish(list(ALLOWED))
    simulator.publish(REFUSED, b"refused")
    clients("hub-publishing", "hub").publish(list(ALLOWED), b"refused")
    marker = "senml/marker"  # once it arrived, everything published before it was routed
    simulator.publish([marker], b"marker")
    hub.wait(lambda: marker in hub.topics(), "marker not delivered")
    assert sorted(hub.topics()) == sorted([*ALLOWED, marker])
    assert b"refused" not in [payload for _, payload in hub.messages]
    assert nosy.topics() == []


def nats_hub(broker: NatsServer, passwords: dict[str, str], tmp_path: Path) -> HubProcess:
    """A hub (not started) logged in to the compose broker as the compose stack's hub is."""
    return HubProcess(
        tmp_path,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(write_registry(tmp_path / "registry.json", METERS)),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
        CITYHUB_MQTT__PROTOCOL="3.1.1",
        CITYHUB_MQTT__USERNAME="hub",
        CITYHUB_MQTT__PASSWORD=passwords["MQTT_HUB_PASSWORD"],
    )


def device(broker: NatsServer, passwords: dict[str, str]) -> Publisher:
    """A device publishing as the stack's simulators do (MQTT 3.1.1, user simulator)."""
    login = ("simulator", passwords["MQTT_SIMULATOR_PASSWORD"])
    return Publisher(broker.port, "device", protocol=V311, login=login)


def stream_messages(broker: NatsServer) -> int:
    """Messages the broker holds for MQTT subscribers (the dashboard's broker lag): its
    JetStream stream $MQTT_msgs, from the monitoring port the exporter reads."""
    url = f"http://127.0.0.1:{broker.http_port}/jsz?streams=true"
    accounts = httpx.get(url, timeout=5).json()["account_details"]
    streams = [s for a in accounts for s in a.get("stream_detail", [])]
    return sum(s["state"]["messages"] for s in streams if s["name"] == "$MQTT_msgs")


def test_a_crash_loses_nothing_the_broker_acknowledged(
    nats_broker: NatsServer, passwords: dict[str, str], tmp_path: Path
) -> None:
    """The hub is away (stopped) while devices publish; the broker is SIGKILLed right after
    its last PUBACK and started again: every message is still queued for the hub's session.
    (Mosquitto loses what arrived since its last save here: chaos broker_crash_while_hub_away.)"""
    hub = nats_hub(nats_broker, passwords, tmp_path).start()
    hub.stop()  # its session and subscriptions stay in the broker
    publisher = device(nats_broker, passwords)
    try:
        publisher.publish_all([reading(i) for i in range(2000)])
        assert stream_messages(nats_broker) == 2000  # queued for the hub, on disk
        assert nats_broker.process is not None
        nats_broker.process.send_signal(signal.SIGKILL)
        nats_broker.process.wait()
        nats_broker.start()
        hub.start()
        wait_until(lambda: count(hub) == 2000, timeout_s=60, message="acknowledged messages lost")
        wait_until(lambda: stream_messages(nats_broker) == 0, message="not acknowledged")
        assert "session present: True" in hub.log()
    finally:
        publisher.close()
        hub.stop()


def delivered_unacknowledged(broker: NatsServer) -> int:
    """Messages NATS sent to MQTT subscribers that have not acknowledged them yet."""
    url = f"http://127.0.0.1:{broker.http_port}/jsz?consumers=true"
    accounts = httpx.get(url, timeout=5).json()["account_details"]
    streams = [s for a in accounts for s in a.get("stream_detail", [])]
    consumers = [c for s in streams if s["name"] == "$MQTT_msgs" for c in s["consumer_detail"]]
    return sum(c["num_ack_pending"] for c in consumers)


def test_what_a_killed_hub_received_but_never_acknowledged_comes_back(
    nats_broker: NatsServer, passwords: dict[str, str], tmp_path: Path
) -> None:
    """The hub's process frozen (SIGSTOP: its MQTT client reads on, nothing is stored or
    acknowledged), then SIGKILLed, then started again: NATS sends every message again, after
    its ack_wait rather than at the reconnect (deploy/nats/nats.conf keeps it short)."""
    hub = nats_hub(nats_broker, passwords, tmp_path).start()
    publisher = device(nats_broker, passwords)
    try:
        assert hub.process is not None
        os.kill(hub.process.pid, signal.SIGSTOP)
        publisher.publish_all([reading(i) for i in range(1000)])
        wait_until(lambda: delivered_unacknowledged(nats_broker) > 0, message="not delivered")
        hub.kill()
        hub.start()
        wait_until(lambda: count(hub) == 1000, timeout_s=60, message="messages lost")
        assert delivered_unacknowledged(nats_broker) == 0
    finally:
        publisher.close()
        hub.stop()


def test_compose_health_check_command_passes_on_the_broker(
    nats_broker: NatsServer, config: dict[str, Any]
) -> None:
    require_binary("wget")
    kind, command = config["services"]["broker"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    local = command.replace("127.0.0.1:8222", f"127.0.0.1:{nats_broker.http_port}")
    assert local != command
    assert subprocess.run(["sh", "-c", local], timeout=20).returncode == 0
    nats_broker.stop()
    assert subprocess.run(["sh", "-c", local], timeout=20).returncode != 0


def test_the_compose_broker_runs_this_file_through_its_entrypoint(
    config: dict[str, Any], stack_env: dict[str, str]
) -> None:
    broker = config["services"]["broker"]
    assert broker["image"].startswith("nats:2.")
    volumes = broker["volumes"]
    config_path = broker["command"][broker["command"].index("-c") + 1]
    assert f"{NATS_CONF}:{config_path}:ro" in volumes
    assert f"{NATS_ENTRYPOINT}:{broker['entrypoint'][-1]}:ro" in volumes
    # The entrypoint's default auth file is the one nats.conf includes, beside it.
    assert "include auth.conf" in NATS_CONF.read_text()
    default = re.search(r"NATS_AUTH_FILE:-([^}]+)\}", NATS_ENTRYPOINT.read_text())
    assert default and Path(default[1]) == Path(config_path).with_name("auth.conf")
    store = re.search(r"store_dir: (\S+)", NATS_CONF.read_text())
    assert store and f"broker-data:{store[1]}:rw" in volumes  # a named volume
    environment = service_environment(config, "broker")
    for name in ("MQTT_HUB_PASSWORD", "MQTT_SIMULATOR_PASSWORD"):
        assert f"${name}" in NATS_CONF.read_text() and environment[name] == stack_env[name]


def run_entrypoint(env: dict[str, str], auth_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(NATS_ENTRYPOINT), "true"],
        env={"PATH": "/usr/bin:/bin", "NATS_AUTH_FILE": str(auth_file), **env},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def test_the_entrypoint_refuses_weak_or_unquotable_passwords(
    passwords: dict[str, str], tmp_path: Path
) -> None:
    auth = tmp_path / "auth.conf"
    written = run_entrypoint(passwords, auth)
    assert written.returncode == 0, written.stderr
    assert f'MQTT_HUB_PASSWORD = "{passwords["MQTT_HUB_PASSWORD"]}"' in auth.read_text()
    assert auth.stat().st_mode & 0o777 == 0o600
    for bad, said in [
        ("short-pw", "must be at least 12 characters"),
        ('has"quote-in-it', "may only contain"),
        ("has space in it", "may only contain"),
        ("$(reboot)-x-y-z", "may only contain"),
    ]:
        refused = run_entrypoint({**passwords, "MQTT_SIMULATOR_PASSWORD": bad}, auth)
        assert refused.returncode == 2 and f"MQTT_SIMULATOR_PASSWORD {said}" in refused.stderr
    unset = run_entrypoint({"MQTT_HUB_PASSWORD": passwords["MQTT_HUB_PASSWORD"]}, auth)
    assert unset.returncode != 0 and "MQTT_SIMULATOR_PASSWORD" in unset.stderr


def test_any_password_the_entrypoint_accepts_logs_in(tmp_path: Path) -> None:
    """Quoted by the entrypoint, a password that NATS would read as a number or a size when
    taken from the environment as is still logs in."""
    for index, password in enumerate(["123456789012", "1k-or-1MB_9x", "-+/=~._Ab0123"]):
        broker = NatsServer(
            tmp_path / f"nats-{index}",
            NATS_CONF,
            {"MQTT_HUB_PASSWORD": password, "MQTT_SIMULATOR_PASSWORD": "simulator-secret-1"},
        ).start()
        try:
            hub = Client(broker.port, "cityhub", "hub", password, protocol=V311)
            assert hub.connack == 0, password
            hub.close()
        finally:
            broker.stop()


def test_a_port_taken_before_the_server_binds_it_is_picked_again(
    passwords: dict[str, str], tmp_path: Path
) -> None:
    """Another program takes the monitoring port between our pick and NATS' bind (it happened
    in a chaos run): the server is started again on other ports, the MQTT one only until it
    has been started once."""
    broker = NatsServer(tmp_path / "nats", NATS_CONF, passwords)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", broker.http_port))
        squatter.listen()
        taken = broker.http_port
        broker.start()
        try:
            assert broker.http_port != taken
            hub = Client(broker.port, "hub", "hub", passwords["MQTT_HUB_PASSWORD"], protocol=V311)
            assert hub.connack == 0
            hub.close()
            broker.stop()
            mqtt_port = broker.port
            with socket.socket() as second:  # a restart keeps the MQTT port clients know
                second.bind(("127.0.0.1", broker.http_port))
                second.listen()
                broker.start()
                assert broker.port == mqtt_port
        finally:
            broker.stop()
