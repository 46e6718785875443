"""Bus answers over HTTP from rollups: two real hubs (``cityhub run``, DuckDB), one on a file
whose bus fixes of two days are gone but for their hourly and daily rollups (the default plan
keeps them), one on a file holding every raw fix with rollups off. ``/api/v1/buses/speed``
and the bus-km of ``/api/v1/city/carbon`` answer the same from both: the first hub can only
have answered from the rollups."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from hub.broker import Mosquitto
from hub.insights.context import format_time
from hub.points import Point
from hub.retention import DAY_NS
from hub.settings import RollupSettings
from hub.stores.duckdb import DuckDBStore
from tests.conftest import HubProcess

S = 1_000_000_000
VEHICLES = {  # device: (propulsion, odometer?)
    "bus-1": ("electric", True),
    "bus-2": ("diesel", False),  # switches from route 4 to route 7 at noon
}


def fixes(start_ns: int) -> list[Point]:
    """Two days of fixes every 7 minutes, then one more each 3 hours later (the newest fix:
    what tells bus-km which vehicles there are)."""
    points = []
    for device, (propulsion, odometer) in VEHICLES.items():
        for step in range(2 * 24 * 60 // 7):
            time_ns = start_ns + step * 7 * 60 * S
            route = "7" if device == "bus-2" and step * 7 >= 12 * 60 else "4"
            fields = {
                "latitude": 52.5 + (step % 13) / 400,
                "longitude": 13.4 + (step % 17) / 300,
                "speed_mps": float(step % 9) + 0.25,
            }
            if odometer:
                fields["odometer_m"] = 1_000_000.0 + step * 450
            tags = {"device": device, "route": route, "propulsion": propulsion}
            points.append(Point("bus_position", tags, fields, time_ns))
        points.append(Point("bus_position", tags, fields, start_ns + 2 * DAY_NS + 3 * 3600 * S))
    return points


def seeded(folder: Path, points: list[Point], rolled: bool) -> Path:
    database = folder / "hub-data" / "cityhub.duckdb"
    plan = RollupSettings().plan() if rolled else None
    store = DuckDBStore(database, rollups=plan, rollup_flush_s=0.0)
    assert store.write(points) == []
    store.close()
    return database


def test_bus_speed_and_km_from_rollups_over_http(tmp_path: Path, mosquitto: Mosquitto) -> None:
    now_ns = time.time_ns()
    start_ns = now_ns - now_ns % DAY_NS - 3 * DAY_NS
    end_ns = start_ns + 2 * DAY_NS
    points = fixes(start_ns)
    rolled_file = seeded(tmp_path / "rolled", points, rolled=True)
    seeded(tmp_path / "raw", points, rolled=False)
    with duckdb.connect(str(rolled_file)) as con:  # the two days' raw fixes go
        con.execute("DELETE FROM bus_position WHERE epoch_ns(time) < ?", [end_ns])
        assert con.execute("SELECT count(*) FROM bus_position").fetchone() == (2,)
    rolled = HubProcess(tmp_path / "rolled", mosquitto.port)
    raw = HubProcess(tmp_path / "raw", mosquitto.port, CITYHUB_ROLLUPS__ENABLED="false")
    period = {"start": format_time(start_ns), "end": format_time(end_ns)}
    answers = []
    for hub in (rolled, raw):
        hub.start()
        try:
            with hub.client() as client:
                speed = client.get("/api/v1/buses/speed", params={**period, "every": "1h"})
                carbon = client.get("/api/v1/city/carbon", params=period)
        finally:
            hub.stop()
        assert (speed.status_code, carbon.status_code) == (200, 200), (speed.text, carbon.text)
        answers.append((speed.json(), carbon.json()))
    (rolled_speed, rolled_carbon), (raw_speed, raw_carbon) = answers
    assert rolled_speed == raw_speed
    assert {w["route"] for w in raw_speed["windows"]} == {"4", "7"}
    assert len(raw_speed["windows"]) == 48 + 36  # route 7 from noon of the first day
    assert len(raw_carbon["days"]) == 2
    for rolled_day, raw_day in zip(rolled_carbon["days"], raw_carbon["days"], strict=True):
        for kind in ("electric_bus_km", "diesel_bus_km"):
            assert raw_day[kind] > 10  # the odometer's (bus-1), the fixes' path (bus-2)
            assert rolled_day[kind] == pytest.approx(raw_day[kind], abs=1e-3)  # 3 decimals
