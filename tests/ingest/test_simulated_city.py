"""The simulated city, faults included, through Mosquitto and the hub: every injected fault is
a dead letter with its reason, ingestion carries on, and duplicates count once."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import httpx

from hub.broker import Mosquitto
from hub.insights.context import format_time
from simulators.faults import FAULT_KINDS, FaultPlan
from simulators.registry import write_registry
from simulators.scenario import City
from tests.conftest import ADMIN_KEY, HubProcess, Publisher, wait_until

HOUR_NS = 3_600_000_000_000


def processed(hub: HubProcess) -> int:
    text = httpx.get(f"{hub.base_url}/metrics", timeout=5).text
    return int(
        sum(float(v) for v in re.findall(r"^cityhub_messages_total\{.*\} (\S+)$", text, re.M))
    )


def test_faults_become_dead_letters_and_duplicates_count_once(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    city = City.build(seed=7, buildings=6, charge_points=3, buses=3)
    registry = tmp_path / "registry.json"
    write_registry(city, registry)
    # The hour from the latest noon at least 3 h ago: buses in service and offices busy, so
    # nearly every fault kind shows up (an hour of the night publishes too little for that).
    day_ns = 24 * HOUR_NS
    now = time.time_ns()
    start = (now - 15 * HOUR_NS) // day_ns * day_ns + 12 * HOUR_NS
    end = start + HOUR_NS
    plan = FaultPlan(0.05, tuple(FAULT_KINDS))
    messages = list(city.messages(start, end, faults=plan))
    injected = Counter(m.fault.kind for m in messages if m.fault)
    assert len(injected) >= 8, injected  # nearly every kind shows up at this size

    hub = HubProcess(tmp_path, mosquitto.port, CITYHUB_INGEST__REGISTRY_FILE=str(registry))
    hub.start()
    publisher = Publisher(mosquitto.port)
    try:
        publisher.publish_all([(m.topic, m.payload) for m in messages])
        wait_until(lambda: processed(hub) == len(messages), timeout_s=60)

        expected_reasons = Counter(m.fault.reason for m in messages if m.fault and m.fault.reason)
        with hub.client(ADMIN_KEY) as client:
            counts = client.get("/api/v1/dead-letters/counts").json()["counts"]
        assert counts == dict(expected_reasons)

        # Every distinct reading of the valid messages is one point, duplicates included once.
        valid = [m for m in messages if not (m.fault and m.fault.reason)]
        for measurement, field in (("building_energy", "power_w"), ("bus_position", "speed_mps")):
            readings = {
                (e.device, tuple(sorted(e.tags.items())), e.time_ns)
                for m in valid
                for e in m.truth
                if e.measurement == measurement and field in e.fields
            }
            with hub.client() as client:
                series = client.get(
                    "/api/v1/aggregate",
                    params={
                        "measurement": measurement,
                        "field": field,
                        "fn": "count",
                        "start": format_time(start - 12 * HOUR_NS),
                        "end": format_time(now),
                    },
                ).json()["series"]
            assert series[0]["points"][0]["value"] == len(readings), measurement
        assert injected["duplicate"] > 0
    finally:
        publisher.close()
        hub.stop()
