"""SIGKILL the hub in the middle of a QoS 1 stream: nothing acknowledged is lost, nothing is
stored twice, because acks follow durable writes and writes are idempotent."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from hub.broker import Mosquitto
from hub.insights.context import format_time
from tests.conftest import HubProcess, Publisher, wait_until, write_registry

MESSAGES = 20_000
METERS = 50
T0 = (time.time_ns() // 3_600_000_000_000 - 2) * 3_600_000_000_000


def stored(hub: HubProcess) -> tuple[float, float]:
    """(count, sum) of power_w over the stream's range, as the API reports them."""
    params = {
        "measurement": "building_energy",
        "field": "power_w",
        "start": format_time(T0),
        "end": format_time(T0 + 3_600_000_000_000),
    }
    with hub.client() as client:
        values = []
        for fn in ("count", "sum"):
            series = client.get("/api/v1/aggregate", params={**params, "fn": fn}).json()["series"]
            values.append(series[0]["points"][0]["value"] if series else 0.0)
    return values[0], values[1]


def reading(i: int) -> str:
    at_s = (T0 + (i // METERS) * 1_000_000_000) / 1e9
    return json.dumps([{"bt": at_s, "n": "power", "u": "W", "v": float(i)}])


def test_sigkill_mid_stream_loses_nothing_and_counts_nothing_twice(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    registry = write_registry(
        tmp_path / "registry.json",
        {f"m-{n}": {"building": f"b-{n % 7}", "district": "north"} for n in range(METERS)},
    )
    env = {
        "CITYHUB_INGEST__REGISTRY_FILE": str(registry),
        "CITYHUB_INGEST__ADAPTERS": '["senml"]',
    }
    hub = HubProcess(tmp_path, mosquitto.port, **env).start()
    # Message i: meter i % 50, its own instant, power i W: count and sum identify every one.
    messages = [(f"senml/m-{i % METERS}", reading(i)) for i in range(MESSAGES)]
    publisher = Publisher(mosquitto.port)
    sender = threading.Thread(target=publisher.publish_all, args=(messages,))
    sender.start()

    wait_until(lambda: stored(hub)[0] >= 2_000, timeout_s=60, message="ingest did not start")
    count_before_kill = stored(hub)[0]
    hub.kill()
    assert count_before_kill < MESSAGES, "the stream ended before the kill: nothing was tested"
    sender.join(120)
    publisher.close()
    assert not sender.is_alive()

    restarted = HubProcess(tmp_path, mosquitto.port, **env).start()
    wait_until(
        lambda: stored(restarted)[0] >= MESSAGES,
        timeout_s=120,
        message=f"not every message arrived: {stored(restarted)}",
    )
    time.sleep(1.0)  # anything redelivered late would show up as an extra count now
    count, total = stored(restarted)
    assert count == MESSAGES
    assert total == sum(range(MESSAGES))
    restarted.stop()
