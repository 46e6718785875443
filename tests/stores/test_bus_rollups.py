"""Bus answers from rollups are the raw answers: on random fix histories (a vehicle with an
odometer that resets, vehicles without one, one changing route mid-run, fixes now and then
without a longitude), written in random batches and order (late data, redeliveries) to a
store keeping the default ``bus_position`` rollups and to one without, on a real DuckDB file
and a real InfluxDB server, the mean speed per route, the odometer increase and the bus-km
between fixes (:func:`hub.insights.buses.bus_km`) agree, on windows that align with the
rollup intervals and on ranges that do not. Speeds and odometers are exact in binary and
compare equal; distances are sums of great-circle steps, added in another order from the
rollups (per interval, then across), so they agree to 1e-9 relative."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.contracts import Store
from hub.insights.bus_path import fix_km_from_rollups
from hub.insights.buses import bus_km
from hub.points import Point
from hub.query import AggregateQuery
from hub.retention import Retention
from hub.rollups import rollup_for
from hub.settings import RollupSettings
from hub.stores.duckdb import DuckDBStore
from hub.stores.influxdb import InfluxDBStore
from hub.stores.retention_guard import RetentionGuard
from hub.stores.spool import SpooledStore
from hub.timestamps import FixedClock
from tests.conftest import fresh_database
from tests.servers_influx import RunningServer
from tests.stores.test_rollups import batches, influx_rolled, rolled_and_raw

S = 1_000_000_000
M = 60 * S
H = 60 * M
D = 24 * H
T0 = 1_699_920_000 * S  # a whole day (2023-11-14 00:00 UTC)
PLAN = RollupSettings().plan()  # the default plan: what the hub keeps
MAX_POINTS = 100_000
_runs = itertools.count()

PROPULSION = {"v0": "electric", "v1": "diesel", "v2": None}  # v2: unknown to the registry


@pytest.fixture(params=["duckdb", pytest.param("influxdb", marks=pytest.mark.influxdb)])
def make_pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A factory of fresh (rolled, raw) store pairs of one kind: bus-km reads every vehicle
    of ``bus_position``, so each example gets stores of its own."""
    opened: list[Store] = []

    def make() -> tuple[Store, Store]:
        pair = rolled_and_raw(request, tmp_path_factory, PLAN)
        opened.extend(pair)
        return pair

    yield make
    for store in opened:
        store.close()


def fix(device: str, route: str, second: int, fields: dict[str, float]) -> Point:
    tags = {"device": device, "route": route}
    if PROPULSION[device]:
        tags["propulsion"] = PROPULSION[device]  # type: ignore[assignment]
    return Point("bus_position", tags, fields, T0 + second * S)


@st.composite
def histories(draw: st.DrawFn, half_fixes: bool) -> list[Point]:
    """Fixes of three vehicles at distinct seconds of each, over two days from ``T0``: v0
    reports an odometer (rises, resets), v1 and v2 do not; v2 switches from route r2 to r3 at
    a random second. ``half_fixes``: now and then a point with a latitude only, or with
    neither coordinate."""
    points = []
    switch = draw(st.integers(0, 2 * 86_400))
    for device in ("v0", "v1", "v2"):
        count = draw(st.integers(0, 25))
        seconds = draw(
            st.lists(st.integers(0, 2 * 86_400), min_size=count, max_size=count, unique=True)
        )
        odometer = 50_000
        for second in sorted(seconds):
            shape = draw(st.integers(0, 5)) if half_fixes else 5  # 0: no fix, 1: half a fix
            fields: dict[str, float] = {}
            if shape >= 1:
                fields["latitude"] = 52 + draw(st.integers(0, 4096)) / 8192
            if shape >= 2:
                fields["longitude"] = 13 + draw(st.integers(0, 4096)) / 8192
            if shape == 0 or draw(st.booleans()):
                fields["speed_mps"] = draw(st.integers(0, 80)) / 4
            if device == "v0":
                odometer = draw(st.sampled_from([odometer + draw(st.integers(0, 900)), 10]))
                fields["odometer_m"] = float(odometer)
            route = "r1" if device != "v2" else ("r2" if second < switch else "r3")
            points.append(fix(device, route, second, fields))
    return points


@st.composite
def ranges(draw: st.DrawFn) -> tuple[int, int, int, bool]:
    """(start, end, every, aligned): whole hours (rollups answer), or a start inside an hour."""
    start = T0 + draw(st.integers(0, 36)) * H
    end = start + draw(st.integers(1, 30)) * H
    every = draw(st.sampled_from([H, 2 * H, D]))
    aligned = draw(st.booleans())
    if not aligned:
        start += draw(st.integers(1, 59)) * M
    return start, end, every, aligned


