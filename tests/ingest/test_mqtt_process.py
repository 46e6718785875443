"""The MQTT client's own process: it never outlives the hub, and the hub replaces it."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from hub.broker import Mosquitto
from hub.insights.context import format_time
from tests.conftest import HubProcess, Publisher, wait_until, write_registry

T0 = (time.time_ns() // 3_600_000_000_000 - 1) * 3_600_000_000_000


def children(pid: int) -> list[int]:
    """The MQTT client processes of hub ``pid`` (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def count(hub: HubProcess) -> int:
    with hub.client() as client:
        series = client.get(
            "/api/v1/aggregate",
            params={
                "measurement": "building_energy",
                "field": "power_w",
                "fn": "count",
                "start": format_time(T0),
                "end": format_time(T0 + 3_600_000_000_000),
            },
        ).json()["series"]
    return int(series[0]["points"][0]["value"]) if series else 0


def reading(i: int) -> tuple[str, str]:
    return "senml/m-1", json.dumps([{"bt": T0 / 1e9 + i, "n": "power", "u": "W", "v": 1.0}])


def start(tmp_path: Path, broker: Mosquitto) -> HubProcess:
    registry = write_registry(tmp_path / "registry.json", {"m-1": {"building": "b-1"}})
    return HubProcess(
        tmp_path,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
    ).start()


def test_the_client_process_exits_with_a_sigkilled_hub(tmp_path: Path, mosquitto: Mosquitto):
    hub = start(tmp_path, mosquitto)
    assert hub.process is not None
    clients = wait_until(lambda: children(hub.process.pid), message="no client process")
    hub.kill()
    wait_until(
        lambda: not any(alive(pid) for pid in clients),
        timeout_s=10,
        message="the MQTT client outlived its hub and would fight its successor",
    )


def test_a_dead_client_process_is_replaced_and_ingest_goes_on(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    hub = start(tmp_path, mosquitto)
    publisher = Publisher(mosquitto.port)
    try:
        publisher.publish_all([reading(i) for i in range(100)])
        wait_until(lambda: count(hub) == 100)
        assert hub.process is not None
        [client] = children(hub.process.pid)
        os.kill(client, signal.SIGKILL)
        wait_until(lambda: "starting another" in hub.log(), message="no restart logged")
        publisher.publish_all([reading(i) for i in range(100, 200)])
        wait_until(lambda: count(hub) == 200, timeout_s=30, message="ingest did not resume")
    finally:
        publisher.close()
        hub.stop()
