"""Retention on a real DuckDB file: a sweep deletes points older than their tier keeps (raw
points ``raw_days``, rollups ``rollup_days``) at a fixed clock, in chunks between which
ingest batches are written."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from hub.points import Point
from hub.query import LatestQuery, PointsQuery
from hub.retention import DAY_NS, Retention
from hub.stores.duckdb import DuckDBStore
from hub.stores.duckdb_retention import RetentionSweeper
from hub.timestamps import FixedClock

NOW = 1_790_000_000 * 1_000_000_000  # 2026-09-22
S = 1_000_000_000


def power(measurement: str, device: str, days_ago: float) -> Point:
    return Point(
        measurement, {"device": device}, {"power_w": days_ago}, NOW - int(days_ago * DAY_NS)
    )


def days_kept(store: DuckDBStore, measurement: str) -> list[float]:
    rows = store.points(PointsQuery(measurement, 0, NOW + 1))
    return [float(row.fields["power_w"]) for row in rows]  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    duck = DuckDBStore(tmp_path / "retention.duckdb")
    yield duck  # type: ignore[misc]
    duck.close()


ROLLUPS = frozenset({"energy_1h", "energy_15m"})


def test_the_rollups_are_the_plans_names() -> None:
    retention = Retention(90, 365, frozenset({"building_energy_1h", "building_energy_1d"}))
    assert retention.is_rollup("building_energy_1h")
    assert retention.is_rollup("building_energy_1d")
    assert retention.is_rollup("rollup_coverage")
    assert not retention.is_rollup("building_energy")
    assert not retention.is_rollup("tram_1h")  # not a rollup the plan names


def test_a_sweep_deletes_raw_points_past_raw_days_and_rollups_past_rollup_days(
    store: DuckDBStore,
) -> None:
    store.write([power("energy", "m1", d) for d in (400, 100, 90.001, 89.999, 1)])
    store.write([power("energy", "gone", 95)])  # a meter silent for 95 days
    store.write([power("energy_1h", "m1", d) for d in (400, 366, 364, 100, 1)])
    store.write([power("energy_15m", "m1", d) for d in (366, 100)])
    assert {row.tags["device"] for row in store.latest(LatestQuery("energy"))} == {"m1", "gone"}
    sweeper = RetentionSweeper(store, Retention(90, 365, ROLLUPS), FixedClock(NOW), chunk_rows=2)
    assert sweeper.sweep() == {"energy": 4, "energy_1h": 2, "energy_15m": 1}
    assert days_kept(store, "energy") == [89.999, 1.0]
    assert days_kept(store, "energy_1h") == [364.0, 100.0, 1.0]
    assert days_kept(store, "energy_15m") == [100.0]
    # the meter whose every point went is no longer among the latest values
    assert [row.tags["device"] for row in store.latest(LatestQuery("energy"))] == ["m1"]
    assert sweeper.sweep() == {}  # nothing older left


def test_the_latest_values_after_a_sweep_are_what_the_file_holds(tmp_path: Path) -> None:
    path = tmp_path / "latest.duckdb"
    store = DuckDBStore(path)
    tags = {"device": "m1"}
    store.write(
        [
            Point("energy", tags, {"voltage_v": 230.0}, NOW - 95 * DAY_NS),  # only this old
            Point("energy", tags, {"power_w": 5.0}, NOW - 95 * DAY_NS + 1),
            Point("energy", tags, {"power_w": 7.0}, NOW - DAY_NS),
            Point("energy", {"device": "m2"}, {"power_w": 1.0}, NOW - 99 * DAY_NS),
        ]
    )
    before = store.latest(LatestQuery("energy"))  # loads the index before the sweep
    assert [row.fields for row in before] == [
        {"power_w": 7.0, "voltage_v": 230.0},
        {"power_w": 1.0},
    ]
    RetentionSweeper(store, Retention(90, 0), FixedClock(NOW), chunk_rows=1).sweep()
    swept = store.latest(LatestQuery("energy"))
    store.close()
    reopened = DuckDBStore(path)  # its index is loaded from the table
    try:
        assert swept == reopened.latest(LatestQuery("energy"))
        assert [row.fields for row in swept] == [{"power_w": 7.0}]
    finally:
        reopened.close()


def test_zero_days_keeps_a_tier_forever(store: DuckDBStore) -> None:
    store.write([power("energy", "m1", 4000), power("energy_1h", "m1", 4000)])
    assert RetentionSweeper(store, Retention(0, 0), FixedClock(NOW)).sweep() == {}
    assert RetentionSweeper(store, Retention(90, 0, ROLLUPS), FixedClock(NOW)).sweep() == {
        "energy": 1
    }
    assert days_kept(store, "energy_1h") == [4000.0]


def test_ingest_keeps_writing_while_the_background_sweep_deletes(store: DuckDBStore) -> None:
    """Each chunk of the sweep waits, after it committed, until a batch is written: a sweep
    that held the write lock across chunks would stall both (and fail the test)."""
    old = [
        Point("energy", {"device": f"m{i % 50}"}, {"power_w": 1.0}, NOW - 200 * DAY_NS + i * S)
        for i in range(20_000)
    ]
    store.write(old)
    written = threading.Event()
    chunks_waited: list[bool] = []

    def after_chunk(measurement: str, deleted: int) -> None:
        written.clear()
        chunks_waited.append(written.wait(30))

    sweeper = RetentionSweeper(
        store, Retention(90, 0), FixedClock(NOW), chunk_rows=1_000, on_chunk=after_chunk
    )
    sweeper.start()
    batches = 0
    try:
        while sweeper.deleted < len(old) and batches < 10_000:
            batch = [
                Point("energy", {"device": f"m{d}"}, {"power_w": 2.0}, NOW - batches * S)
                for d in range(10)
            ]
            assert store.write(batch) == []
            batches += 1
            written.set()
    finally:
        written.set()
        sweeper.stop()
    assert sweeper.deleted == len(old)
    assert len(chunks_waited) >= 20 and all(chunks_waited)  # a batch went in after every chunk
    assert days_kept(store, "energy") == [2.0] * (10 * batches)
