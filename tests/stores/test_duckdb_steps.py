"""DuckDB rollups store each row's counter step from the series' previous reading
(:mod:`hub.stores.duckdb_steps`): a point that arrives late, or again with another value,
changes the step of the *next* interval holding a reading, which the flush must restep at every
level. Each answer is compared with a store of raw points, and checked by hand where a wrong
step would show."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from hub.points import Point
from hub.query import AggregateQuery, SeriesResult
from hub.rollups import RollupPlan, rollup_for
from hub.stores.duckdb import DuckDBStore

S = 1_000_000_000
M = 60 * S
H = 60 * M
D = 24 * H
T0 = 1_699_920_000 * S  # a whole day (2023-11-14 00:00 UTC)
PLAN = RollupPlan.from_labels({"m": ["15m", "1h", "1d"]})


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[DuckDBStore, DuckDBStore]]:
    """A store rolling up after every batch, and one of raw points."""
    rolled = DuckDBStore(tmp_path / "rolled.duckdb", rollups=PLAN, rollup_flush_s=0.0)
    raw = DuckDBStore(tmp_path / "raw.duckdb")
    yield rolled, raw
    rolled.close()
    raw.close()


def reading(at_ns: int, wh: float, device: str = "d1") -> Point:
    return Point("m", {"device": device}, {"e": wh}, at_ns)


def write(stores: tuple[DuckDBStore, DuckDBStore], points: list[Point]) -> None:
    for store in stores:
        assert store.write(points) == []


def increase(
    stores: tuple[DuckDBStore, DuckDBStore], start_ns: int, end_ns: int, every_ns: int
) -> list[float]:
    """The increase per window from the rollup (checked to be read from one), which must be
    what raw points answer."""
    rolled, raw = stores
    query = AggregateQuery("m", "e", "increase", start_ns, end_ns, every_ns=every_ns)
    assert rollup_for(query, PLAN, rolled.rollup_coverage) is not None
    answer = rolled.aggregate(query)
    assert answer == raw.aggregate(query), query
    return [bucket.value for series in answer for bucket in series.buckets]


def every_window(stores: tuple[DuckDBStore, DuckDBStore]) -> None:
    """Every range of whole days, hours and quarters over the data: as raw points answer."""
    for every in (D, H, 15 * M):
        for start in range(T0, T0 + 3 * D, every if every == D else 6 * H):
            increase(stores, start, T0 + 3 * D, every)


def test_a_late_point_changes_the_next_intervals_step(
    stores: tuple[DuckDBStore, DuckDBStore],
) -> None:
    write(stores, [reading(T0 + 6 * H, 1000), reading(T0 + 18 * H, 1100)])
    write(stores, [reading(T0 + 2 * D + 6 * H, 1300), reading(T0 + 2 * D + 18 * H, 1400)])
    # the third day's step is from the first day's last reading: counted when that reading
    # is in the lookback (a day) before the range, not when it is older
    assert increase(stores, T0 + D, T0 + 3 * D, D) == [300.0]
    assert increase(stores, T0 + 2 * D, T0 + 3 * D, D) == [100.0]
    every_window(stores)
    # a late point in the empty day between: the next day's step is now from it
    write(stores, [reading(T0 + D + 12 * H, 1250)])
    assert increase(stores, T0 + D, T0 + 3 * D, D) == [150.0, 150.0]
    assert increase(stores, T0 + 2 * D, T0 + 3 * D, D) == [150.0]
    assert increase(stores, T0 + 2 * D, T0 + 3 * D, 15 * M)[0] == 50.0  # 06:00's quarter
    every_window(stores)
    # a late point after the first day's last reading (its row only appends it) while later
    # rows exist: the next day's step changes
    write(stores, [reading(T0 + 23 * H, 1150)])
    assert increase(stores, T0 + D, T0 + 3 * D, D) == [100.0, 150.0]
    every_window(stores)
    # a late point before the second day's first reading, in another quarter of it: a reset
    write(stores, [reading(T0 + D + 6 * H, 5)])
    assert increase(stores, T0 + D, T0 + 2 * D, 15 * M) == [5.0, 1245.0]
    assert increase(stores, T0 + D, T0 + 3 * D, D) == [1250.0, 150.0]
    every_window(stores)


def test_a_late_point_in_the_same_quarter_and_the_next_one(
    stores: tuple[DuckDBStore, DuckDBStore],
) -> None:
    """Quarters: points before a quarter's first reading, and one appended to the quarter
    before (after its last reading, with later quarters stored), in one batch with points of
    another meter appended to its own quarter."""
    write(stores, [reading(T0 + m * M, 1000 + m) for m in (1, 14, 16, 29, 31)])
    write(stores, [reading(T0 + m * M, 500 + m, "d2") for m in (1, 14, 16)])
    late = [reading(T0 + 15 * M, 1014.5), reading(T0 + 30 * M, 1030)]
    late.append(reading(T0 + 14 * M + 30 * S, 1014.25))
    write(stores, [*late, reading(T0 + 20 * M, 520, "d2")])
    rolled, raw = stores
    query = AggregateQuery("m", "e", "increase", T0, T0 + H, every_ns=15 * M, group_by=("device",))
    answer = rolled.aggregate(query)
    assert answer == raw.aggregate(query)
    assert [[b.value for b in s.buckets] for s in answer] == [[13.25, 14.75, 2.0], [13.0, 6.0]]
    every_window(stores)


def test_an_append_that_brings_a_field_its_quarter_did_not_hold(
    stores: tuple[DuckDBStore, DuckDBStore],
) -> None:
    """Meters that send their fields in separate messages (a bus fix without an odometer, then
    one with it): the quarter 00:15 holds only ``a`` until a point with only ``b`` is
    appended after its last reading, with nothing stored after it. The row keeps its step of
    ``a``, and gets one of ``b``, from 00:05: the hour and the day count it (found by a
    helper's review: the quarter counted 0 where raw points give 20, the hour and the day
    10 where they give 30)."""

    def point(at_ns: int, **fields: float) -> Point:
        return Point("m", {"device": "d1"}, fields, at_ns)

    write(stores, [point(T0 + 1 * M, a=1.0, b=100.0), point(T0 + 5 * M, a=2.0, b=110.0)])
    write(stores, [point(T0 + 16 * M, a=3.0)])
    write(stores, [point(T0 + 20 * M, b=130.0)])
    rolled, raw = stores
    for every, windows in ((15 * M, [10.0, 20.0]), (H, [30.0]), (D, [30.0])):
        query = AggregateQuery("m", "b", "increase", T0, T0 + D, every_ns=every)
        assert rollup_for(query, PLAN, rolled.rollup_coverage) is not None
        answer = rolled.aggregate(query)
        assert answer == raw.aggregate(query)
        assert [bucket.value for bucket in answer[0].buckets] == windows
    for every in (15 * M, H, D):  # and ``a`` as raw points give it
        query = AggregateQuery("m", "a", "increase", T0, T0 + D, every_ns=every)
        assert rolled.aggregate(query) == raw.aggregate(query)


def test_a_redelivery_with_another_value_changes_the_next_intervals_step(
    stores: tuple[DuckDBStore, DuckDBStore],
) -> None:
    first = [reading(T0 + 6 * H, 1000), reading(T0 + 18 * H, 1100)]
    write(stores, [*first, reading(T0 + D + 6 * H, 1300), reading(T0 + D + 18 * H, 1400)])
    assert increase(stores, T0, T0 + 2 * D, D) == [100.0, 300.0]
    write(stores, first)  # redelivered as it was: nothing changes
    assert increase(stores, T0, T0 + 2 * D, D) == [100.0, 300.0]
    write(stores, [reading(T0 + 18 * H, 1200)])  # redelivered, corrected: both days change
    assert increase(stores, T0, T0 + 2 * D, D) == [200.0, 200.0]
    assert increase(stores, T0 + D, T0 + 2 * D, H) == [100.0, 100.0]
    every_window(stores)


def older_than_stored_steps(path: Path, points: list[Point]) -> DuckDBStore:
    """A store on a file holding ``points`` and their rollups as it was before stored steps
    (no step columns: its next write adds them, NULL in the rows before)."""
    store = DuckDBStore(path, rollups=PLAN, rollup_flush_s=0.0)
    store.write(points)
    store.close()
    con = duckdb.connect(str(path))
    for label in ("15m", "1h", "1d"):
        con.execute(f"ALTER TABLE m_{label} DROP COLUMN e_step")
        con.execute(f"ALTER TABLE m_{label} DROP COLUMN e_prev_offset_ns")
    con.execute("DROP TABLE cityhub_meta.rollup_steps")
    con.close()
    return DuckDBStore(path, rollups=PLAN, rollup_flush_s=0.0)


def test_a_file_older_than_stored_steps_answers_until_rebuilt(tmp_path: Path) -> None:
    """Rollup tables without the step columns (a file from before them): they are added on
    the next flush, but ``increase`` takes the previous interval's last reading with a
    window function until ``rebuild_rollups`` has restepped every row. Meanwhile the flush
    composes the hours and the day that hold rows of both kinds with the window function
    too (the older rows' steps are NULL)."""
    path = tmp_path / "old.duckdb"
    points = [reading(T0 + m * 10 * M, 1000 + m * (m % 5)) for m in range(3 * 24 * 6)]
    raw = DuckDBStore(tmp_path / "raw.duckdb")
    raw.write(points)
    split = len(points) // 2 + 2  # 36 h 20 min in: an hour and a day of both kinds
    store = older_than_stored_steps(path, points[:split])
    store.write(points[split:])  # adds the columns: NULL in the rows before
    hourly = AggregateQuery("m", "e", "increase", T0 + D, T0 + 3 * D, every_ns=H)
    daily = AggregateQuery("m", "e", "increase", T0, T0 + 3 * D, every_ns=D)
    checks = [(hourly, PLAN.of("m")[1]), (daily, PLAN.of("m")[2])]
    expected: list[list[SeriesResult]] = [raw.aggregate(query) for query, _ in checks]
    for (query, rollup), answer in zip(checks, expected, strict=True):
        assert rollup_for(query, PLAN, store.rollup_coverage) == rollup
        assert not store._steps_hold(rollup, query)
        assert store.aggregate(query) == answer
    store.rebuild_rollups(T0)
    for (query, rollup), answer in zip(checks, expected, strict=True):
        assert store._steps_hold(rollup, query)
        assert store.aggregate(query) == answer
        assert sum(bucket.value for bucket in answer[0].buckets) > 0
    store.close()
    raw.close()


def test_a_rebuild_past_the_raw_retention_claims_steps_only_where_it_restepped(
    tmp_path: Path,
) -> None:
    """A file older than stored steps whose first day of raw points retention deleted: the
    rebuild from that day restepped only the days with raw points, so the first day's rows
    (their steps NULL) are not read as if they held steps, not even after a late point
    into it rolls its hour and day up again (found by a helper's review: the day counted
    357 where raw points give 429)."""
    path = tmp_path / "old.duckdb"
    points = [reading(T0 + m * 10 * M, 1000 + 3 * m) for m in range(3 * 24 * 6)]
    late = reading(T0 + 10 * H + 24 * M, 1187)  # between 10:20 (1186) and 10:30 (1189)
    store = older_than_stored_steps(path, points)
    store.write([reading(T0 + 3 * D + M, 2000)])  # adds the columns: NULL in the rows before
    while store.delete_before("m", T0 + D, 1000) == 1000:  # retention: the first day's raw
        pass
    store.rebuild_rollups(T0)
    assert store._steps_since == {rollup.name: T0 + D for rollup in PLAN.of("m")}
    store.write([late])
    raw = DuckDBStore(tmp_path / "raw.duckdb")
    raw.write([*points, late, reading(T0 + 3 * D + M, 2000)])
    for every in (H, D):
        query = AggregateQuery("m", "e", "increase", T0, T0 + D, every_ns=every)
        assert rollup_for(query, PLAN, store.rollup_coverage) is not None
        assert store.aggregate(query) == raw.aggregate(query)
    (day,) = raw.aggregate(AggregateQuery("m", "e", "increase", T0, T0 + D, every_ns=D))
    assert [bucket.value for bucket in day.buckets] == [429.0]
    store.close()
    raw.close()
