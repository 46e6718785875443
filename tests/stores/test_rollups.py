"""Rollups answer exactly what raw points answer: on random data (counters with rises, dips
and resets, power readings), written in random batches and order (late data, redeliveries),
every aggregate a rollup may answer gives the same answer from a store keeping rollups as from
one without, on a real DuckDB file and a real InfluxDB server. Values are multiples of 1/4,
exact in binary, so sums do not depend on the order of additions and answers compare equal."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterator

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.contracts import Store
from hub.points import Point
from hub.query import AggregateQuery, Bucket, SeriesResult, SumOfMeansQuery
from hub.rollups import RollupPlan, rollup_for
from hub.rollups.split import split_aggregate
from hub.stores import duckdb as duckdb_store
from hub.stores.duckdb import DuckDBStore, flush_wait_s
from hub.stores.influxdb import InfluxDBStore
from tests.conftest import fresh_database
from tests.servers_influx import RunningServer

S = 1_000_000_000
M = 60 * S
H = 60 * M
D = 24 * H
T0 = 1_699_920_000 * S  # a whole day (2023-11-14 00:00 UTC)
LABELS = ["15m", "1h", "1d"]
PLAN = RollupPlan.from_labels({"m": LABELS, "late": LABELS})
FUNCTIONS = ["mean", "sum", "min", "max", "count", "first", "last", "increase"]
_runs = itertools.count()


def influx_rolled(server: RunningServer, database: str, plan: RollupPlan) -> InfluxDBStore:
    """A 1.x store keeping rollups as the hub does: in their own retention policy (created
    here as ``PolicyKeeper`` does at start-up; the raw policy stays infinite, since the test
    data is from 2023)."""
    store = InfluxDBStore(server.url, database, api="v1", rollups=plan, rollup_policy="rollups")
    store.statements(
        [f'CREATE RETENTION POLICY "rollups" ON "{database}" DURATION INF REPLICATION 1']
    )
    return store


def rolled_and_raw(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, plan: RollupPlan
) -> tuple[Store, Store]:
    """A fresh store keeping ``plan``'s rollups and one keeping none, of the kind
    ``request.param`` names (``duckdb``, or ``influxdb``: then on the test server)."""
    if request.param == "duckdb":
        folder = tmp_path_factory.mktemp("rollups")
        return (
            # rolled up after every batch (rollup_flush_s=0): appends and late data both
            DuckDBStore(folder / "rolled.duckdb", rollups=plan, rollup_flush_s=0.0),
            DuckDBStore(folder / "raw.duckdb"),
        )
    server: RunningServer = request.getfixturevalue("influxd")
    return (
        influx_rolled(server, fresh_database(server), plan),
        InfluxDBStore(server.url, fresh_database(server), api="v1"),
    )


def rollup_name(store: Store) -> dict[str, int]:
    return store.rollup_coverage  # type: ignore[attr-defined]


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("influxdb", marks=pytest.mark.influxdb)]
)
def stores(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, Store]]:
    """A store keeping rollups and one that does not, of the same kind; each example writes
    series of its own (tag ``run``) to both (a measurement each would cost DuckDB a table and
    its index each)."""
    pair = rolled_and_raw(request, tmp_path_factory, PLAN)
    yield pair
    for store in pair:
        store.close()


def _counter(previous: int) -> st.SearchStrategy[int]:
    return st.one_of(
        st.integers(previous, previous + 400),  # a rise, or the same reading again
        st.integers(previous * 9 // 10, previous),  # a small dip (not a reset)
        st.integers(0, previous * 9 // 10),  # a reset, or a dip at the threshold
    )


@st.composite
def readings(draw: st.DrawFn, run: str) -> list[Point]:
    """Up to three meters (two in one building, one without a building tag), read at
    distinct seconds from a day before ``T0`` to two days after it, or in its first two
    hours (several readings of a meter in a quarter)."""
    count = draw(st.integers(1, 60))
    low, high = draw(st.sampled_from([(-86_400, 2 * 86_400), (0, 7_200)]))  # or dense: 2 h
    seconds = draw(st.lists(st.integers(low, high), min_size=count, max_size=count, unique=True))
    devices = draw(st.lists(st.sampled_from(["d0", "d1", "d2"]), min_size=count, max_size=count))
    counters: dict[str, int] = {}
    points = []
    for second, device in sorted(zip(seconds, devices, strict=True)):
        # each reading holds ``e``, ``p`` or both (a meter that sends them apart)
        held = draw(st.sampled_from(["e", "p", "ep", "ep"]))
        fields: dict[str, float] = {}
        if "e" in held:
            counters[device] = draw(_counter(counters[device])) if device in counters else 1000
            fields["e"] = float(counters[device])
        if "p" in held:
            fields["p"] = draw(st.integers(0, 4000)) / 4
        tags = {"run": run, "device": device} | ({} if device == "d2" else {"building": "b0"})
        points.append(Point("m", tags, fields, T0 + second * S))
    return points


@st.composite
def batches(draw: st.DrawFn, points: list[Point]) -> list[list[Point]]:
    """``points`` in a random order, in random batches, one batch sometimes sent twice."""
    shuffled = draw(st.permutations(points)) if draw(st.booleans()) else points
    cuts = sorted(draw(st.lists(st.integers(0, len(points)), max_size=6)))
    parts = [shuffled[a:b] for a, b in itertools.pairwise([0, *cuts, len(points)]) if b > a]
    if parts and draw(st.booleans()):
        parts.append(draw(st.sampled_from(parts)))  # a redelivery
    return parts


@st.composite
def queries(draw: st.DrawFn, run: str, last_hour: int = 36) -> AggregateQuery:
    """An aggregate over whole hours (a rollup answers it) or over a range cut inside a quarter
    (cut into pieces: the ragged edge from raw points, the rest from rollups), starting at
    ``last_hour`` after ``T0`` at the latest."""
    function = draw(st.sampled_from(FUNCTIONS))
    start = T0 + draw(st.integers(0, last_hour)) * H
    end = start + draw(st.integers(1, 30)) * H
    if draw(st.booleans()):  # not aligned: from raw points
        start += draw(st.integers(1, 59).filter(lambda minute: minute % 15)) * M
    return AggregateQuery(
        "m",
        draw(st.sampled_from(["e", "p"])),
        function,  # type: ignore[arg-type]
        start,
        end,
        every_ns=draw(st.sampled_from([15 * M, H, 2 * H, D, None])),
        group_by=draw(st.sampled_from([(), ("building",), ("device",)])),
        where={"run": (run,)},
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_rollups_answer_what_raw_points_answer(
    stores: tuple[Store, Store], data: st.DataObject
) -> None:
    rolled, raw = stores
    run = str(next(_runs))
    points = data.draw(readings(run))
    for batch in data.draw(batches(points)):
        assert rolled.write(batch) == []
        assert raw.write(batch) == []
    # the rollups are ordinary measurements, which hold every reading once
    span = (T0 - 2 * D, T0 + 3 * D)
    where = {"run": (run,)}
    for label in LABELS:
        assert rolled.aggregate(
            AggregateQuery(f"m_{label}", "e_count", "sum", *span, where=where)
        ) == raw.aggregate(AggregateQuery("m", "e", "count", *span, where=where))
    dense = all(point.time_ns < T0 + 2 * H for point in points)
    for _ in range(6):
        query = data.draw(queries(run, 1 if dense else 36))
        aligned = query.start_ns % (15 * M) == 0
        assert (rollup_for(query, PLAN, rollup_name(rolled)) is not None) == aligned
        if not aligned and query.end_ns - query.start_ns > 15 * M and query.function != "increase":
            assert split_aggregate(query, PLAN, rollup_name(rolled), lambda q: []) is not None
        assert rolled.aggregate(query) == raw.aggregate(query), query


def assert_same_windows(got: list[Bucket], expected: list[Bucket]) -> None:
    """The same windows, and values up to the order of a sum's additions."""
    assert [b.time_ns for b in got] == [b.time_ns for b in expected]
    assert [b.value for b in got] == pytest.approx([b.value for b in expected])


