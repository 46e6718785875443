"""The broker going away and coming back, and several hubs sharing one subscription."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from hub.broker import Mosquitto
from hub.insights.context import format_time
from tests.conftest import HubProcess, Publisher, wait_until, write_registry

T0 = (time.time_ns() // 3_600_000_000_000 - 2) * 3_600_000_000_000
METERS = {f"m-{n}": {"building": f"b-{n % 3}", "district": "east"} for n in range(10)}


def reading(i: int) -> tuple[str, str]:
    at_s = (T0 + (i // len(METERS)) * 1_000_000_000) / 1e9
    payload = json.dumps([{"bt": at_s, "n": "power", "u": "W", "v": float(i)}])
    return f"senml/m-{i % len(METERS)}", payload


def count(hub: HubProcess) -> int:
    params = {
        "measurement": "building_energy",
        "field": "power_w",
        "fn": "count",
        "start": format_time(T0),
        "end": format_time(T0 + 3_600_000_000_000),
    }
    with hub.client() as client:
        series = client.get("/api/v1/aggregate", params=params).json()["series"]
    return int(series[0]["points"][0]["value"]) if series else 0


def ready_status(hub: HubProcess) -> int:
    return httpx.get(f"{hub.base_url}/ready", timeout=5).status_code


def test_hub_reconnects_after_a_broker_restart_and_gets_the_backlog(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.json", METERS)
    broker = Mosquitto(tmp_path / "broker").start()
    hub = HubProcess(
        tmp_path,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
    ).start()
    try:
        publisher = Publisher(broker.port, "outage-publisher-1")
        publisher.publish_all([reading(i) for i in range(500)])
        publisher.close()
        wait_until(lambda: count(hub) == 500, message="first 500 not stored")

        broker.stop()  # Mosquitto saves its sessions (ours included) on a clean shutdown
        wait_until(lambda: ready_status(hub) == 503, message="readiness missed the outage")
        broker.start()  # same port, same persistence folder

        publisher = Publisher(broker.port, "outage-publisher-2")
        publisher.publish_all([reading(i) for i in range(500, 1000)])
        publisher.close()
        wait_until(lambda: count(hub) == 1000, timeout_s=30, message="backlog not ingested")
        assert ready_status(hub) == 200
    finally:
        hub.stop()
        broker.stop()


def test_two_hubs_on_a_shared_subscription_split_the_stream(tmp_path: Path) -> None:
    """Each hub has its own DuckDB file here (DuckDB is single-process); together they hold
    every message exactly once, and each took a share."""
    registry = write_registry(tmp_path / "registry.json", METERS)
    broker = Mosquitto(tmp_path / "broker").start()
    env = {
        "CITYHUB_INGEST__REGISTRY_FILE": str(registry),
        "CITYHUB_INGEST__ADAPTERS": '["senml"]',
        "CITYHUB_MQTT__SHARED_GROUP": "hubs",
    }
    hubs = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        # Both run on this host: distinct client ids keep their sessions apart.
        hubs.append(
            HubProcess(tmp_path / name, broker.port, CITYHUB_MQTT__CLIENT_ID=name, **env).start()
        )
    try:
        publisher = Publisher(broker.port)
        publisher.publish_all([reading(i) for i in range(2000)])
        publisher.close()
        wait_until(lambda: sum(count(h) for h in hubs) == 2000, message="stream not split")
        time.sleep(0.5)
        counts = [count(h) for h in hubs]
        assert sum(counts) == 2000
        assert min(counts) > 0, counts
    finally:
        for hub in hubs:
            hub.stop()
        broker.stop()
