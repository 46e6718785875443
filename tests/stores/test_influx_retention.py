"""Retention policies on a real InfluxDB 1.x: one per tier, created or altered at start-up,
left alone when right, and there after ``cityhub run`` started on InfluxDB."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hub.broker import Mosquitto
from hub.points import Point
from hub.query import AggregateQuery, PointsQuery
from hub.retention import Retention
from hub.rollups import RollupPlan, rollup_for
from hub.settings import Settings
from hub.stores import open_influxdb
from hub.stores.influx_retention import (
    ROLLUP_POLICY,
    PolicyKeeper,
    ensure_retention_policies,
    go_duration_ns,
)
from hub.stores.influxdb import InfluxDBStore
from tests.conftest import HubProcess, Publisher, fresh_database, wait_until, write_registry
from tests.servers_influx import RunningServer

pytestmark = pytest.mark.influxdb

H = 3600 * 10**9
D = 24 * H


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
    """The policies exist before ingest starts, so the first reading's rollups land in the
    ``rollups`` policy and the raw point in the raw one."""
    database = fresh_database(influxd)
    registry = write_registry(tmp_path / "registry.json", {"m-1": {"building": "b-1"}})
    hub = HubProcess(
        tmp_path,
        mosquitto.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
        CITYHUB_STORE__BACKEND="influxdb",
        CITYHUB_STORE__INFLUX_API="v1",
        CITYHUB_STORE__INFLUX_URL=influxd.url,
        CITYHUB_STORE__INFLUX_BUCKET=database,
        CITYHUB_RETENTION__RAW_DAYS="45",
        CITYHUB_RETENTION__ROLLUP_DAYS="730",
    ).start()
    publisher = Publisher(mosquitto.port)
    store = InfluxDBStore(influxd.url, database, api="v1")
    try:
        assert policies(influxd.url, database) == {
            "autogen": ("1080h0m0s", True),
            "rollups": ("17520h0m0s", False),
        }
        at_s = time.time() - 60
        publisher.publish_all(
            [("senml/m-1", json.dumps([{"bt": at_s, "n": "power", "u": "W", "v": 7.0}]))]
        )
        rollups = {"building_energy_15m", "building_energy_1h", "building_energy_1d"}
        wait_until(
            lambda: rollups <= _measurements(store, '"rollups"./.*/'),
            message="the rollups did not reach the rollups policy",
        )
        assert _measurements(store, '"autogen"./.*/') == {"building_energy"}
        assert "rollup_coverage" in _measurements(store, '"rollups"./.*/')
    finally:
        store.close()
        publisher.close()
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


PLAN = RollupPlan.from_labels({"energy": ["15m", "1h", "1d"]})


def _recent_points() -> list[Point]:
    """Two meters read every 10 minutes over the last two whole days (inside a 90-day
    raw policy, which refuses older points)."""
    start = time.time_ns() // D * D - 3 * D
    return [
        Point("energy", {"device": device}, {"e": base + step * 2.5, "p": float(step % 7)},
              start + step * 10 * 60 * 10**9)
        for device, base in (("a", 100.0), ("b", 7.0))
        for step in range(2 * 24 * 6)
    ]  # fmt: skip


def _rolled_store(influxd: RunningServer, database: str) -> InfluxDBStore:
    return InfluxDBStore(influxd.url, database, api="v1", rollups=PLAN, rollup_policy="rollups")


def _measurements(store: InfluxDBStore, source: str) -> set[str]:
    """The measurements holding points in ``source`` (a policy: ``"autogen"./.*/``)."""
    (answer,) = store.statements([f"SELECT COUNT(*) FROM {source} GROUP BY *"])
    return {block["name"] for block in answer}


def test_rollups_are_kept_in_their_policy_and_answer_after_the_raw_points_are_gone(
    influxd: RunningServer,
) -> None:
    """With retention set, raw points go to the raw policy (90 days) and rollups with their
    coverage to ``rollups`` (infinite): InfluxDB deletes by policy, so the placement is what
    keeps them. Dropping the raw points (what their policy does after 90 days) leaves the
    rollups answering as the raw points did."""
    database = fresh_database(influxd)
    store = _rolled_store(influxd, database)
    try:
        ensure_retention_policies(store, database, Retention(90, 0), None)
        points = _recent_points()
        assert store.write(points) == []
        rollups = {"energy_15m", "energy_1h", "energy_1d", "rollup_coverage"}
        assert _measurements(store, '"autogen"./.*/') == {"energy"}
        assert _measurements(store, '"rollups"./.*/') == rollups
        (rows,) = store.statements(['SELECT "e_count" FROM "rollups"."energy_1d" GROUP BY *'])
        assert sum(count for block in rows for _, count in block["values"]) == len(points)
        start = points[0].time_ns
        queries = [
            AggregateQuery("energy", "e", "increase", start, start + 2 * D, every_ns=D),
            AggregateQuery("energy", "p", "mean", start, start + 2 * D, every_ns=H,
                           group_by=("device",)),
            AggregateQuery("energy", "p", "max", start, start + 2 * D, every_ns=D),
            AggregateQuery("energy", "e", "last", start, start + 2 * D, every_ns=D),
        ]  # fmt: skip
        raw = InfluxDBStore(influxd.url, database, api="v1")  # reads raw points only
        from_raw = [raw.aggregate(query) for query in queries]
        raw.close()
        assert all(rollup_for(q, PLAN, store.rollup_coverage) is not None for q in queries)
        assert [store.aggregate(query) for query in queries] == from_raw
        assert from_raw[0][0].buckets[0].value > 0
        catalog = {m.name: m.points for m in store.catalog().measurements}
        assert catalog["energy"] == len(points) and catalog["energy_1d"] == 4
        store._coverage_written_ns -= 2 * D  # a day on: the records are written again, now
        assert store.write(points[:1]) == []
        (records,) = store.statements(['SELECT COUNT("since_ns") FROM "rollups"."rollup_coverage"'])
        assert records[0]["values"][0][1] == 2 * 3
        store.statements(['DROP SERIES FROM "energy"'])  # the raw policy's expiry, without waiting
        assert _measurements(store, '"autogen"./.*/') == set()
        reader = _rolled_store(influxd, database)  # a fresh process (`cityhub api`)
        daily = reader.points(PointsQuery("energy_1d", start, start + 2 * D))
        assert len(daily) == 4 and daily[0].fields["e_count"] == 2 * 24 * 6 / 2
        assert [reader.aggregate(query) for query in queries] == from_raw
        reader.close()
    finally:
        store.close()


def test_without_the_rollups_policy_rollups_fall_back_to_the_raw_policy_until_it_exists(
    influxd: RunningServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub's user could not create the policy (no admin rights): ingest goes on, rollups
    are kept beside the raw points (as before they had a policy) and the log names the setting
    and the statement. Once the policy exists, rollups go there, with their coverage recorded
    anew; answers stay those of the raw points throughout."""
    database = fresh_database(influxd)
    store = _rolled_store(influxd, database)
    points = _recent_points()
    first, second = points[:150], points[150:]
    start = points[0].time_ns
    query = AggregateQuery("energy", "e", "increase", start, start + 2 * D, every_ns=H)
    raw = InfluxDBStore(influxd.url, database, api="v1")
    try:
        with caplog.at_level("ERROR", logger="hub.stores.influxdb"):
            assert store.write(first) == []
        assert "CITYHUB_RETENTION__ROLLUP_DAYS" in caplog.text
        assert f'CREATE RETENTION POLICY "rollups" ON "{database}"' in caplog.text
        assert {"energy", "energy_1h", "rollup_coverage"} <= _measurements(store, "/.*/")
        store.ping()  # ready: the hub's user may read and write
        ensure_retention_policies(store, database, Retention(0, 0), None)
        monkeypatch.setattr("hub.stores.influxdb._POLICY_RECHECK_S", 0.0)
        assert store.write(second) == []
        assert {"energy_1h", "rollup_coverage"} <= _measurements(store, '"rollups"./.*/')
        assert store.rollup_coverage["energy_1h"] > second[-1].time_ns  # recorded anew
        assert store.aggregate(query) == raw.aggregate(query)
        assert store.aggregate(query)[0].buckets
    finally:
        raw.close()
        store.close()