@st.composite
def demand_queries(draw: st.DrawFn, run: str) -> SumOfMeansQuery:
    """A sum of per-series means over windows a rollup holds whole or not (``7m``), on a range
    on window boundaries or cutting its first and last windows."""
    every = draw(st.sampled_from([15 * M, H, 2 * H, D, 7 * M]))
    start = T0 + draw(st.integers(-24, 36)) * H + draw(st.sampled_from([0, 0, 15, 20])) * M
    end = start + draw(st.integers(1, 30)) * H + draw(st.sampled_from([0, 0, 30, 50])) * M
    series_by = draw(st.sampled_from([("device",), ("building",), ("device", "building"), ()]))
    return SumOfMeansQuery("m", "p", start, end, every, series_by, {"run": (run,)})


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_sums_of_means_from_rollups_are_what_raw_points_give(
    stores: tuple[Store, Store], data: st.DataObject
) -> None:
    """Peak demand's primitive: the whole windows from a rollup (stored sums over stored
    counts per series group), the windows the range cuts from raw points; the same windows and
    means as from raw points alone (sums of means up to the order of their additions). A
    group of several series (``building``, or none) has one mean over all their readings."""
    rolled, raw = stores
    run = str(next(_runs))
    points = data.draw(readings(run))
    for batch in data.draw(batches(points)):
        assert rolled.write(batch) == []
        assert raw.write(batch) == []
    for _ in range(6):
        query = data.draw(demand_queries(run))
        assert_same_windows(rolled.sum_of_means(query), raw.sum_of_means(query))


