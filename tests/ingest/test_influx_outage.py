"""The hub on InfluxDB through the durable spool: an outage of the server, and a SIGKILL of
the hub while the spool holds data, lose nothing and store nothing twice."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.broker import Mosquitto
from hub.insights.context import format_time
from tests.conftest import ADMIN_KEY, HubProcess, Publisher, wait_until, write_registry
from tests.servers_influx import (
    ServerMissing,
    restart_influxd,
    start_influxd,
    stop_server,
)

T0 = (time.time_ns() // 3_600_000_000_000 - 2) * 3_600_000_000_000
METERS = {f"m-{n}": {"building": f"b-{n % 4}", "district": "west"} for n in range(20)}


class Influxd:
    """A real influxd that a test can take down and bring back on the same port and data."""

    def __init__(self, directory: Path) -> None:
        self.server = start_influxd(directory, "cityhub")
        self.url = self.server.url

    def stop(self) -> None:
        stop_server(self.server)

    def restart(self) -> None:
        self.server = restart_influxd(self.server)


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[Influxd]:
    try:
        server = Influxd(tmp_path / "influxd")
    except ServerMissing as missing:
        if os.environ.get("CI"):
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    yield server
    server.stop()


def readings(first: int, last: int) -> list[tuple[str, str]]:
    out = []
    for i in range(first, last):
        at_s = (T0 + (i // len(METERS)) * 1_000_000_000) / 1e9
        payload = json.dumps([{"bt": at_s, "n": "power", "u": "W", "v": float(i)}])
        out.append((f"senml/m-{i % len(METERS)}", payload))
    return out


def count_and_sum(hub: HubProcess) -> tuple[float, float]:
    params = {
        "measurement": "building_energy",
        "field": "power_w",
        "start": format_time(T0),
        "end": format_time(T0 + 3_600_000_000_000),
    }
    values = []
    with hub.client() as client:
        for fn in ("count", "sum"):
            response = client.get("/api/v1/aggregate", params={**params, "fn": fn})
            if response.status_code != 200:
                return (-1.0, -1.0)
            series = response.json()["series"]
            values.append(series[0]["points"][0]["value"] if series else 0.0)
    return values[0], values[1]


def processed(hub: HubProcess) -> float:
    metrics = httpx.get(f"{hub.base_url}/metrics", timeout=5).text
    found = re.search(r'cityhub_messages_total\{adapter="senml",outcome="stored"\} (\S+)', metrics)
    return float(found.group(1)) if found else 0.0


def readiness(hub: HubProcess) -> tuple[int, dict]:
    response = httpx.get(f"{hub.base_url}/ready", timeout=5)
    return response.status_code, response.json()["checks"]


def start_hub(tmp_path: Path, broker: Mosquitto, influxd: Influxd) -> HubProcess:
    registry = write_registry(tmp_path / "registry.json", METERS)
    return HubProcess(
        tmp_path,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
        CITYHUB_STORE__BACKEND="influxdb",
        CITYHUB_STORE__INFLUX_API="v1",
        CITYHUB_STORE__INFLUX_URL=influxd.url,
        CITYHUB_STORE__INFLUX_BUCKET="cityhub",
        CITYHUB_STORE__INFLUX_TIMEOUT_S="2",
    ).start()


def test_an_influxdb_outage_spools_then_drains_exactly_once(
    tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd
) -> None:
    hub = start_hub(tmp_path, mosquitto, influxd)
    publisher = Publisher(mosquitto.port)
    try:
        publisher.publish_all(readings(0, 1000))
        wait_until(lambda: count_and_sum(hub)[0] == 1000, message="first 1000 not in InfluxDB")

        influxd.stop()
        publisher.publish_all(readings(1000, 3000))
        # The hub keeps acknowledging into its spool while the server is down.
        wait_until(lambda: processed(hub) == 3000, message="hub stopped taking messages")
        _, checks = wait_until(
            lambda: (r := readiness(hub))[0] == 503 and r[1]["spool"]["pending_bytes"] > 0 and r
        )
        assert checks["store"]["ok"] is False
        assert checks["spool"]["store_reachable"] is False
        assert checks["spool"]["pending_batches"] > 0

        influxd.restart()
        wait_until(
            lambda: (r := readiness(hub))[0] == 200 and r[1]["spool"]["pending_bytes"] == 0,
            timeout_s=60,
            message="spool not drained",
        )
        count, total = count_and_sum(hub)
        assert count == 3000
        assert total == sum(range(3000))
    finally:
        publisher.close()
        hub.stop()


def test_sigkill_with_a_full_spool_loses_nothing(
    tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd
) -> None:
    hub = start_hub(tmp_path, mosquitto, influxd)
    publisher = Publisher(mosquitto.port)
    influxd.stop()
    publisher.publish_all(readings(0, 2000))
    wait_until(lambda: processed(hub) == 2000, message="hub did not spool the stream")
    hub.kill()  # acknowledged to the broker, held only in the spool on disk
    publisher.publish_all(readings(2000, 2500))
    publisher.close()

    influxd.restart()
    restarted = start_hub(tmp_path, mosquitto, influxd)
    try:
        wait_until(lambda: count_and_sum(restarted)[0] == 2500, timeout_s=60)
        time.sleep(0.5)
        assert count_and_sum(restarted) == (2500, sum(range(2500)))
    finally:
        restarted.stop()


def test_a_point_influxdb_refuses_is_dead_lettered_and_its_batch_mates_stored(
    tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd
) -> None:
    # Someone else's writer made power_w a string field in this measurement, in a shard the
    # readings below fall into: InfluxDB will refuse our float power_w there.
    line = f'building_energy,device=legacy power_w="n/a" {T0}'
    httpx.post(f"{influxd.url}/write", params={"db": "cityhub"}, content=line).raise_for_status()
    hub = start_hub(tmp_path, mosquitto, influxd)
    publisher = Publisher(mosquitto.port)
    try:
        good = json.dumps([{"bt": T0 / 1e9, "n": "voltage", "u": "V", "v": 231.0}])
        bad = readings(0, 1)[0][1]  # power_w as a float
        publisher.publish_all([("senml/m-1", good), ("senml/m-2", bad)])

        def letters() -> list[dict]:
            with hub.client(ADMIN_KEY) as client:
                return client.get("/api/v1/dead-letters").json()["dead_letters"]

        [letter] = wait_until(letters, message="the refused point left no dead letter")
        assert letter["reason"] == "store_refused"
        assert "field type conflict" in letter["detail"]
        assert '"power_w": 0.0' in letter["payload"]
        with hub.client() as client:
            voltage = client.get(
                "/api/v1/latest",
                params={"measurement": "building_energy", "fields": "voltage_v"},
            ).json()
        assert [row["fields"] for row in voltage["rows"]] == [{"voltage_v": 231.0}]
    finally:
        publisher.close()
        hub.stop()
