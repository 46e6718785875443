"""The DuckDB store appends a batch and merges it only when a key is stored already: a batch
that meets a stored key in any of its tables is rolled back and written again, merging, and
nothing in it is counted twice or lost (including the tables appended before the conflict
in the same transaction, and a table back to appending after its merging batches)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import hub.stores.duckdb
from hub.points import Point
from hub.query import AggregateQuery, Bucket, LatestQuery, LatestRow, SeriesResult
from hub.stores.duckdb import DuckDBStore

S = 1_000_000_000
T0 = 1_699_999_200 * S


def reading(measurement: str, device: str, second: int, **fields: float | str) -> Point:
    return Point(measurement, {"device": device}, dict(fields), T0 + second * S)


def totals(store: DuckDBStore, measurement: str, field: str) -> tuple[float, float]:
    [count] = store.aggregate(AggregateQuery(measurement, field, "count", T0, T0 + 3600 * S))
    [total] = store.aggregate(AggregateQuery(measurement, field, "sum", T0, T0 + 3600 * S))
    return count.buckets[0].value, total.buckets[0].value


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    duck = DuckDBStore(tmp_path / "append.duckdb")
    yield duck
    duck.close()


def test_a_batch_meeting_a_stored_key_is_written_once_merged(store: DuckDBStore) -> None:
    store.write([reading("meter", "m1", 0, energy_wh=10.0)])
    # "power" (new rows, a new table) comes first in the batch, so it is appended before the
    # stored key of "meter" is met: the rollback takes it back and the retry writes it once.
    batch = [
        reading("power", "p1", 0, power_w=1.0),
        reading("power", "p1", 1, power_w=2.0),
        reading("meter", "m1", 1, energy_wh=11.0),
        reading("meter", "m1", 0, status="ok"),  # the stored key: merged into its row
    ]
    assert store.write(batch) == []
    assert store.write(batch) == []  # a redelivery of the whole batch
    assert totals(store, "power", "power_w") == (2.0, 3.0)
    assert totals(store, "meter", "energy_wh") == (2.0, 21.0)
    assert store.latest(LatestQuery("meter", fields=("energy_wh", "status"))) == [
        LatestRow({"device": "m1"}, T0 + S, {"energy_wh": 11.0, "status": "ok"})
    ]
    [info] = [m for m in store.catalog().measurements if m.name == "meter"]
    assert info.points == 2


def test_a_table_back_to_appending_still_merges_a_redelivery(
    store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.stores.duckdb, "_MERGE_BATCHES", 2)
    first = [reading("meter", "m1", second, energy_wh=float(second)) for second in range(3)]
    store.write(first)
    store.write(first)  # met: merged, and so are the next two batches
    for second in range(3, 8):  # then appended again
        store.write([reading("meter", "m1", second, energy_wh=float(second))])
    store.write([*first, reading("meter", "m1", 8, energy_wh=8.0)])  # met again, appending
    assert totals(store, "meter", "energy_wh") == (9.0, 36.0)
    assert store.aggregate(
        AggregateQuery("meter", "energy_wh", "max", T0, T0 + 3600 * S, every_ns=3600 * S)
    ) == [SeriesResult({}, [Bucket(T0, 8.0)])]


def test_a_redelivery_meeting_stored_keys_in_two_tables_is_written_at_once(
    store: DuckDBStore,
) -> None:
    """Both tables appending, both meet stored keys: the retry merges into the first and
    meets the second's; it merges into both then, in the same write (the write used to fail
    once, an error counted and the batch retried by the pipeline)."""
    batch = [
        reading("power", "p1", 0, power_w=1.0),
        reading("meter", "m1", 0, energy_wh=10.0),
    ]
    assert store.write(batch) == []
    assert store.write(batch) == []  # a redelivery after a hub restart
    assert totals(store, "power", "power_w") == (1.0, 1.0)
    assert totals(store, "meter", "energy_wh") == (1.0, 10.0)


def test_a_redelivery_into_many_tables_ends_with_a_short_merging_budget(
    store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merging budget is spent by committed batches only: retries of one write do not
    spend it, so with a budget of one batch, three tables meeting stored keys are merged into
    in one write, with one retry per table (a budget spent per attempt sent the first tables
    back to appending: 7 attempts for 3 tables)."""
    monkeypatch.setattr(hub.stores.duckdb, "_MERGE_BATCHES", 1)
    batch = [reading(m, "d1", 0, value=1.0) for m in ("alpha", "beta", "gamma")]
    assert store.write(batch) == []
    attempts = []
    transaction = DuckDBStore._transaction
    monkeypatch.setattr(
        DuckDBStore,
        "_transaction",
        lambda self, con, rows: attempts.append(1) or transaction(self, con, rows),
    )
    assert store.write(batch) == []
    assert len(attempts) <= 4, f"{len(attempts)} attempts: at most one retry per table"
    assert [totals(store, m, "value") for m in ("alpha", "beta", "gamma")] == [(1.0, 1.0)] * 3