def assert_same_km(rolled: dict[int, dict[str, float]], raw: dict[int, dict[str, float]]) -> None:
    assert {w: sorted(kinds) for w, kinds in rolled.items()} == {
        w: sorted(kinds) for w, kinds in raw.items()
    }
    for window, kinds in raw.items():
        for kind, km in kinds.items():
            assert rolled[window][kind] == pytest.approx(km, rel=1e-9, abs=1e-9), (window, kind)


def write_both(rolled: Store, raw: Store, parts: list[list[Point]]) -> None:
    for batch in parts:
        assert rolled.write(batch) == []
        assert raw.write(batch) == []


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_bus_answers_from_rollups_are_the_raw_answers(make_pair, data: st.DataObject) -> None:
    rolled, raw = make_pair()
    half_fixes = data.draw(st.booleans())
    points = data.draw(histories(half_fixes))
    write_both(rolled, raw, data.draw(batches(points)))
    for _ in range(4):
        start, end, every, aligned = data.draw(ranges())
        speed = AggregateQuery(
            "bus_position", "speed_mps", "mean", start, end, every_ns=every, group_by=("route",)
        )
        assert rolled.aggregate(speed) == raw.aggregate(speed)
        odometer = AggregateQuery(
            "bus_position",
            "odometer_m",
            "increase",
            start,
            end,
            every_ns=every,
            group_by=("device", "propulsion"),
        )
        assert rolled.aggregate(odometer) == raw.aggregate(odometer)
        for query in (speed, odometer):  # answered from the rollups where they align
            covered = rolled.rollup_coverage  # type: ignore[attr-defined]
            assert (rollup_for(query, PLAN, covered) is not None) == aligned
        km = bus_km(rolled, start, end, every, MAX_POINTS, PLAN)
        assert_same_km(km, bus_km(raw, start, end, every, MAX_POINTS))
        # and the rollups did answer where they can: whole intervals, fixes with both
        # coordinates, and no vehicle whose series interleave (v2 switches route once)
        from_rollups = fix_km_from_rollups(
            rolled, PLAN, ("v1", "v2"), start, end, every, MAX_POINTS
        )
        assert (from_rollups is not None) == (aligned and not _half_fixes(points, start, end))


def _half_fixes(points: list[Point], start_ns: int, end_ns: int) -> bool:
    """Whether a point of v1 or v2 in the range has a latitude without a longitude."""
    return any(
        "latitude" in p.fields and "longitude" not in p.fields
        for p in points
        if p.tags["device"] != "v0" and start_ns <= p.time_ns < end_ns
    )


def test_late_fixes_correct_their_interval(make_pair) -> None:
    """A fix landing late, inside an hour already rolled up, lengthens that hour's path; one
    landing before a later hour's first fix moves that hour's step, not its row."""
    rolled, raw = make_pair()
    on_time = [fix("v1", "r1", s, {"latitude": 52.0 + s / 1e5, "longitude": 13.0}) for s in
               (60, 3000, 3700, 7300)]  # fmt: skip
    write_both(rolled, raw, [on_time])
    before = bus_km(rolled, T0, T0 + 3 * H, H, MAX_POINTS, PLAN)
    late = [fix("v1", "r1", 1800, {"latitude": 52.5, "longitude": 13.5})]
    write_both(rolled, raw, [late])
    after = bus_km(rolled, T0, T0 + 3 * H, H, MAX_POINTS, PLAN)
    assert after[T0]["diesel"] > before[T0]["diesel"] + 100  # a detour of ~50 km each way
    assert fix_km_from_rollups(rolled, PLAN, ("v1",), T0, T0 + 3 * H, H, MAX_POINTS) is not None
    assert_same_km(after, bus_km(raw, T0, T0 + 3 * H, H, MAX_POINTS))


def test_a_vehicle_switching_routes_back_and_forth_in_an_hour_reads_raw_fixes(
    make_pair,
) -> None:
    """Routes A, B, A within one hour: the hour has two rows of the vehicle whose fixes
    interleave, and no order of the rows is its path; the answer comes from the raw fixes."""
    rolled, raw = make_pair()
    trips = [("r1", 60), ("r2", 600), ("r1", 1200), ("r1", 4000)]
    fixes = [
        fix("v2", route, s, {"latitude": 52.0 + s / 1e4, "longitude": 13.0}) for route, s in trips
    ]
    write_both(rolled, raw, [fixes])
    assert fix_km_from_rollups(rolled, PLAN, ("v2",), T0, T0 + 2 * H, H, MAX_POINTS) is None
    km = bus_km(rolled, T0, T0 + 2 * H, H, MAX_POINTS, PLAN)
    assert_same_km(km, bus_km(raw, T0, T0 + 2 * H, H, MAX_POINTS))
    assert km[T0]["unknown"] == pytest.approx(0.114 * 111.195, rel=1e-4)  # 60 s -> 1200 s


