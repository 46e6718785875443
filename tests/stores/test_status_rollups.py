"""Status rollups answer utilization exactly as the raw status reports do: on random
histories of connectors (OCPP 1.6 statuses, 2.0.1 transactions whose later events name no
connector, connector 0), written in random batches and order (late data, redeliveries), the
same store answers the same windows from its rollups as from every report, on a real DuckDB
file and a real InfluxDB server, for windows and ranges that do and do not align."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.contracts import Store
from hub.devices import DeviceRegistry
from hub.insights.chargers import Utilization, utilization_windows
from hub.insights.context import Context
from hub.insights.events import Event
from hub.insights.status_rollups import status_rollup_for
from hub.points import Point
from hub.query import PointsQuery
from hub.rollups import RollupPlan
from hub.rollups import status as status_rollups
from hub.rollups.status import Span, spans
from hub.settings import InsightsSettings
from hub.stores.duckdb import DuckDBStore
from hub.stores.influxdb import InfluxDBStore
from tests.conftest import fresh_database
from tests.servers_influx import RunningServer
from tests.stores.test_rollups import influx_rolled

S = 1_000_000_000
M = 60 * S
H = 60 * M
D = 24 * H
T0 = 1_699_920_000 * S  # a whole day (2023-11-14 00:00 UTC)
PLAN = RollupPlan.from_labels({}, ["1h", "1d"])
STATUSES = ["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Faulted"]
STATES = ["EVConnected", "Charging", "SuspendedEV", "SuspendedEVSE", "Idle"]
_runs = itertools.count()


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("influxdb", marks=pytest.mark.influxdb)]
)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """A store keeping status rollups; each example writes a site of its own."""
    if request.param == "duckdb":
        folder = tmp_path_factory.mktemp("status-rollups")
        kept: Store = DuckDBStore(folder / "rolled.duckdb", rollups=PLAN, rollup_flush_s=0.0)
    else:
        server: RunningServer = request.getfixturevalue("influxd")
        kept = influx_rolled(server, fresh_database(server), PLAN)
    yield kept
    kept.close()


@st.composite
def histories(draw: st.DrawFn, site: str) -> list[Point]:
    """Status reports of up to three connectors (and the station's connector 0) over five
    days, each at a whole second: 1.6 statuses, or 2.0.1 transactions (``Occupied`` with a
    transaction whose first event names the connector and whose later ones do not)."""
    points: list[Point] = []
    for number in range(draw(st.integers(1, 3))):
        device = f"cp-{site}-{number % 2}"  # a device belongs to one site
        connector = str(draw(st.sampled_from(["0", "1", "2"])) if number == 2 else number + 1)
        tags = {"device": device, "site": site, "connector": connector}
        station = {"device": device, "site": site}
        seconds = sorted(
            set(draw(st.lists(st.integers(-2 * D // S, 3 * D // S), min_size=1, max_size=14)))
        )
        for index, second in enumerate(seconds):
            at = T0 + second * S
            if draw(st.booleans()):
                status = draw(st.sampled_from(STATUSES))
                points.append(Point("charger_status", tags, {"status": status}, at))
                continue
            session = f"tx-{device}-{connector}-{index}"
            points.append(Point("charger_status", tags, {"status": "Occupied"}, at))
            started = {"session_id": session, "event": "started", "charging_state": "EVConnected"}
            points.append(Point("charger_session", tags, started, at))
            # as a station sends them: the transaction's updates before the next status
            until_s = seconds[index + 1] - second if index + 1 < len(seconds) else 6 * H // S
            for step in draw(
                st.lists(st.integers(1, max(1, until_s - 1)), max_size=3, unique=True)
            ):
                state = draw(st.sampled_from(STATES))
                fields = {"session_id": session, "event": "updated", "charging_state": state}
                points.append(Point("charger_session", station, fields, at + step * S))
    return points


def in_station_order(shuffled: list[Point]) -> list[Point]:
    """``shuffled`` with each device's transaction points (its ``Occupied`` reports and its
    sessions' events) put back in time order in the places they took: a station sends a
    transaction's messages in order, while anything may arrive late or twice. (A
    transaction's later events stored before its first are matched to no connector, in both
    answers, but the rows of their intervals are not recomputed when the first arrives.)"""

    def transaction(point: Point) -> bool:
        return point.measurement == "charger_session" or point.fields.get("status") == "Occupied"

    queues: dict[str, list[Point]] = {}
    for point in sorted(shuffled, key=lambda p: (p.time_ns, p.measurement != "charger_status")):
        if transaction(point):
            queues.setdefault(point.tags["device"], []).append(point)
    return [queues[p.tags["device"]].pop(0) if transaction(p) else p for p in shuffled]


def context(store: Store, now_ns: int, rolled: bool) -> Context:
    return Context(
        store,
        DeviceRegistry(),
        InsightsSettings(),
        100_000,
        now_ns,
        PLAN if rolled else RollupPlan({}),
    )


def both(store: Store, site: str, start: int, end: int, every: int, now: int) -> Utilization:
    """The answer from the rollups, checked equal to the raw one (and the rollup is read
    whenever the windows are whole hours or days over a range of several)."""
    until = min(end, now)
    covered = store.rollup_coverage  # type: ignore[attr-defined]
    chosen = status_rollup_for(PLAN.status, covered, start, until, every, 7 * D)
    if every % H:
        assert chosen is None
    elif until - start >= 3 * every:
        assert chosen is not None
    where = {"site": (site,)}
    raw = utilization_windows(context(store, now, False), where, start, end, every, "w")
    rolled = utilization_windows(context(store, now, True), where, start, end, every, "w")
    assert rolled.model_dump() == raw.model_dump()
    return rolled


QUERIES = st.tuples(
    st.integers(-2 * 24, 4 * 24),  # start, in hours from T0
    st.sampled_from([0, 0, 17 * M + 3 * S]),  # start on an interval boundary, or not
    st.sampled_from([H, 2 * H, D, 30 * M]),  # every (30 min: no rollup answers)
    st.integers(2, 3 * 24),  # length, in hours
    st.sampled_from([0, 0, 41 * M]),  # end on a boundary, or not
    st.integers(-3 * 24, 24 * 6),  # now, in hours from the end
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_rollups_answer_utilization_as_raw_reports_do(store: Store, data: st.DataObject) -> None:
    site = f"s-{next(_runs)}"
    points = data.draw(histories(site))
    order = in_station_order(data.draw(st.permutations(points)))
    cut = data.draw(st.integers(0, len(order)))
    queries = data.draw(st.lists(QUERIES, min_size=1, max_size=4))
    redelivered = order[: cut // 2]
    # A redelivery goes in one batch per measurement: DuckDB refuses (once, then heals) a
    # batch whose stored keys are in two tables (its merge retry covers one table).
    for batch in (
        order[:cut],
        order[cut:],  # late data for the intervals rolled up above
        [p for p in redelivered if p.measurement == "charger_status"],
        [p for p in redelivered if p.measurement == "charger_session"],
    ):
        if batch:
            assert store.write(batch) == []
        for hours, offset, every, length, end_offset, now_hours in queries:
            start = T0 + hours * H + offset
            end = T0 + (hours + length) * H + end_offset
            now = max(end + now_hours * 15 * M, start + M)
            both(store, site, start, end, every, now)


def test_the_rollup_is_read_when_it_answers() -> None:
    """The routing the property test relies on: a whole-hour or whole-day window over a
    covered range picks the coarsest rollup, anything else reads raw reports."""
    hour, day = PLAN.status
    ever = {hour.name: -(2**62), day.name: -(2**62)}
    week = 7 * D
    assert status_rollup_for(PLAN.status, ever, T0, T0 + 3 * D, D, week) == day
    assert status_rollup_for(PLAN.status, ever, T0 + 5 * M, T0 + 3 * D, H, week) == hour
    assert status_rollup_for(PLAN.status, ever, T0, T0 + 3 * D, 30 * M, week) is None
    assert status_rollup_for(PLAN.status, ever, T0 + 30 * M, T0 + 90 * M, H, week) is None
    late = {hour.name: T0 - week + H, day.name: T0}
    assert status_rollup_for(PLAN.status, late, T0, T0 + 3 * D, H, week) is None


def test_a_day_composed_of_its_hours_is_the_day_of_its_reports() -> None:
    """Span composition: the daily row from the hourly rows equals the row of the reports."""
    reports = [
        Event({}, T0 + t * M, {"status": s})
        for t, s in [(5, "Charging"), (70, "Charging"), (130, "Available"), (200, "Preparing")]
    ]
    hours = spans(reports, H)
    [day] = spans(reports, D).values()
    composed: Span | None = None
    for bucket in sorted(hours):
        composed = hours[bucket] if composed is None else composed.then(hours[bucket])
    assert composed == day
    assert day.within.charging_ns == 125 * M and day.within.observed_ns == 195 * M
    assert day.within.occupied_ns == 125 * M


def fixed_history(site: str) -> list[Point]:
    """Two connectors over two days, one of them a 2.0.1 transaction."""
    one = {"device": f"cp-{site}", "site": site, "connector": "1"}
    two = {**one, "connector": "2"}
    station = {"device": f"cp-{site}", "site": site}
    tx = {"session_id": f"tx-{site}", "event": "started", "charging_state": "EVConnected"}
    return [
        Point("charger_status", one, {"status": "Available"}, T0 - 3 * H + 7 * S),
        Point("charger_status", one, {"status": "Charging"}, T0 + 5 * H + 11 * S),
        Point("charger_status", one, {"status": "Available"}, T0 + 30 * H),
        Point("charger_status", two, {"status": "Occupied"}, T0 + 2 * H + 5 * S),
        Point("charger_session", two, tx, T0 + 2 * H + 5 * S),
        Point("charger_session", station, {**tx, "event": "updated", "charging_state": "Charging"},
              T0 + 4 * H + 13 * S),
        Point("charger_status", two, {"status": "Available"}, T0 + 40 * H),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "backend", ["duckdb", pytest.param("influxdb", marks=pytest.mark.influxdb)]
)
def test_rebuild_covers_status_stored_before_the_rollups(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Reports stored before the status rollups were enabled: utilization reads them raw
    until ``rebuild_rollups`` has rolled them up, then reads the rollups, with one answer."""
    if backend == "duckdb":
        plain: Store = DuckDBStore(tmp_path / "old.duckdb")
        assert plain.write(fixed_history("s-old")) == []
        plain.close()
        rolled: DuckDBStore | InfluxDBStore = DuckDBStore(tmp_path / "old.duckdb", rollups=PLAN)
    else:
        server: RunningServer = request.getfixturevalue("influxd")
        database = fresh_database(server)
        plain = InfluxDBStore(server.url, database, api="v1")
        assert plain.write(fixed_history("s-old")) == []
        plain.close()
        rolled = influx_rolled(server, database, PLAN)
        assert rolled.write([Point("other", {}, {"x": 1.0}, T0)]) == []  # records coverage
    start, end, now = T0 - D, T0 + 2 * D, T0 + 3 * D
    raw = utilization_windows(context(rolled, now, False), {}, start, end, H, "1h")
    assert any(w.charging_s for w in raw.windows)

    def chosen() -> object:
        return status_rollup_for(PLAN.status, rolled.rollup_coverage, start, end, H, 7 * D)

    assert chosen() is None
    steps: list[tuple[str, int, int]] = []
    rolled.rebuild_rollups(start - 7 * D, lambda *step: steps.append(step))
    assert steps[-1][0] == "charger_status" and steps[-1][1] == steps[-1][2]
    assert chosen() == PLAN.status[0]
    assert utilization_windows(context(rolled, now, True), {}, start, end, H, "1h") == raw
    rolled.close()


