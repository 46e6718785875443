"""Retention policies on a real InfluxDB 1.x: one per tier, created or altered at start-up,
left alone when right, and there after ``cityhub run`` started on InfluxDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.broker import Mosquitto
from hub.retention import Retention
from hub.stores.influx_retention import PolicyKeeper, ensure_retention_policies, go_duration_ns
from hub.stores.influxdb import InfluxDBStore
from tests.conftest import HubProcess, fresh_database
from tests.servers_influx import RunningServer

pytestmark = pytest.mark.influxdb

H = 3600 * 10**9


def policies(url: str, database: str) -> dict[str, tuple[str, bool]]:
    """Name -> (duration as InfluxDB shows it, default)."""
    store = InfluxDBStore(url, database, api="v1")
    try:
        (answer,) = store.statements([f'SHOW RETENTION POLICIES ON "{database}"'])
    finally:
        store.close()
    return {
        name: (duration, default)
        for block in answer
        for name, duration, _shard, _replicas, default in block["values"]
    }


def test_go_durations() -> None:
    assert go_duration_ns("2160h0m0s") == 2160 * H
    assert go_duration_ns("0s") == 0
    assert go_duration_ns("1h30m0s") == 90 * 60 * 10**9


def test_the_tiers_are_created_then_checked_then_altered(influxd: RunningServer) -> None:
    database = fresh_database(influxd)
    assert policies(influxd.url, database) == {"autogen": ("0s", True)}
    store = InfluxDBStore(influxd.url, database, api="v1")
    try:
        ran = ensure_retention_policies(store, database, Retention(90, 0), None)
        assert ran == [
            f'ALTER RETENTION POLICY "autogen" ON "{database}" DURATION 90d',
            f'CREATE RETENTION POLICY "rollups" ON "{database}" DURATION INF REPLICATION 1',
        ]
        assert policies(influxd.url, database) == {
            "autogen": ("2160h0m0s", True),  # raw points stay in the default policy
            "rollups": ("0s", False),
        }
        assert ensure_retention_policies(store, database, Retention(90, 0), None) == []
        ensure_retention_policies(store, database, Retention(30, 400), "raw")
        assert policies(influxd.url, database) == {
            "autogen": ("2160h0m0s", True),  # not the hub's raw policy any more
            "raw": ("720h0m0s", False),
            "rollups": ("9600h0m0s", False),
        }
        ensure_retention_policies(store, database, Retention(0, 0), "raw")
        assert policies(influxd.url, database)["raw"] == ("0s", False)
    finally:
        store.close()


def test_cityhub_run_on_influxdb_sets_the_policies_at_start_up(
    tmp_path: Path, mosquitto: Mosquitto, influxd: RunningServer
) -> None:
    database = fresh_database(influxd)
    hub = HubProcess(
        tmp_path,
        mosquitto.port,
        CITYHUB_STORE__BACKEND="influxdb",
        CITYHUB_STORE__INFLUX_API="v1",
        CITYHUB_STORE__INFLUX_URL=influxd.url,
        CITYHUB_STORE__INFLUX_BUCKET=database,
        CITYHUB_RETENTION__RAW_DAYS="45",
        CITYHUB_RETENTION__ROLLUP_DAYS="730",
    ).start()
    try:
        assert policies(influxd.url, database) == {
            "autogen": ("1080h0m0s", True),
            "rollups": ("17520h0m0s", False),
        }
    finally:
        hub.stop()


def test_a_missing_database_is_not_checked_yet_and_does_not_stop_the_hub(
    influxd: RunningServer,
) -> None:
    keeper = PolicyKeeper(
        lambda: InfluxDBStore(influxd.url, "no_such_database", api="v1"),
        "no_such_database",
        Retention(90, 0),
        None,
    )
    keeper.try_now()  # logged: /ready names the database (the store's own ping)
    assert keeper.done is False