def test_sums_of_means_before_the_raw_horizon_come_from_rollups(tmp_path) -> None:
    """With the raw points of the first day deleted (retention), its whole windows still have
    their means (from the rollups: nothing else holds them), and the windows the range cuts
    are read from the raw points that are left."""
    plan = RollupPlan.from_labels({"old": LABELS})
    rolled = DuckDBStore(tmp_path / "rolled.duckdb", rollups=plan, rollup_flush_s=0.0)
    raw = DuckDBStore(tmp_path / "raw.duckdb")
    for store in (rolled, raw):
        store.write(_history("old"))
    whole = SumOfMeansQuery("old", "p", T0, T0 + 2 * D, 15 * M, ("device",))
    cut = SumOfMeansQuery("old", "p", T0 + 5 * M, T0 + 2 * D - 5 * M, H, ())
    expected = [raw.sum_of_means(whole), raw.sum_of_means(cut)]
    # two meters, each read 0 and 1 (p: step % 13) in the first quarter
    assert len(expected[0]) == 2 * 24 * 4 and expected[0][0].value == 1.0
    while rolled.delete_before("old", T0 + D, 1000):  # type: ignore[attr-defined]
        pass
    assert raw.sum_of_means(whole) == expected[0]  # the raw store still holds the first day
    gone = AggregateQuery("old", "p", "percentile", T0, T0 + D, percentile=100.0)
    assert rolled.aggregate(gone) == []  # (a percentile reads raw points only)
    assert_same_windows(rolled.sum_of_means(whole), expected[0])
    # the first window, cut by the range, is read from raw points, which are gone
    assert_same_windows(rolled.sum_of_means(cut), expected[1][1:])
    assert expected[1][0].time_ns == T0
    rolled.close()
    raw.close()


def test_late_data_corrects_its_interval(stores: tuple[Store, Store]) -> None:
    rolled, raw = stores
    meter = {"device": "late-1"}

    def reading(minutes: int, wh: float) -> Point:
        return Point("late", meter, {"e": wh}, T0 + minutes * M)

    def hourly_increase() -> list[SeriesResult]:
        query = AggregateQuery("late", "e", "increase", T0, T0 + 4 * H, every_ns=H)
        assert rollup_for(query, PLAN, rollup_name(rolled)) is not None
        answer = rolled.aggregate(query)
        assert answer == raw.aggregate(query)
        return answer

    in_order = [reading(minutes, 1000.0 + minutes) for minutes in range(0, 240, 20)]
    for store in stores:
        store.write(in_order)
    assert hourly_increase() == [
        SeriesResult({}, [Bucket(T0, 40.0), Bucket(T0 + H, 60.0), Bucket(T0 + 2 * H, 60.0),
                          Bucket(T0 + 3 * H, 60.0)])
    ]  # fmt: skip
    # A late reading in the second hour: the meter was replaced (a reset) at 01:30 and the
    # register read 5 Wh; the readings after it are those of the old meter's (wrongly sent)
    # values until the replacement is read at 02:00 again... kept simple: one reset reading.
    late = [reading(90, 5.0)]
    for store in stores:
        store.write(late)
        store.write(late)  # redelivered: the same point, nothing counted twice
    # 01:20 1080 -> 01:30 5 (reset: counts 5) -> 01:40 1100 (from 5: +1095)
    assert hourly_increase() == [
        SeriesResult({}, [Bucket(T0, 40.0), Bucket(T0 + H, 20.0 + 5.0 + 1095.0 + 20.0),
                          Bucket(T0 + 2 * H, 60.0), Bucket(T0 + 3 * H, 60.0)])
    ]  # fmt: skip


