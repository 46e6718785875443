"""The counter-increase rule: :func:`hub.increase.increase` is the rule, and both stores'
``increase`` answers (DuckDB's SQL, InfluxDB's Python over InfluxQL readings) must equal it on
random counter series with rises, small dips, resets and repeated readings."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.contracts import Store
from hub.increase import RESET_BELOW, counter_step, increase
from hub.points import Point
from hub.query import AggregateQuery, Bucket, SeriesResult
from hub.stores.duckdb import DuckDBStore
from hub.stores.influxdb import InfluxDBStore
from tests.conftest import fresh_database
from tests.servers_influx import RunningServer

M = 60 * 1_000_000_000
H = 60 * M
T0 = 1_699_999_200 * 1_000_000_000  # a whole hour
_measurements = itertools.count()


def test_the_rule_by_hand() -> None:
    # the conformance suite's first hour: anchor 1000, +10, +20, a reset to 5 counts 5
    assert increase([1000.0, 1010.0, 1030.0, 5.0]) == 35.0
    assert increase([]) == 0.0
    assert increase([42.0]) == 0.0  # the first reading counts nothing
    assert counter_step(None, 7.0) == 0.0
    assert counter_step(100.0, RESET_BELOW * 100.0) == RESET_BELOW * 100.0 - 100.0  # a dip
    assert counter_step(100.0, 89.0) == 89.0  # below 90 %: a reset, counted from zero
    assert increase([200_000_000.0, 199_999_999.8, 200_000_001.0]) == pytest.approx(1.0)


# A counter's readings: integers (exact in binary, so sums do not depend on their order)
# drawn freely around the one before, which gives rises, small dips, dips at the threshold,
# resets to zero or near it, and repeated readings.
def _next(previous: int) -> st.SearchStrategy[int]:
    return st.one_of(
        st.integers(previous, previous + 1_000),  # a rise (or the same reading again)
        st.integers(previous * 9 // 10, previous),  # a small dip, down to the threshold
        st.integers(0, max(previous * 9 // 10, 0)),  # a reset (or a dip at the threshold)
        st.just(previous * 9 // 10),  # at the threshold (exactly, when previous ends in 0)
    )


@st.composite
def counter_series(draw: st.DrawFn) -> list[float]:
    readings = [draw(st.integers(0, 10_000)) * draw(st.sampled_from([1, 10]))]
    for _ in range(draw(st.integers(0, 25))):
        readings.append(draw(_next(readings[-1])))
    return [float(reading) for reading in readings]


@st.composite
def devices(draw: st.DrawFn) -> dict[str, list[tuple[int, float]]]:
    """One or two counters, each read at distinct minutes from 90 minutes before ``T0`` to
    three hours after it (the query covers ``[T0, T0 + 2 h)`` in hourly windows)."""
    found = {}
    for device in draw(st.sampled_from([("d1",), ("d1", "d2")])):
        readings = draw(counter_series())
        minutes = draw(
            st.lists(
                st.integers(-90, 179), min_size=len(readings), max_size=len(readings), unique=True
            )
        )
        found[device] = [
            (T0 + minute * M, reading)
            for minute, reading in zip(sorted(minutes), readings, strict=True)
        ]
    return found


def test_increase_is_additive() -> None:
    """Hourly increases add up to the daily one: split anywhere, the anchor shared."""

    @given(counter_series(), st.data())
    def check(readings: list[float], data: st.DataObject) -> None:
        cut = data.draw(st.integers(0, max(len(readings) - 1, 0)))
        assert increase(readings[: cut + 1]) + increase(readings[cut:]) == increase(readings)

    check()


def expected(series: dict[str, list[tuple[int, float]]], every_ns: int) -> list[SeriesResult]:
    """Per window of ``[T0, T0 + 2 h)``, the sum over the series of the rule applied to the
    last reading before the window and the readings in it."""
    windows: dict[int, float] = {}
    for readings in series.values():
        for start in range(T0, T0 + 2 * H, every_ns):
            inside = [value for time, value in readings if start <= time < start + every_ns]
            if inside:
                before = [value for time, value in readings if time < start][-1:]
                windows[start] = windows.get(start, 0.0) + increase(before + inside)
    if not windows:
        return []
    return [SeriesResult({}, [Bucket(start, value) for start, value in sorted(windows.items())])]


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("influxdb", marks=pytest.mark.influxdb)]
)
def module_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """One store for all examples (each writes its own measurement): a store per example
    would cost a database or a file each."""
    if request.param == "duckdb":
        duck = DuckDBStore(tmp_path_factory.mktemp("increase") / "increase.duckdb")
        yield duck
        duck.close()
    else:
        server: RunningServer = request.getfixturevalue("influxd")
        influx = InfluxDBStore(server.url, fresh_database(server), api="v1")
        yield influx
        influx.close()


@settings(max_examples=60, deadline=None)
@given(series=devices(), every_ns=st.sampled_from([H, 2 * H]))
def test_the_store_answers_the_rule(
    module_store: Store, series: dict[str, list[tuple[int, float]]], every_ns: int
) -> None:
    measurement = f"meter{next(_measurements)}"
    refused = module_store.write(
        [
            Point(measurement, {"device": device}, {"energy_wh": value}, time)
            for device, readings in series.items()
            for time, value in readings
        ]
    )
    assert refused == []
    query = AggregateQuery(measurement, "energy_wh", "increase", T0, T0 + 2 * H, every_ns=every_ns)
    answer = module_store.aggregate(query)
    want = expected(series, every_ns)
    assert [result.tags for result in answer] == [result.tags for result in want]
    assert [[bucket.time_ns for bucket in r.buckets] for r in answer] == [
        [bucket.time_ns for bucket in r.buckets] for r in want
    ]
    assert [[bucket.value for bucket in r.buckets] for r in answer] == [
        [pytest.approx(bucket.value, rel=1e-12, abs=1e-9) for bucket in r.buckets] for r in want
    ]
