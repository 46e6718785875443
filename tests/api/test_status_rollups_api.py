"""Utilization over HTTP from the status rollups: the real hub (``cityhub run``, DuckDB,
default rollups) on a file holding a connector's statuses of six weeks ago, whose raw points
its retention deletes at the start; the daily windows of those weeks are then answered from
the rollups alone, equal to what the raw reports gave before they went, and windows the
rollups do not make are refused naming the retention."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from hub.broker import Mosquitto
from hub.devices import DeviceRegistry
from hub.insights.chargers import utilization_windows
from hub.insights.context import Context
from hub.points import Point
from hub.query import PointsQuery
from hub.retention import DAY_NS
from hub.settings import InsightsSettings, RollupSettings
from hub.stores.duckdb import DuckDBStore
from tests.conftest import HubProcess, wait_until

S = 1_000_000_000
H = 3600 * S


def history(day0: int) -> list[Point]:
    """Four days of a connector (and a second one that starts charging on day 2), with
    reports at odd seconds, and one report today."""
    one = {"device": "cp-1", "site": "s-1", "district": "harbour", "connector": "1"}
    two = {**one, "connector": "2"}
    reports = [
        (one, 0 * H + 17 * S, "Available"),
        (one, 7 * H + 3 * S, "Charging"),
        (one, 9 * H + 41 * S, "Finishing"),
        (one, 10 * H, "Available"),
        (two, 30 * H + 5 * S, "Preparing"),
        (two, 31 * H, "Charging"),
        (one, 50 * H + 11 * S, "Faulted"),
        (two, 75 * H + 59 * S, "Available"),
        (one, 80 * H, "Available"),
    ]
    return [Point("charger_status", tags, {"status": s}, day0 + t) for tags, t, s in reports]


def iso(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, tz=UTC).isoformat()


def test_utilization_before_the_raw_horizon_is_answered_from_the_status_rollups(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    now_ns = time.time_ns()
    day0 = (now_ns - 42 * DAY_NS) // DAY_NS * DAY_NS
    start, end = day0 + DAY_NS, day0 + 5 * DAY_NS
    hub = HubProcess(tmp_path, mosquitto.port, CITYHUB_RETENTION__RAW_DAYS="30")
    database = hub.data_dir / "cityhub.duckdb"
    seed = DuckDBStore(database, rollups=RollupSettings().plan())
    recent = {"device": "cp-1", "site": "s-1", "district": "harbour", "connector": "1"}
    today = Point("charger_status", recent, {"status": "Available"}, now_ns - H)
    assert seed.write([*history(day0), today]) == []
    raw = Context(seed, DeviceRegistry(), InsightsSettings(), 100_000, now_ns)
    expected = utilization_windows(raw, {}, start, end, DAY_NS, "1d").model_dump(mode="json")
    seed.close()
    assert [w["connectors"] for w in expected["windows"]] == [2, 2, 2, 2]  # a real history
    hub.start()
    try:
        with hub.client() as client:

            def raw_gone() -> bool:
                store = client.get("/api/v1/catalog").json()["measurements"]
                [status] = [m for m in store if m["name"] == "charger_status"]
                return datetime.fromisoformat(status["first"]).timestamp() * S > end

            wait_until(raw_gone, message="the old status reports are still there")
            params = {"start": iso(start), "end": iso(end)}
            daily = client.get("/api/v1/chargers/utilization", params={**params, "every": "1d"})
            assert daily.status_code == 200, daily.text
            assert daily.json()["windows"] == expected["windows"]
            odd = client.get("/api/v1/chargers/utilization", params={**params, "every": "30m"})
            assert odd.status_code == 400
            assert "CITYHUB_RETENTION__RAW_DAYS" in odd.json()["detail"]
            assert "CITYHUB_ROLLUPS__STATUS_INTERVALS" in odd.json()["detail"]
    finally:
        hub.stop()
    left = DuckDBStore(database)
    try:
        assert left.points(PointsQuery("charger_status", 0, end)) == []
    finally:
        left.close()