def test_rollup_for_picks_the_coarsest_exact_rollup() -> None:
    plan = RollupPlan.from_labels({"m": LABELS})
    covered = {"m_15m": 0, "m_1h": 0, "m_1d": 0}

    def pick(function: str = "sum", **changes: float | None) -> str | None:
        values: dict = {"start_ns": T0, "end_ns": T0 + 2 * D, "every_ns": D} | changes
        query = AggregateQuery("m", "p", function, **values)  # type: ignore[arg-type]
        rollup = rollup_for(query, plan, covered)
        return rollup.label if rollup else None

    assert pick() == "1d"
    assert pick(every_ns=H) == "1h"
    assert pick(every_ns=30 * M) == "15m"
    assert pick(every_ns=20 * M) is None  # not whole quarters
    assert pick(every_ns=None) == "1d"
    assert pick(start_ns=T0 + H) == "1h"  # the range cuts a day
    assert pick(end_ns=T0 + D + 5 * M) is None  # ... or a quarter: raw points
    assert pick("percentile", percentile=50.0) is None  # type: ignore[arg-type]
    assert pick("increase", every_ns=H) == "1h"
    assert (
        rollup_for(AggregateQuery("m", "p", "sum", T0, T0 + D, every_ns=H), plan, {"m_1h": T0 + H})
        is None
    )  # the rollup does not hold the first hour (data from before it was enabled)
    assert (
        rollup_for(AggregateQuery("other", "p", "sum", T0, T0 + D, every_ns=H), plan, covered)
        is None
    )


def _history(measurement: str) -> list[Point]:
    """Two meters read every 10 minutes for two days, one reset."""
    points = []
    for device, base in (("h1", 5000.0), ("h2", 80.0)):
        register = base
        for step in range(2 * 24 * 6):
            register = 3.0 if (device, step) == ("h2", 150) else register + step % 7 / 2
            fields = {"e": register, "p": float(step % 13)}
            points.append(Point(measurement, {"device": device}, fields, T0 + step * 10 * M))
    return points


@pytest.mark.parametrize(
    "backend", ["duckdb", pytest.param("influxdb", marks=pytest.mark.influxdb)]
)
def test_rebuild_covers_data_stored_before_rollups(
    backend: str, request: pytest.FixtureRequest, tmp_path
) -> None:
    """Raw points stored before rollups were enabled: the rollups do not claim them (queries
    read raw points) until ``rebuild_rollups`` has recomputed them; then queries read the
    rollups and answer the same."""
    plan = RollupPlan.from_labels({"old": LABELS})
    if backend == "duckdb":
        plain: Store = DuckDBStore(tmp_path / "old.duckdb")
        plain.write(_history("old"))
        plain.close()
        rolled = DuckDBStore(tmp_path / "old.duckdb", rollups=plan)
        raw: Store = rolled  # queries the rollups cannot answer read raw points
    else:
        server: RunningServer = request.getfixturevalue("influxd")
        database = fresh_database(server)
        raw = InfluxDBStore(server.url, database, api="v1")
        raw.write(_history("old"))
        rolled = influx_rolled(server, database, plan)  # type: ignore[assignment]
    queries = [
        AggregateQuery("old", "e", "increase", T0 + D, T0 + 2 * D, every_ns=H),
        AggregateQuery("old", "p", "mean", T0, T0 + 2 * D, every_ns=D, group_by=("device",)),
        AggregateQuery("old", "p", "max", T0, T0 + 2 * D, every_ns=15 * M),
    ]
    before = [raw.aggregate(query) for query in queries]
    assert all(rollup_for(q, plan, rolled.rollup_coverage) is None for q in queries)
    progress: list[tuple[str, int, int]] = []
    covered = rolled.rebuild_rollups(T0 - 5 * H, lambda *step: progress.append(step))
    assert covered == {"old_15m": T0 - D, "old_1h": T0 - D, "old_1d": T0 - D}
    assert progress[-1][0] == "old" and progress[-1][1] == progress[-1][2]
    assert all(rollup_for(q, plan, rolled.rollup_coverage) is not None for q in queries)
    assert [rolled.aggregate(query) for query in queries] == before
    if backend == "influxdb":  # an API-only process reads the coverage the writer recorded
        reader = InfluxDBStore(
            server.url, database, api="v1", rollups=plan, rollup_policy="rollups"
        )
        assert reader.rollup_coverage == covered
        assert [reader.aggregate(query) for query in queries] == before
        reader.close()
    assert before[0][0].buckets[0].value > 0
    rolled.close()
    if raw is not rolled:
        raw.close()


