"""The real API app over a real DuckDB file holding a small city, at a fixed clock.

For tests that need the app but not the ingest: the schema fuzzing and the insights'
answers at a pinned "now" (00:05 UTC: the hour a wall-clock test would have to dodge).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from hub.api.app import create_app
from hub.api.deps import ApiParts
from hub.deadletters import DeadLetter, DeadLetterLog
from hub.devices import DeviceRegistry
from hub.points import Point
from hub.readiness import Readiness, store_checks
from hub.settings import Settings
from hub.stores.duckdb import DuckDBStore
from hub.timestamps import FixedClock

S = 1_000_000_000
M = 1_715_644_800  # 2024-05-14T00:00:00Z, the last midnight
NOW_S = M + 5 * 60  # five minutes into the day
ADMIN = "fuzz-admin-key-0123456789"
REGISTRY = {
    "m-1": {"building": "b-1", "district": "harbour"},
    "cp-1": {"site": "s-1", "district": "harbour"},
    "bus-1": {"propulsion": "electric"},
}


def city_points() -> list[Point]:
    meter = {"device": "m-1", "building": "b-1", "district": "harbour"}
    charger = {"device": "cp-1", "site": "s-1", "district": "harbour", "connector": "1"}
    bus = {"device": "bus-1", "route": "12", "propulsion": "electric"}
    return [
        # b-1: 2.0 kWh yesterday evening, 0.5 kWh in today's first minutes
        Point("building_energy", meter, {"power_w": 1000.0, "energy_import_wh": 10_000.0},
              (M - 3600) * S),
        Point("building_energy", meter, {"power_w": 3000.0, "energy_import_wh": 12_000.0},
              (M - 60) * S),
        Point("building_energy", meter, {"power_w": 2000.0, "energy_import_wh": 12_500.0},
              (M + 120) * S),
        Point("charger_status", charger, {"status": "Available", "error_code": "NoError"},
              (M - 7200) * S),
        Point("charger_status", charger, {"status": "Charging", "error_code": "NoError"},
              (M - 600) * S),
        Point("charger_meter", charger, {"energy_import_wh": 1000.0}, (M - 600) * S),
        Point("charger_meter", charger, {"energy_import_wh": 4000.0}, (M + 60) * S),
        Point("bus_position", bus, {"latitude": 52.5, "longitude": 13.4, "speed_mps": 8.0,
                                    "odometer_m": 1000.0}, (M - 1800) * S),
        Point("bus_position", bus, {"latitude": 52.51, "longitude": 13.4, "speed_mps": 6.0,
                                    "odometer_m": 2200.0}, (M + 240) * S),
    ]  # fmt: skip


def city_app(tmp: Path, **settings: object) -> tuple[FastAPI, DuckDBStore, DeadLetterLog]:
    """The app at ``NOW_S``; the caller closes the store and the log."""
    config = Settings(
        mode="test",
        data_dir=tmp,
        api={"admin_keys": [ADMIN], "read_keys": [ADMIN], "max_points": 1000},
        **settings,  # type: ignore[arg-type]
    )
    store = DuckDBStore(tmp / "city.duckdb")
    store.write(city_points())
    letters = DeadLetterLog(tmp / "dead.sqlite")
    letters.append(
        [DeadLetter("senml/m-9", b"[", "senml", "invalid_json", "no JSON", (M - 60) * S)]
    )
    parts = ApiParts(
        store=store,
        registry=DeviceRegistry(REGISTRY),
        readiness=lambda: Readiness.of(store_checks(store, "duckdb", 1)),
        deadletters=letters,
        clock=FixedClock(NOW_S * S),
    )
    return create_app(config, parts), store, letters
