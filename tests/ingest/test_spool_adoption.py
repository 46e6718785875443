"""Hubs sharing a data folder: a hub killed with a full spool leaves acknowledged points that
another live hub adopts and drains into InfluxDB, every point exactly once; two live hubs
cannot share one spool."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from hub.broker import Mosquitto
from tests.conftest import HubProcess, Publisher, wait_until, write_registry
from tests.ingest.test_influx_outage import (
    METERS,
    Influxd,
    count_and_sum,
    influxd,  # noqa: F401  (the fixture)
    processed,
    readings,
)


def hub_env(shared_data: Path, registry: Path, server: Influxd, name: str) -> dict[str, str]:
    return {
        "CITYHUB_DATA_DIR": str(shared_data),
        "CITYHUB_STORE__SPOOL_NAME": name,
        "CITYHUB_STORE__SPOOL_ADOPT_INTERVAL_S": "0.5",
        "CITYHUB_MQTT__CLIENT_ID": name,
        "CITYHUB_INGEST__REGISTRY_FILE": str(registry),
        "CITYHUB_INGEST__ADAPTERS": '["senml"]',
        "CITYHUB_STORE__BACKEND": "influxdb",
        "CITYHUB_STORE__INFLUX_API": "v1",
        "CITYHUB_STORE__INFLUX_URL": server.url,
        "CITYHUB_STORE__INFLUX_BUCKET": "cityhub",
        "CITYHUB_STORE__INFLUX_TIMEOUT_S": "2",
    }


def metric(hub: HubProcess, name: str) -> float:
    text = httpx.get(f"{hub.base_url}/metrics", timeout=5).text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def test_a_killed_hubs_spool_is_adopted_and_drained_exactly_once(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,  # noqa: F811
) -> None:
    shared = tmp_path / "shared-data"
    registry = write_registry(tmp_path / "registry.json", METERS)
    hub_a = HubProcess(tmp_path / "a", mosquitto.port, **hub_env(shared, registry, influxd, "a"))
    (tmp_path / "a").mkdir()
    hub_a.start()
    publisher = Publisher(mosquitto.port)
    influxd.stop()
    publisher.publish_all(readings(0, 2000))
    publisher.close()
    wait_until(lambda: processed(hub_a) == 2000, message="hub A did not spool the stream")
    wait_until(lambda: metric(hub_a, "cityhub_spool_pending_bytes") > 0)
    assert metric(hub_a, "cityhub_spool_oldest_age_seconds") > 0
    hub_a.kill()  # acknowledged to the broker, held only in A's spool on disk
    assert any((shared / "spool" / "a").glob("*.seg"))

    influxd.restart()
    (tmp_path / "b").mkdir()
    hub_b = HubProcess(
        tmp_path / "b", mosquitto.port, **hub_env(shared, registry, influxd, "b")
    ).start()
    try:
        wait_until(
            lambda: count_and_sum(hub_b)[0] == 2000,
            timeout_s=60,
            message=f"A's spool not drained: {count_and_sum(hub_b)}\n{hub_b.log()}",
        )
        wait_until(lambda: not (shared / "spool" / "a").exists(), message="A's spool left")
        assert count_and_sum(hub_b) == (2000, sum(range(2000)))
        assert metric(hub_b, "cityhub_spools_adopted") == 1
        assert "adopting the orphan spool" in hub_b.log()
        checks = httpx.get(f"{hub_b.base_url}/ready", timeout=5).json()["checks"]
        assert checks["spool"]["name"] == "b"
        assert checks["spool"]["adoption"] == {"adopting": None, "adopted": 1}
    finally:
        hub_b.stop()


def test_two_live_hubs_cannot_share_a_spool_name(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,  # noqa: F811
) -> None:
    shared = tmp_path / "shared-data"
    registry = write_registry(tmp_path / "registry.json", METERS)
    hub = HubProcess(tmp_path, mosquitto.port, **hub_env(shared, registry, influxd, "same"))
    hub.start()
    try:
        second = subprocess.run(
            [sys.executable, "-m", "hub.cli", "run"],
            env={**hub.env, "CITYHUB_API__PORT": "0", "CITYHUB_MQTT__CLIENT_ID": "other"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2, second.stderr
        assert "CITYHUB_STORE__SPOOL_NAME" in second.stderr
        assert "locked by another live process" in second.stderr
    finally:
        hub.stop()
