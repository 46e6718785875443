"""``cityhub api``: the API alone, answering from a real InfluxDB, with no broker anywhere
(its MQTT port points at a closed port). Its /ready checks the store only."""

from __future__ import annotations

from pathlib import Path

import httpx

from hub.broker import free_port
from hub.stores.influxdb import InfluxDBStore
from tests.api.inprocess import REGISTRY, city_points
from tests.conftest import ADMIN_KEY, READ_KEY, HubProcess, fresh_database, write_registry
from tests.servers_influx import RunningServer


def test_the_api_alone_answers_from_influxdb_without_a_broker(
    tmp_path: Path, influxd: RunningServer
) -> None:
    database = fresh_database(influxd)
    writer = InfluxDBStore(influxd.url, database, api="v1")
    assert writer.write(city_points()) == []
    writer.close()
    api = HubProcess(
        tmp_path,
        free_port(),  # nobody listens there: no broker
        command="api",
        CITYHUB_INGEST__REGISTRY_FILE=str(write_registry(tmp_path / "registry.json", REGISTRY)),
        CITYHUB_STORE__BACKEND="influxdb",
        CITYHUB_STORE__INFLUX_API="v1",
        CITYHUB_STORE__INFLUX_URL=influxd.url,
        CITYHUB_STORE__INFLUX_BUCKET=database,
        # The points are from May 2024 and this API's clock is the wall clock: kept forever,
        # they are still there to ask about (test_retention_api.py asks past the retention).
        CITYHUB_RETENTION__RAW_DAYS="0",
    ).start()
    try:
        ready = httpx.get(f"{api.base_url}/ready").json()
        assert ready == {"ready": True, "checks": {"store": {"ok": True, "backend": "influxdb"}}}
        with api.client(READ_KEY) as client:
            energy = client.get(
                "/api/v1/buildings/b-1/energy",
                params={
                    "every": "1h",
                    "start": "2024-05-13T22:00:00Z",
                    "end": "2024-05-14T01:00:00Z",
                },
            ).json()
            registry_change = client.put("/api/v1/devices/m-1", json={"tags": {}})
        assert [(w["time"], w["energy_kwh"]) for w in energy["windows"]] == [
            ("2024-05-13T23:00:00Z", 2.0),
            ("2024-05-14T00:00:00Z", 0.5),
        ]
        assert energy["total_kwh"] == 2.5
        assert registry_change.status_code == 403  # a read key; the admin gets a 409 below
        with api.client(ADMIN_KEY) as admin:
            refused = admin.put("/api/v1/devices/m-1", json={"tags": {}})
            letters = admin.get("/api/v1/dead-letters")
        assert refused.status_code == 409 and "replica" in refused.json()["detail"]
        assert letters.status_code == 503
        assert letters.headers["content-type"] == "application/problem+json"
    finally:
        api.stop()
