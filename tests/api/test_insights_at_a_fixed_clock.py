"""The insights' answers about "now" and "today" at a pinned clock: five minutes after
midnight, the hour a wall-clock test would have to sleep through. Real DuckDB file, real
app; the clock is the only part pinned."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.api.deps import get_clock
from hub.devices import DeviceRegistry
from hub.insights.buildings import building_list
from hub.insights.chargers import status_board
from hub.insights.context import Context
from hub.insights.overview import overview
from hub.settings import InsightsSettings
from hub.stores.duckdb import DuckDBStore
from hub.timestamps import FixedClock
from tests.api.inprocess import ADMIN, NOW_S, REGISTRY, M, S, city_app, city_points


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    store = DuckDBStore(tmp_path_factory.mktemp("fixed") / "city.duckdb")
    store.write(city_points())
    yield store
    store.close()


def at(store: DuckDBStore, now_s: int) -> Context:
    return Context(store, DeviceRegistry(REGISTRY), InsightsSettings(), 1000, now_s * S)


def test_today_starts_at_the_clocks_midnight(store: DuckDBStore) -> None:
    [b1] = building_list(at(store, NOW_S)).buildings
    # the register read 12000 Wh a minute before midnight and 12500 Wh at 00:02
    assert (b1.building, b1.power_w, b1.energy_today_kwh, b1.stale) == ("b-1", 2000.0, 0.5, False)
    assert b1.as_of.timestamp() == M + 120
    # a minute before midnight "today" is the day before: 2.0 kWh from 23:00 to 23:59
    [before] = building_list(at(store, M - 30)).buildings
    assert before.energy_today_kwh == 2.0


def test_overview_and_board_at_the_clock(store: DuckDBStore) -> None:
    now = overview(at(store, NOW_S))
    assert now.day_start.timestamp() == M
    assert (now.chargers.charging, now.chargers.energy_today_kwh) == (1, 3.0)
    assert (now.buses.vehicles, now.buses.reporting) == (1, 1)  # its fix is 60 s old
    later = overview(at(store, NOW_S + 3600))  # an hour on, nothing new arrived
    assert (later.buses.reporting, later.buses.stale) == (0, 1)
    [connector] = status_board(at(store, NOW_S), {}).connectors
    assert (connector.status, connector.since.timestamp()) == ("Charging", M - 600)


def test_the_app_takes_its_clock_from_one_override(tmp_path: Path) -> None:
    app, store, letters = city_app(tmp_path)
    app.dependency_overrides[get_clock] = lambda: FixedClock((M - 30) * S)

    async def ask() -> dict:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            response = await client.get("/api/v1/city/overview", headers={"X-API-Key": ADMIN})
        return response.json()

    try:
        answer = asyncio.run(ask())
    finally:
        store.close()
        letters.close()
    assert answer["day_start"] == "2024-05-13T00:00:00Z"
    assert answer["buildings"]["energy_today_kwh"] == 2.0