def test_routes_alternating_within_a_day_are_chained_from_the_hours(make_pair) -> None:
    """Routes A, B, A in three different hours of one day: the day's rows interleave, the
    hours' do not, so daily bus-km come from the hourly rollup."""
    rolled, raw = make_pair()
    trips = [("r1", 60), ("r1", 1800), ("r2", 4000), ("r2", 5000), ("r1", 8000), ("r1", 9000)]
    fixes = [
        fix("v1", route, s, {"latitude": 52.0 + s / 1e5, "longitude": 13.0}) for route, s in trips
    ]
    write_both(rolled, raw, [fixes])
    daily = RollupSettings(intervals={"bus_position": ["1d"]}).plan()
    assert fix_km_from_rollups(rolled, daily, ("v1",), T0, T0 + D, D, MAX_POINTS) is None
    km = fix_km_from_rollups(rolled, PLAN, ("v1",), T0, T0 + D, D, MAX_POINTS)
    assert km is not None
    assert_same_km(km, bus_km(raw, T0, T0 + D, D, MAX_POINTS))


def test_behind_the_spool_and_the_retention_guard_bus_km_still_read_rollups(
    make_pair, tmp_path
) -> None:
    """The API reads a store through the retention guard, and an InfluxDB hub writes
    through its spool: both show the rollups' coverage, so bus-km is routed as the store
    routes its aggregates."""
    rolled, raw = make_pair()
    spool = SpooledStore(rolled, tmp_path / "spool", 1 << 20, lambda _: None)
    api = RetentionGuard(spool, Retention(0, 0, PLAN.names), FixedClock(T0 + 3 * D), PLAN)
    fixes = [fix("v1", "r1", s, {"latitude": 52 + s / 1e5, "longitude": 13.0}) for s in
             range(0, 3 * 3600, 600)]  # fmt: skip
    try:
        assert spool.write(fixes) == []
        assert spool.flush(timeout_s=30)
        assert raw.write(fixes) == []
        assert fix_km_from_rollups(api, PLAN, ("v1",), T0, T0 + D, D, MAX_POINTS) is not None
        assert_same_km(
            bus_km(api, T0, T0 + D, H, MAX_POINTS, PLAN), bus_km(raw, T0, T0 + D, H, MAX_POINTS)
        )
    finally:
        spool.close()


@pytest.mark.parametrize(
    "backend", ["duckdb", pytest.param("influxdb", marks=pytest.mark.influxdb)]
)
def test_rebuilt_rollups_give_the_bus_km_of_fixes_stored_before(
    backend: str, request: pytest.FixtureRequest, tmp_path
) -> None:
    """Fixes stored before bus rollups were on (a hub upgraded to this plan): not claimed by
    the rollups until ``cityhub rollups rebuild`` recomputes them, path fields included."""
    fixes = [fix("v1", "r1", s, {"latitude": 52 + s / 1e5, "longitude": 13 + s / 2e5}) for s in
             range(0, 5 * 3600, 420)]  # fmt: skip
    if backend == "duckdb":
        plain: Store = DuckDBStore(tmp_path / "old.duckdb")
        assert plain.write(fixes) == []
        plain.close()
        rolled: Store = DuckDBStore(tmp_path / "old.duckdb", rollups=PLAN)
        raw = rolled  # bus_km without the plan reads the raw fixes
    else:
        server: RunningServer = request.getfixturevalue("influxd")
        database = fresh_database(server)
        raw = InfluxDBStore(server.url, database, api="v1")
        assert raw.write(fixes) == []
        rolled = influx_rolled(server, database, PLAN)
    try:
        assert fix_km_from_rollups(rolled, PLAN, ("v1",), T0, T0 + D, H, MAX_POINTS) is None
        rolled.rebuild_rollups(T0)  # type: ignore[attr-defined]
        km = fix_km_from_rollups(rolled, PLAN, ("v1",), T0, T0 + D, H, MAX_POINTS)
        assert km is not None and len(km) == 5
        assert_same_km(km, bus_km(raw, T0, T0 + D, H, MAX_POINTS))
    finally:
        rolled.close()
        if raw is not rolled:
            raw.close()