def test_the_rebuild_command(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from hub.cli import main

    path = tmp_path / "hub.duckdb"
    plain = DuckDBStore(path)
    plain.write(_history("building_energy"))
    plain.close()
    monkeypatch.setenv("CITYHUB_MODE", "test")
    monkeypatch.setenv("CITYHUB_STORE__DUCKDB_PATH", str(path))
    assert main(["rollups", "rebuild", "--since", "yesterday"]) == 2
    assert "--since='yesterday'" in capsys.readouterr().err
    assert main(["rollups", "rebuild", "--since", "2023-11-13T12:00:00Z"]) == 0
    out, err = capsys.readouterr()
    assert "building_energy: [" in err and "3/3 intervals" in err
    assert "building_energy_1h: complete from 2023-11-13T00:00:00+00:00" in out
    store = DuckDBStore(path, rollups=RollupPlan.from_labels({"building_energy": LABELS}))
    query = AggregateQuery("building_energy", "e", "increase", T0, T0 + 2 * D, every_ns=D)
    assert rollup_for(query, store._rollups, store.rollup_coverage) is not None
    answer = store.aggregate(query)
    store.close()
    raw = DuckDBStore(tmp_path / "copy.duckdb")
    raw.write(_history("building_energy"))
    assert answer == raw.aggregate(query)
    raw.close()


def test_duckdb_rolls_up_after_a_restart_what_a_crash_left_pending(tmp_path) -> None:
    """The intervals a batch touched are recorded in its own transaction: a hub stopped
    before it rolled them up (SIGKILL; here a flush interval never reached) rolls them up
    when the file is opened again, before a query reads the rollups."""
    plan = RollupPlan.from_labels({"old": LABELS})
    history = _history("old")
    store = DuckDBStore(tmp_path / "a.duckdb", rollups=plan, rollup_flush_s=3600.0)
    store.write(history)
    store.close()  # nothing rolled up yet
    store = DuckDBStore(tmp_path / "a.duckdb", rollups=plan, rollup_flush_s=3600.0)
    raw = DuckDBStore(tmp_path / "raw.duckdb")
    raw.write(history)
    query = AggregateQuery("old", "e", "increase", T0, T0 + 2 * D, every_ns=H)
    assert rollup_for(query, plan, store.rollup_coverage) is not None
    assert store.aggregate(AggregateQuery("old_1h", "e_count", "sum", T0, T0 + 2 * D)) == [
        SeriesResult({}, [Bucket(T0, float(len(history)))])
    ]
    assert store.aggregate(query) == raw.aggregate(query)
    store.close()
    raw.close()


def _raise_duckdb_error(*_args: object) -> None:
    raise duckdb.IOException("injected: the flush fails after its snapshot")


def test_duckdb_records_an_interval_s_mark_once_per_flush_and_a_crash_loses_none(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream adds a point per series per batch to the same quarter of an hour: the first
    batch records the quarter as pending, the next ones only when they bring an earlier
    point (late data) or once a flush has taken the marks. Whatever was left pending at a
    crash (the file closed without a flush) is rolled up on the next start, late point
    included, and the answers are the raw ones."""
    plan = RollupPlan.from_labels({"m": LABELS})
    store = DuckDBStore(tmp_path / "a.duckdb", rollups=plan, rollup_flush_s=3600.0)
    raw = DuckDBStore(tmp_path / "raw.duckdb")

    def marks() -> int:
        (count,) = store._cursor().execute(
            "SELECT count(*) FROM cityhub_meta.rollup_pending WHERE measurement = 'm'"
        ).fetchone() or (0,)
        return int(count)

    def batch(second: int) -> list[Point]:
        return [
            Point("m", {"device": device}, {"e": float(second + index)}, T0 + second * S)
            for index, device in enumerate(("d0", "d1"))
        ]

    batches = [batch(60 + 10 * i) for i in range(30)]  # 5 minutes of one quarter
    for each in batches:
        assert store.write(each) == []
    assert marks() == 2  # one per series, not one per point
    late = batch(30)  # before every point of the quarter so far
    assert store.write(late) == []
    assert marks() == 4  # recorded: the flush must go back to it
    assert store._flush_rollups()
    assert marks() == 0
    after_flush = [batch(400), batch(410)]
    for each in after_flush:
        assert store.write(each) == []
    assert marks() == 2  # the flush took the earlier marks: recorded again, once
    with monkeypatch.context() as patched:  # a flush that fails once it took its snapshot
        patched.setattr(store, "_compose", _raise_duckdb_error)
        assert not store._flush_rollups()
    assert marks() == 2  # rolled back: still there
    after_failure = batch(420)
    assert store.write(after_failure) == []
    assert marks() == 4  # the failed flush forgot them too: recorded again, which is harmless
    store.close()  # a crash: nothing rolled up since

    store = DuckDBStore(tmp_path / "a.duckdb", rollups=plan, rollup_flush_s=3600.0)
    for each in (*batches, late, *after_flush, after_failure):
        raw.write(each)
    for function in ("count", "first", "last", "increase", "mean"):
        query = AggregateQuery(
            "m", "e", function, T0, T0 + D, every_ns=15 * M, group_by=("device",)
        )  # type: ignore[arg-type]
        assert rollup_for(query, plan, store.rollup_coverage) is not None
        assert store.aggregate(query) == raw.aggregate(query), function
    assert store.aggregate(AggregateQuery("m_15m", "e_count", "sum", T0, T0 + D)) == [
        SeriesResult({}, [Bucket(T0, 68.0)])
    ]
    store.close()
    raw.close()


def test_duckdb_remembers_a_bounded_number_of_marks(tmp_path, monkeypatch) -> None:
    """Past the bound (a backfill: a new interval at every point) the remembered marks are
    all forgotten, and a later batch records its own again."""
    monkeypatch.setattr(duckdb_store, "_RECORDED_MARKS_MAX", 3)
    store = DuckDBStore(
        tmp_path / "a.duckdb", rollups=RollupPlan.from_labels({"m": LABELS}), rollup_flush_s=3600.0
    )

    def quarter(index: int) -> list[Point]:  # one point of each of two series
        return [
            Point("m", {"device": device}, {"e": 1.0}, T0 + index * 15 * M + S)
            for device in ("d0", "d1")
        ]

    def marks() -> int:
        (count,) = store._cursor().execute(
            "SELECT count(*) FROM cityhub_meta.rollup_pending"
        ).fetchone() or (0,)
        return int(count)

    for index, recorded in ((0, 2), (0, 2), (1, 4), (0, 6)):
        assert store.write(quarter(index)) == []
        assert marks() == recorded
        assert sum(map(len, store._recorded_marks.values())) <= 3
    store.close()


class _Statements:
    """A DuckDB connection that records the SQL of every statement run on it (and on the
    cursors made from it)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sql: list[str]) -> None:
        self._con, self.sql_run = con, sql

    def execute(self, sql: str, *args: object) -> duckdb.DuckDBPyConnection:
        self.sql_run.append(sql)
        return self._con.execute(sql, *args)

    def sql(self, sql: str, **options: object) -> duckdb.DuckDBPyRelation:
        self.sql_run.append(sql)
        return self._con.sql(sql, **options)  # type: ignore[arg-type]

    def cursor(self) -> _Statements:
        return _Statements(self._con.cursor(), self.sql_run)

    def __enter__(self) -> _Statements:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()


@pytest.mark.parametrize("function", ["mean", "count", "first"])
def test_duckdb_answers_a_range_cut_at_rollup_boundaries_in_one_statement(
    tmp_path, monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    """A range that starts and ends inside quarters (``start=-365d``) is cut: its ragged
    edges read raw points, the rest the coarsest rollups. All of it is one statement, so
    each ragged edge scans the raw table once (asked piece by piece, a mean was 14
    statements, each edge scanned twice: for the sums, then the counts), and the answer is
    the raw points' one."""
    plan = RollupPlan.from_labels({"old": LABELS})
    store = DuckDBStore(tmp_path / "rolled.duckdb", rollups=plan, rollup_flush_s=0.0)
    raw = DuckDBStore(tmp_path / "raw.duckdb")
    for each in (store, raw):
        each.write(_history("old"))
    query = AggregateQuery(
        "old", "e", function, T0 + 5 * M, T0 + 2 * D - 5 * M, every_ns=D, group_by=("device",)
    )  # type: ignore[arg-type]
    assert rollup_for(query, plan, store.rollup_coverage) is None
    sql_run: list[str] = []
    thread_cursor = store._cursor()
    monkeypatch.setattr(store, "_cursor", lambda: _Statements(thread_cursor, sql_run))
    answer = store.aggregate(query)
    assert len(sql_run) == 1
    assert '"old_1h"' in sql_run[0]  # (and raw points, for the ragged edges)
    assert answer == raw.aggregate(query)
    store.close()
    raw.close()


def test_duckdb_rolls_up_beside_a_stream_of_batches(tmp_path) -> None:
    """The rollups are brought up to date by the store's own thread, beside the ingest, while
    batches keep landing: late points, redeliveries and a field first seen mid-stream, with
    queries reading rollups meanwhile. Once the stream stops they catch up by themselves, and
    every answer is the raw one."""
    rng = random.Random(18)
    plan = RollupPlan.from_labels({"m": LABELS})
    rolled = DuckDBStore(tmp_path / "rolled.duckdb", rollups=plan, rollup_flush_s=0.002)
    raw = DuckDBStore(tmp_path / "raw.duckdb")
    counters = {"d0": 1000, "d1": 1000}
    points = []
    for second in sorted(rng.sample(range(0, 2 * 86_400), 3_000)):
        device = rng.choice(["d0", "d1"])
        counters[device] += rng.choice([0, 25, 400, -counters[device]])  # rises and resets
        fields = {"e": float(counters[device]), "p": rng.randrange(4000) / 4}
        if second > 86_400:
            fields["q"] = float(second % 7)  # a column the table gets mid-stream
        points.append(Point("m", {"device": device}, fields, T0 + second * S))
    batches = [points[i : i + 50] for i in range(0, len(points), 50)]
    batches += rng.sample(batches, 8)  # redeliveries, late by then
    for _ in range(10):  # and late points in the middle of others
        a, b = rng.sample(range(len(batches)), 2)
        batches[a], batches[b] = batches[b], batches[a]
    queries = [
        AggregateQuery("m", field, function, T0, T0 + 2 * D, every_ns=every, group_by=group)  # type: ignore[arg-type]
        for field, function in (("e", "increase"), ("p", "mean"), ("q", "max"), ("e", "count"))
        for every in (H, D)
        for group in ((), ("device",))
    ]
    failures: list[BaseException] = []

    def ingest() -> None:
        try:
            for batch in batches:
                assert rolled.write(batch) == []
        except BaseException as error:  # reported by the test's thread
            failures.append(error)

    writer = threading.Thread(target=ingest)
    writer.start()
    while writer.is_alive():  # queries meanwhile: each flushes what it reads first
        rolled.aggregate(rng.choice(queries))
    writer.join()
    assert failures == []
    deadline = time.monotonic() + 30  # a round's wait grows with its cost (flush_wait_s)
    while rolled._pending and time.monotonic() < deadline:  # caught up without a query
        time.sleep(0.01)
    assert not rolled._pending
    for batch in batches:
        raw.write(batch)
    for query in queries:
        assert rollup_for(query, plan, rolled.rollup_coverage) is not None
        assert rolled.aggregate(query) == raw.aggregate(query), query
    rolled.close()
    raw.close()


def test_a_costly_background_flush_spaces_out_the_next_ones(tmp_path) -> None:
    """A flush of the default rollups costs most of a second whatever it recomputes: the
    background thread keeps to a tenth of the time rather than taking that from the ingest
    every ``rollup_flush_s``, and still brings the rollups up to date."""
    assert flush_wait_s(5.0, 0.2) == 5.0
    assert flush_wait_s(5.0, 0.9) == pytest.approx(8.1)
    plan = RollupPlan.from_labels({"m": LABELS})
    store = DuckDBStore(tmp_path / "rolled.duckdb", rollups=plan, rollup_flush_s=0.01)
    rounds: list[float] = []
    flush = store._flush_pending

    def costly(only: str | None = None) -> bool:
        rounds.append(time.monotonic())
        time.sleep(0.15)
        return flush(only=only)

    store._flush_pending = costly  # type: ignore[method-assign]
    started = time.monotonic()
    minute = 0
    while time.monotonic() - started < 2.0:  # a batch every 20 ms: always something pending
        assert store.write([Point("m", {"device": "d"}, {"p": 1.0}, T0 + minute * 60 * S)]) == []
        minute += 1
        time.sleep(0.02)
    # 0.15 s of flush, then 1.35 s of wait: 2 rounds in 2 s (without the bound: 8 seen)
    assert 1 <= len(rounds) <= 3, rounds
    deadline = time.monotonic() + 10
    while store._pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not store._pending
    query = AggregateQuery("m", "p", "count", T0, T0 + D, every_ns=H)
    assert sum(b.value or 0 for r in store.aggregate(query) for b in r.buckets) == minute
    store.close()


def test_a_duckdb_query_rolls_up_only_what_it_reads(tmp_path) -> None:
    """Under ingest, a query whose rollups are pending rolls them up before it reads them,
    and only them: rolling up another measurement's first would make it wait for rollups it
    does not read (each flush of the default plan costs the better part of a second)."""
    plan = RollupPlan.from_labels({"m": LABELS, "n": ["1h"]})
    store = DuckDBStore(tmp_path / "q.duckdb", rollups=plan, rollup_flush_s=3600.0)
    points = [
        Point(name, {"device": "d"}, {"p": float(i)}, T0 + i * M)
        for name in ("m", "n")
        for i in range(120)
    ]
    assert store.write(points) == []
    assert store._pending == {"m", "n"}
    query = AggregateQuery("m", "p", "mean", T0, T0 + 2 * H, every_ns=H)
    assert rollup_for(query, plan, store.rollup_coverage) is not None
    [series] = store.aggregate(query)
    assert [b.value for b in series.buckets] == [29.5, 89.5]
    assert store._pending == {"n"}  # read from m's rollup, made just now; n's still to make
    store.close()


@pytest.fixture(scope="module")
def pending_and_raw(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DuckDBStore, Store]]:
    """A DuckDB store whose rollups are made only when a test says so (a flush an hour
    away), and one keeping none."""
    folder = tmp_path_factory.mktemp("pending")
    pair = (
        DuckDBStore(folder / "rolled.duckdb", rollups=PLAN, rollup_flush_s=3600.0),
        DuckDBStore(folder / "raw.duckdb"),
    )
    yield pair
    for store in pair:
        store.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_duckdb_answers_beside_pending_rollups_what_raw_points_answer(
    pending_and_raw: tuple[DuckDBStore, Store], data: st.DataObject
) -> None:
    """Under ingest the last intervals' rollups are pending: a query answers the windows
    before the earliest pending interval from the rollups as they are and the rest from raw
    points, without rolling anything up, and the answer is the raw one. The readings are
    rolled up up to a random point in time; the later ones (with, sometimes, a late one
    from before it) are written after and left pending."""
    rolled, raw = pending_and_raw
    run = str(next(_runs))
    points = sorted(data.draw(readings(run)), key=lambda p: p.time_ns)
    split = data.draw(st.integers(0, len(points)))
    done, fresh = points[:split], points[split:]
    if done and data.draw(st.booleans()):
        fresh.append(done.pop(data.draw(st.integers(0, len(done) - 1))))  # a late reading
    for batch in (done, fresh):
        for store in (rolled, raw):
            assert store.write(batch) == []
        if batch is done:
            assert rolled._flush_rollups()
    dense = all(point.time_ns < T0 + 2 * H for point in points)
    for _ in range(6):
        query = data.draw(queries(run, 1 if dense else 36))
        cut = rolled._before_pending("m", query.start_ns, query.end_ns, query.every_ns)
        assert rolled.aggregate(query) == raw.aggregate(query), query
        if cut is not None:
            assert "m" in rolled._pending  # answered without rolling up
        demand = data.draw(demand_queries(run))
        cut = rolled._before_pending("m", demand.start_ns, demand.end_ns, demand.every_ns)
        assert_same_windows(rolled.sum_of_means(demand), raw.sum_of_means(demand))
        if cut is not None:
            assert "m" in rolled._pending