@pytest.mark.parametrize(("api", "policy"), [("v1", ROLLUP_POLICY), ("v2", None)])
def test_rollups_have_their_policy_on_influxdb_1x_only(
    tmp_path: Path, api: str, policy: str | None
) -> None:
    """1.x: the policy :class:`PolicyKeeper` manages; 2.x and 3.x: the bucket, as before."""
    settings = Settings(
        mode="test",
        data_dir=tmp_path,
        store={"backend": "influxdb", "influx_api": api, "influx_bucket": "b"},  # type: ignore[arg-type]
    )
    store = open_influxdb(settings)
    assert store._wanted_policy == policy
    store.close()


def test_a_rollup_row_the_server_refuses_is_logged_and_does_not_stall_ingest(
    influxd: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Rollup rows start before the raw points they hold: with a rollups policy of one hour,
    the rows of points two hours old lie beyond it and InfluxDB refuses them. The raw points
    are stored and the write returns (it used to raise, and the spool forwarder retried the
    batch forever); the log says which row and which setting to check."""
    database = fresh_database(influxd)
    store = _rolled_store(influxd, database)
    try:
        store.statements(
            [f'CREATE RETENTION POLICY "rollups" ON "{database}" DURATION 1h REPLICATION 1']
        )
        now = time.time_ns() // H * H
        points = [Point("energy", {"device": "a"}, {"e": 1.0 + i}, now - 2 * H + i * 10**9)
                  for i in range(3)]  # fmt: skip
        with caplog.at_level("ERROR", logger="hub.stores.influxdb"):
            assert store.write(points) == []
        assert "InfluxDB refused the rollup row energy_" in caplog.text
        assert "CITYHUB_RETENTION__ROLLUP_DAYS" in caplog.text
        (rows,) = store.statements(['SELECT COUNT("e") FROM "autogen"."energy"'])
        assert rows[0]["values"][0][1] == 3
    finally:
        store.close()
