"""Retention over HTTP: the real hub (``cityhub run``, DuckDB) deletes raw points past
``CITYHUB_RETENTION__RAW_DAYS`` in the background from its start, and a question about the
period they covered is a 400 problem document naming the retention, never the part that
is left."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from hub.broker import Mosquitto
from hub.points import Point
from hub.query import PointsQuery
from hub.retention import DAY_NS
from hub.rollups import RollupPlan
from hub.stores.duckdb import DuckDBStore
from tests.conftest import ADMIN_KEY, HubProcess, Publisher, wait_until, write_registry

HOUR_NS = 3600 * 1_000_000_000


def meter(days_ago: float, now_ns: int, power_w: float) -> Point:
    time_ns = (now_ns - int(days_ago * DAY_NS)) // HOUR_NS * HOUR_NS
    tags = {"device": "m-1", "building": "b-1", "district": "harbour"}
    return Point("building_energy", tags, {"power_w": power_w}, time_ns)


def seeded_hub(
    tmp_path: Path, mosquitto: Mosquitto, now_ns: int, rollups: RollupPlan | None = None
) -> tuple[HubProcess, Path]:
    """A hub keeping raw points 30 days, on a file holding a 40- and a 10-day-old reading."""
    hub = HubProcess(tmp_path, mosquitto.port, CITYHUB_RETENTION__RAW_DAYS="30")
    database = hub.data_dir / "cityhub.duckdb"
    seed = DuckDBStore(database, rollups=rollups)
    assert seed.write([meter(40, now_ns, 4000.0), meter(10, now_ns, 1000.0)]) == []
    seed.close()
    return hub, database


def raw_power_left(database: Path, now_ns: int) -> list[object]:
    store = DuckDBStore(database)
    try:
        rows = store.points(PointsQuery("building_energy", 0, now_ns))
    finally:
        store.close()
    return [row.fields["power_w"] for row in rows]


def test_old_raw_points_go_and_questions_about_them_are_refused_by_name(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    now_ns = time.time_ns()
    hub, database = seeded_hub(tmp_path, mosquitto, now_ns)
    hub.start()
    try:
        with hub.client() as client:

            def oldest_kept() -> datetime:
                [energy] = [
                    m
                    for m in client.get("/api/v1/catalog").json()["measurements"]
                    if m["name"] == "building_energy"
                ]
                return datetime.fromisoformat(energy["first"])

            # the sweep at the start deletes the 40-day-old point
            horizon = datetime.fromtimestamp((now_ns - 30 * DAY_NS) / 1e9, tz=UTC)
            wait_until(lambda: oldest_kept() > horizon, message="the old point is still there")
            params = {"measurement": "building_energy", "field": "power_w", "fn": "max"}
            refused = client.get("/api/v1/aggregate", params={**params, "start": "-45d"})
            assert refused.status_code == 400
            assert refused.headers["content-type"] == "application/problem+json"
            problem = refused.json()
            assert problem["parameter"] == "start"
            assert problem["detail"].startswith(
                "raw points are kept 30 days (CITYHUB_RETENTION__RAW_DAYS); start="
            )
            peak = client.get("/api/v1/buildings/b-1/peak", params={"start": "-31d"})
            assert (peak.status_code, peak.json()["parameter"]) == (400, "start")
            kept = client.get("/api/v1/aggregate", params={**params, "start": "-29d"})
            assert kept.status_code == 200
            [series] = kept.json()["series"]
            assert [p["value"] for p in series["points"]] == [1000.0]
    finally:
        hub.stop()
    assert raw_power_left(database, now_ns) == [1000.0]


def test_a_question_before_the_raw_horizon_is_answered_from_the_rollups(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    now_ns = time.time_ns()
    plan = RollupPlan.from_labels({"building_energy": ["15m", "1h", "1d"]})  # the default
    hub, database = seeded_hub(tmp_path, mosquitto, now_ns, plan)
    hub.start()
    try:
        with hub.client() as client:
            # daily maxima from a day boundary 45 days back: before the horizon only daily
            # rollups are read, so the 40-day-old reading counts although its raw point went
            start_ns = (now_ns - 45 * DAY_NS) // DAY_NS * DAY_NS
            start = datetime.fromtimestamp(start_ns / 1e9, tz=UTC).isoformat()
            params = {"measurement": "building_energy", "field": "power_w", "fn": "max"}
            daily = client.get(
                "/api/v1/aggregate", params={**params, "start": start, "every": "1d"}
            )
            assert daily.status_code == 200, daily.text
            [series] = daily.json()["series"]
            assert [p["value"] for p in series["points"]] == [4000.0, 1000.0]
            # a window the rollups do not make (20 minutes) needs the raw points: refused
            odd = client.get("/api/v1/aggregate", params={**params, "start": start, "every": "20m"})
            assert odd.status_code == 400
            assert "CITYHUB_RETENTION__RAW_DAYS" in odd.json()["detail"]
            assert "rollup" in odd.json()["detail"]
            # peak demand too: its whole 15-minute windows before the horizon from the rollups
            peak = client.get(
                "/api/v1/buildings/b-1/peak", params={"start": start, "window": "15m"}
            )
            assert peak.status_code == 200, peak.text
            assert peak.json()["peak_w"] == 4000.0
            # a start inside a window before the horizon: that window needs raw points
            cut = client.get("/api/v1/buildings/b-1/peak", params={"start": "-45d"})
            assert cut.status_code == 400
            assert "CITYHUB_RETENTION__RAW_DAYS" in cut.json()["detail"]
            # and the raw point is really gone from the file
            wait_until(
                lambda: (
                    client.get("/api/v1/aggregate", params={**params, "start": "-29d"}).json()[
                        "series"
                    ][0]["points"][0]["value"]
                    == 1000.0
                ),
                message="no answer within the raw horizon",
            )
    finally:
        hub.stop()
    assert raw_power_left(database, now_ns) == [1000.0]


def test_a_reading_older_than_the_raw_retention_is_a_dead_letter_naming_it(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    registry = write_registry(tmp_path / "registry.json", {"m-1": {"building": "b-1"}})
    hub = HubProcess(
        tmp_path,
        mosquitto.port,
        CITYHUB_RETENTION__RAW_DAYS="30",
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
    ).start()
    now_s = time.time()
    try:
        publisher = Publisher(mosquitto.port, "late-publisher")
        publisher.publish_all(
            [
                (
                    "senml/m-1",
                    json.dumps([{"bt": now_s - 31 * 86_400, "n": "power", "u": "W", "v": 7.0}]),
                ),
                (
                    "senml/m-1",
                    json.dumps([{"bt": now_s - 28 * 86_400, "n": "power", "u": "W", "v": 9.0}]),
                ),
            ]
        )
        publisher.close()
        with hub.client() as client:
            client.headers["X-API-Key"] = ADMIN_KEY
            letters = wait_until(
                lambda: client.get("/api/v1/dead-letters").json()["dead_letters"],
                message="no dead letter for the old reading",
            )
            [letter] = letters
            assert letter["reason"] == "beyond_retention"
            assert "CITYHUB_RETENTION__RAW_DAYS" in letter["detail"]
            params = {"measurement": "building_energy", "field": "power_w", "fn": "max"}
            kept = wait_until(
                lambda: client.get("/api/v1/aggregate", params={**params, "start": "-29d"}).json()[
                    "series"
                ],
                message="the reading within the retention was not stored",
            )
            assert [p["value"] for p in kept[0]["points"]] == [9.0]
    finally:
        hub.stop()