def test_duckdb_rolls_up_status_a_crash_left_pending(tmp_path: Path) -> None:
    """The (device, hour) pairs a batch touched are recorded in its own transaction: a file
    closed before they were rolled up rolls them up when opened again, before a read."""
    store = DuckDBStore(tmp_path / "a.duckdb", rollups=PLAN, rollup_flush_s=3600.0)
    assert store.write(fixed_history("s-a")) == []
    store.close()  # nothing rolled up yet
    store = DuckDBStore(tmp_path / "a.duckdb", rollups=PLAN, rollup_flush_s=3600.0)
    start, end, now = T0, T0 + 2 * D, T0 + 2 * D
    rolled = utilization_windows(context(store, now, True), {}, start, end, D, "1d")
    assert rolled == utilization_windows(context(store, now, False), {}, start, end, D, "1d")
    hours = store.points(PointsQuery("charger_status_1h", T0 - D, T0 + 2 * D))
    assert len(hours) == 6  # one row per connector and hour with a report
    store.close()


def test_duckdb_rolls_up_status_beside_a_stream_of_batches(tmp_path: Path) -> None:
    """The store's thread recomputes the status rollups beside the ingest (the write lock
    held only for its snapshot) while batches of reports keep landing, late ones and
    redeliveries among them, and utilization is asked meanwhile. Once the stream stops the
    rollups catch up by themselves, batches committed during a recompute included, and the
    rolled-up answer is the raw one."""
    rng = random.Random(15)
    store = DuckDBStore(tmp_path / "s.duckdb", rollups=PLAN, rollup_flush_s=0.002)
    points = [
        Point(
            "charger_status",
            {"device": f"cp-{n // 2}", "site": f"s-{n // 4}", "connector": str(n % 2 + 1)},
            {"status": rng.choice(STATUSES)},
            T0 + second * S,
        )
        for n in range(8)
        for second in rng.sample(range(-D // S, 2 * D // S), 150)
    ]
    rng.shuffle(points)  # late reports for intervals rolled up already
    batches = [points[i : i + 20] for i in range(0, len(points), 20)]
    batches += rng.sample(batches, 6)  # redeliveries
    failures: list[BaseException] = []

    def ingest() -> None:
        try:
            for batch in batches:
                assert store.write(batch) == []
        except BaseException as error:  # reported by the test's thread
            failures.append(error)

    start, end, now = T0 - D, T0 + 2 * D, T0 + 2 * D
    writer = threading.Thread(target=ingest)
    writer.start()
    while writer.is_alive():  # queries meanwhile: each flushes what it reads first
        utilization_windows(context(store, now, True), {}, start, end, H, "1h")
    writer.join()
    assert failures == []
    deadline = time.monotonic() + 10
    while store._pending and time.monotonic() < deadline:  # caught up without a query
        time.sleep(0.01)
    assert not store._pending
    for every, label in ((H, "1h"), (D, "1d")):
        rolled = utilization_windows(context(store, now, True), {}, start, end, every, label)
        raw = utilization_windows(context(store, now, False), {}, start, end, every, label)
        assert rolled == raw
        assert sum(w.charging_s or 0 for w in raw.windows) > 0
    store.close()


def test_a_batch_committed_during_a_status_recompute_is_rolled_up_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of reports commits while the status rollups are being recomputed (the ingest
    is not held for the recompute), and its intervals stay pending: the next read brings
    them in, and the answer is the raw one."""
    store = DuckDBStore(tmp_path / "r.duckdb", rollups=PLAN, rollup_flush_s=3600.0)
    history = fixed_history("s-r")
    assert store.write(history[:3]) == []
    recompute = status_rollups.recompute
    during: list[threading.Thread] = []

    def recompute_while_a_batch_lands(*args: Any) -> None:
        if not during:
            writer = threading.Thread(target=store.write, args=(history[3:],))
            during.append(writer)
            writer.start()
            writer.join(5)
            assert not writer.is_alive(), "the batch waited for the recompute"
        recompute(*args)

    monkeypatch.setattr(status_rollups, "recompute", recompute_while_a_batch_lands)
    assert store._flush_rollups()
    assert during and "charger_status" in store._pending  # the batch is still to roll up
    start, end, now = T0 - D, T0 + 2 * D, T0 + 2 * D
    rolled = utilization_windows(context(store, now, True), {}, start, end, H, "1h")
    assert rolled == utilization_windows(context(store, now, False), {}, start, end, H, "1h")
    assert status_rollup_for(PLAN.status, store.rollup_coverage, start, now, H, 7 * D)
    store.close()
