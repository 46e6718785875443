"""One conformance suite for every store: the same points written, the same queries asked, the
same answers (exact values), against a real DuckDB file and a real InfluxDB server (1.x,
``/write`` and InfluxQL ``/query``)."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from hub.contracts import Store
from hub.errors import QueryError
from hub.points import Point
from hub.query import (
    AggregateQuery,
    Bucket,
    DeviceInfo,
    LatestQuery,
    LatestRow,
    MeasurementInfo,
    PointRow,
    PointsQuery,
    SeriesResult,
    SumOfMeansQuery,
)

S = 1_000_000_000
M = 60 * S
H = 60 * M
T0 = 1_699_999_200 * 1_000_000_000  # a whole hour (2023-11-14 22:00 UTC)
SPECIAL = "m 3,x=\"q'"  # a device id with a space, comma, equals sign and both quotes


def energy(device: str, minutes: int, power_w: float, building: str | None) -> Point:
    tags = {"device": device} | ({"building": building} if building else {})
    return Point("energy", tags, {"power_w": power_w}, T0 + minutes * M)


ENERGY = [
    energy("m1", 0, 10.0, "b1"),
    energy("m1", 15, 20.0, "b1"),
    energy("m1", 30, 30.0, "b1"),
    energy("m1", 45, 40.0, "b1"),
    energy("m1", 60, 50.0, "b1"),  # exactly at the start of the second hour
    energy("m2", 5, 120.0, "b1"),
    energy("m2", 35, 200.0, "b1"),
    energy(SPECIAL, 10, 5.0, "b 2"),
    energy("m4", 20, 7.0, None),  # no building tag
]


def meter(device: str, minutes: int, energy_wh: float) -> Point:
    return Point("meter", {"device": device}, {"energy_wh": energy_wh}, T0 + minutes * M)


METER = [
    meter("c1", -30, 1000.0),  # the anchor before the range
    meter("c1", 0, 1010.0),
    meter("c1", 20, 1030.0),
    meter("c1", 40, 5.0),  # counter reset: counts from zero
    meter("c1", 60, 25.0),
    meter("c1", 80, 45.0),
    meter("c2", 10, 50.0),  # no anchor: its first reading counts 0
    meter("c2", 70, 60.0),
]


def hourly(function: str, **options: object) -> AggregateQuery:
    return AggregateQuery(
        "energy",
        "power_w",
        function,  # type: ignore[arg-type]
        T0,
        T0 + 2 * H,
        every_ns=H,
        group_by=("building",),
        **options,  # type: ignore[arg-type]
    )


def by_building(b1_first: float, b1_second: float, b2: float, none: float) -> list[SeriesResult]:
    return [
        SeriesResult({"building": ""}, [Bucket(T0, none)]),
        SeriesResult({"building": "b 2"}, [Bucket(T0, b2)]),
        SeriesResult({"building": "b1"}, [Bucket(T0, b1_first), Bucket(T0 + H, b1_second)]),
    ]


@pytest.mark.parametrize(
    ("function", "options", "expected"),
    [
        ("mean", {}, by_building(70.0, 50.0, 5.0, 7.0)),
        ("sum", {}, by_building(420.0, 50.0, 5.0, 7.0)),
        ("min", {}, by_building(10.0, 50.0, 5.0, 7.0)),
        ("max", {}, by_building(200.0, 50.0, 5.0, 7.0)),
        ("count", {}, by_building(6.0, 1.0, 1.0, 1.0)),
        ("first", {}, by_building(10.0, 50.0, 5.0, 7.0)),
        ("last", {}, by_building(40.0, 50.0, 5.0, 7.0)),
        # nearest rank: n=6, p=50 -> rank 3 of [10, 20, 30, 40, 120, 200]
        ("percentile", {"percentile": 50.0}, by_building(30.0, 50.0, 5.0, 7.0)),
        ("percentile", {"percentile": 90.0}, by_building(120.0, 50.0, 5.0, 7.0)),  # rank 5
    ],
)
def test_aggregate_functions_hourly_by_building(
    store: Store, function: str, options: dict[str, object], expected: list[SeriesResult]
) -> None:
    assert store.write(ENERGY) == []
    assert store.aggregate(hourly(function, **options)) == expected


def test_percentile_below_rank_one_omits_the_window(store: Store) -> None:
    store.write(ENERGY)
    # p=10: rank floor(6 * 0.1 + 0.5) = 1 in the first hour, floor(0.6) = 0 in the second
    assert store.aggregate(hourly("percentile", percentile=10.0, where={"building": ("b1",)})) == [
        SeriesResult({"building": "b1"}, [Bucket(T0, 10.0)])
    ]


def test_one_window_for_the_whole_range_starts_at_start(store: Store) -> None:
    store.write(ENERGY)
    start, end = T0 + 10 * M, T0 + 50 * M
    expected = {"sum": 302.0, "first": 5.0, "last": 40.0, "count": 6.0, "max": 200.0}
    for function, value in expected.items():
        query = AggregateQuery("energy", "power_w", function, start, end)  # type: ignore[arg-type]
        assert store.aggregate(query) == [SeriesResult({}, [Bucket(start, value)])], function


def test_empty_range_unknown_measurement_and_unknown_field(store: Store) -> None:
    store.write(ENERGY)
    assert store.aggregate(AggregateQuery("energy", "power_w", "sum", T0 + 3 * H, T0 + 4 * H)) == []
    assert store.aggregate(AggregateQuery("nothing", "power_w", "sum", T0, T0 + H)) == []
    late = AggregateQuery("energy", "power_w", "increase", T0 + 3 * H, T0 + 4 * H)
    assert store.aggregate(late) == []  # the lookback finds readings, the range none
    assert store.aggregate(AggregateQuery("energy", "nothing", "sum", T0, T0 + H)) == []
    assert store.latest(LatestQuery("nothing")) == []


def test_tag_filters_with_spaces_commas_and_quotes(store: Store) -> None:
    store.write(ENERGY)

    def total(where: dict[str, tuple[str, ...]]) -> list[SeriesResult]:
        return store.aggregate(
            AggregateQuery("energy", "power_w", "sum", T0, T0 + 2 * H, where=where)
        )

    assert total({"device": (SPECIAL,)}) == [SeriesResult({}, [Bucket(T0, 5.0)])]
    assert total({"building": ("b 2",)}) == [SeriesResult({}, [Bucket(T0, 5.0)])]
    assert total({"building": ("b1",), "device": ("m2", "nope")}) == [
        SeriesResult({}, [Bucket(T0, 320.0)])
    ]
    assert total({"device": ("m1", "m4")}) == [SeriesResult({}, [Bucket(T0, 157.0)])]
    assert total({"device": ()}) == []
    assert total({"missing_tag": ("m1",)}) == []
    assert total({"power_w": ("10",)}) == []  # a field is not a tag


def test_group_by_a_missing_tag_is_one_group_with_empty_value(store: Store) -> None:
    store.write(ENERGY)
    query = AggregateQuery("energy", "power_w", "count", T0, T0 + 2 * H, group_by=("floor",))
    assert store.aggregate(query) == [SeriesResult({"floor": ""}, [Bucket(T0, 9.0)])]


def test_window_edges_start_inclusive_end_exclusive(store: Store) -> None:
    store.write(ENERGY)
    m1 = {"device": ("m1",)}

    def count(start: int, end: int) -> list[SeriesResult]:
        query = AggregateQuery("energy", "power_w", "count", start, end, every_ns=H, where=m1)
        return store.aggregate(query)

    assert count(T0, T0 + H) == [SeriesResult({}, [Bucket(T0, 4.0)])]
    assert count(T0, T0 + H + 1) == [SeriesResult({}, [Bucket(T0, 4.0), Bucket(T0 + H, 1.0)])]
    assert count(T0 + H, T0 + 2 * H) == [SeriesResult({}, [Bucket(T0 + H, 1.0)])]
    # a range starting inside a window: the window keeps its aligned start
    assert count(T0 + 30 * M, T0 + 2 * H) == [
        SeriesResult({}, [Bucket(T0, 2.0), Bucket(T0 + H, 1.0)])
    ]
    quarter = AggregateQuery("energy", "power_w", "sum", T0, T0 + H, every_ns=15 * M, where=m1)
    assert store.aggregate(quarter) == [
        SeriesResult({}, [Bucket(T0 + i * 15 * M, 10.0 * (i + 1)) for i in range(4)])
    ]


def increase(**options: object) -> AggregateQuery:
    return AggregateQuery("meter", "energy_wh", "increase", T0, T0 + 2 * H, **options)  # type: ignore[arg-type]


def test_increase_across_a_reset_with_the_lookback_anchor(store: Store) -> None:
    store.write(METER)
    c1 = {"device": ("c1",)}
    # hour 1: (1010-1000) + (1030-1010) + 5 after the reset = 35; hour 2: 20 + 20 = 40
    assert store.aggregate(increase(every_ns=H, where=c1)) == [
        SeriesResult({}, [Bucket(T0, 35.0), Bucket(T0 + H, 40.0)])
    ]
    # hourly increases add up to the whole range's
    assert store.aggregate(increase(where=c1)) == [SeriesResult({}, [Bucket(T0, 75.0)])]
    # the anchor lies 30 minutes back: a 10-minute lookback misses it, the first reading is 0
    assert store.aggregate(increase(every_ns=H, where=c1, counter_lookback_ns=10 * M)) == [
        SeriesResult({}, [Bucket(T0, 25.0), Bucket(T0 + H, 40.0)])
    ]


def test_a_small_dip_is_not_a_reset(store: Store) -> None:
    """A register that dips by a rounding step (200,000.0 -> 199,999.8 Wh) has not been reset:
    the dip is a -0.2 Wh step the next reading makes up for, not 199,999.8 Wh of consumption.
    A fall below 90 % of the previous reading is a reset (a replaced meter)."""
    readings = [(0, 200_000.0), (10, 199_999.8), (20, 200_010.0), (70, 150_000.0), (80, 150_020.0)]
    store.write([meter("d1", minutes, wh) for minutes, wh in readings])
    query = increase(every_ns=H, where={"device": ("d1",)})
    [series] = store.aggregate(query)
    # hour 1: -0.2 + 10.2 = 10; hour 2: 150,000 is under 90 % of 200,010, a reset: 150,000 + 20
    assert [b.time_ns for b in series.buckets] == [T0, T0 + H]
    assert [b.value for b in series.buckets] == pytest.approx([10.0, 150_020.0])


def test_increase_computes_series_apart_then_sums_groups(store: Store) -> None:
    store.write(METER)
    assert store.aggregate(increase(every_ns=H, group_by=("device",))) == [
        SeriesResult({"device": "c1"}, [Bucket(T0, 35.0), Bucket(T0 + H, 40.0)]),
        SeriesResult({"device": "c2"}, [Bucket(T0, 0.0), Bucket(T0 + H, 10.0)]),
    ]
    assert store.aggregate(increase(every_ns=H)) == [
        SeriesResult({}, [Bucket(T0, 35.0), Bucket(T0 + H, 50.0)])
    ]


def test_idempotent_rewrite_is_one_point(store: Store) -> None:
    store.write(ENERGY)
    store.write(ENERGY)
    store.write(ENERGY[:3])
    query = AggregateQuery("energy", "power_w", "count", T0, T0 + 2 * H)
    assert store.aggregate(query) == [SeriesResult({}, [Bucket(T0, 9.0)])]
    total = AggregateQuery("energy", "power_w", "sum", T0, T0 + 2 * H)
    assert store.aggregate(total) == [SeriesResult({}, [Bucket(T0, 482.0)])]


def test_fields_written_apart_at_one_instant_merge(store: Store) -> None:
    tags = {"device": "ch1"}
    store.write([Point("charger", tags, {"power_w": 1.5}, T0)])
    store.write([Point("charger", tags, {"status": "Charging", "plugged": True}, T0)])
    store.write([Point("charger", tags, {"power_w": 2.5}, T0)])  # a later write wins
    assert store.latest(LatestQuery("charger")) == [
        LatestRow(tags, T0, {"power_w": 2.5, "status": "Charging", "plugged": True})
    ]
    [info] = store.catalog().measurements
    assert (info.points, info.series) == (1, 1)


def test_latest_per_series(store: Store) -> None:
    store.write(ENERGY)
    b1 = {"building": "b1"}
    assert store.latest(LatestQuery("energy")) == [
        LatestRow({"building": "b 2", "device": SPECIAL}, T0 + 10 * M, {"power_w": 5.0}),
        LatestRow(b1 | {"device": "m1"}, T0 + 60 * M, {"power_w": 50.0}),
        LatestRow(b1 | {"device": "m2"}, T0 + 35 * M, {"power_w": 200.0}),
        LatestRow({"device": "m4"}, T0 + 20 * M, {"power_w": 7.0}),
    ]
    assert store.latest(LatestQuery("energy", where={"device": (SPECIAL, "m4")})) == [
        LatestRow({"building": "b 2", "device": SPECIAL}, T0 + 10 * M, {"power_w": 5.0}),
        LatestRow({"device": "m4"}, T0 + 20 * M, {"power_w": 7.0}),
    ]
    assert store.latest(LatestQuery("energy", where={"device": ()})) == []


def test_latest_takes_each_field_last_value_and_newest_time(store: Store) -> None:
    tags = {"device": "ch1"}
    store.write(
        [
            Point("charger", tags, {"status": "Available"}, T0),
            Point("charger", tags, {"power_w": 11000.0}, T0 + 5 * M),
            Point("charger", tags, {"power_w": 7000.0}, T0 + 2 * M),
        ]
    )
    assert store.latest(LatestQuery("charger")) == [
        LatestRow(tags, T0 + 5 * M, {"status": "Available", "power_w": 11000.0})
    ]
    assert store.latest(LatestQuery("charger", fields=("status",))) == [
        LatestRow(tags, T0, {"status": "Available"})
    ]
    assert store.latest(LatestQuery("charger", fields=("nothing",))) == []


def test_latest_follows_writes_after_the_first_question(store: Store) -> None:
    tags = {"device": "ch2"}
    store.write([Point("charger", tags, {"power_w": 100.0, "status": "Charging"}, T0 + 10 * M)])
    assert store.latest(LatestQuery("charger"))[0].fields == {
        "power_w": 100.0,
        "status": "Charging",
    }
    store.write(
        [
            Point("charger", tags, {"power_w": 50.0}, T0 + 20 * M),  # newer: replaces
            Point("charger", tags, {"status": "Faulted"}, T0 + 5 * M),  # older: ignored
            Point("charger", {"device": "ch3"}, {"power_w": 1.0}, T0),  # a new series
        ]
    )
    assert store.latest(LatestQuery("charger")) == [
        LatestRow(tags, T0 + 20 * M, {"power_w": 50.0, "status": "Charging"}),
        LatestRow({"device": "ch3"}, T0, {"power_w": 1.0}),
    ]
    store.write([Point("charger", tags, {"power_w": 75.0}, T0 + 20 * M)])  # same instant
    assert store.latest(LatestQuery("charger", fields=("power_w",)))[0].fields == {"power_w": 75.0}


def test_catalog(store: Store) -> None:
    assert store.catalog().measurements == []
    store.write(ENERGY + METER)
    store.write(
        [Point("charger", {"device": "ch1"}, {"status": "Available", "plugged": False}, T0)]
    )
    catalog = store.catalog()
    measurements = [
        MeasurementInfo(
            info.name,
            info.fields,
            sorted(info.tag_keys),
            info.series,
            info.points,
            info.first_ns,
            info.last_ns,
        )
        for info in catalog.measurements
    ]
    assert measurements == [
        MeasurementInfo("charger", {"status": "str", "plugged": "bool"}, ["device"], 1, 1, T0, T0),
        MeasurementInfo(
            "energy", {"power_w": "float"}, ["building", "device"], 4, 9, T0, T0 + 60 * M
        ),
        MeasurementInfo(
            "meter", {"energy_wh": "float"}, ["device"], 2, 8, T0 - 30 * M, T0 + 80 * M
        ),
    ]
    assert catalog.devices == [
        DeviceInfo("ch1", "charger", T0, T0, 1),
        DeviceInfo(SPECIAL, "energy", T0 + 10 * M, T0 + 10 * M, 1),
        DeviceInfo("m1", "energy", T0, T0 + 60 * M, 5),
        DeviceInfo("m2", "energy", T0 + 5 * M, T0 + 35 * M, 2),
        DeviceInfo("m4", "energy", T0 + 20 * M, T0 + 20 * M, 1),
        DeviceInfo("c1", "meter", T0 - 30 * M, T0 + 80 * M, 6),
        DeviceInfo("c2", "meter", T0 + 10 * M, T0 + 70 * M, 2),
    ]


def test_a_type_conflict_refuses_that_point_and_stores_its_batch_mates(store: Store) -> None:
    store.write(ENERGY[:1])
    bad = Point("energy", {"device": "m9"}, {"power_w": "high"}, T0 + 1 * M)
    batch = [energy("m7", 1, 1.0, "b1"), bad, energy("m8", 2, 2.0, "b1")]
    refused = store.write(batch)
    assert [item.point for item in refused] == [bad]
    assert "power_w" in refused[0].reason
    query = AggregateQuery("energy", "power_w", "sum", T0, T0 + H, group_by=("device",))
    assert store.aggregate(query) == [
        SeriesResult({"device": "m1"}, [Bucket(T0, 10.0)]),
        SeriesResult({"device": "m7"}, [Bucket(T0, 1.0)]),
        SeriesResult({"device": "m8"}, [Bucket(T0, 2.0)]),
    ]


def test_values_round_trip_exactly(store: Store) -> None:
    tags = {"device": "a,b c=d\"e'f", "site": "Zürich Hbf ⚡"}
    fields = {
        "note": 'he said "hi" \\ back\\\nnew line, a=b',
        "empty": "",
        "on": False,
        "tiny": 1e-300,
        "big": 1.2345678901234567e20,
        "whole": 3.0,
        "negative": -0.5,
    }
    assert store.write([Point("odd", tags, fields, T0 + 1)]) == []
    [row] = store.latest(LatestQuery("odd"))
    assert row == LatestRow(tags, T0 + 1, fields)
    assert all(type(row.fields[name]) is type(value) for name, value in fields.items())


def test_numeric_function_on_a_string_field_is_a_query_error(store: Store) -> None:
    store.write([Point("charger", {"device": "ch1"}, {"status": "Available"}, T0)])
    with pytest.raises(QueryError):
        store.aggregate(AggregateQuery("charger", "status", "mean", T0, T0 + H))
    last = AggregateQuery("charger", "status", "last", T0, T0 + H)
    assert store.aggregate(last) == [SeriesResult({}, [Bucket(T0, "Available")])]  # type: ignore[arg-type]


def energy_row(device: str, minutes: int, power_w: float, building: str | None) -> PointRow:
    tags = {"device": device} | ({"building": building} if building else {})
    return PointRow(tags, T0 + minutes * M, {"power_w": power_w})


def test_points_of_a_range_in_time_order_start_inclusive_end_exclusive(store: Store) -> None:
    store.write(ENERGY)
    assert store.points(PointsQuery("energy", T0, T0 + H)) == [
        energy_row("m1", 0, 10.0, "b1"),
        energy_row("m2", 5, 120.0, "b1"),
        energy_row(SPECIAL, 10, 5.0, "b 2"),
        energy_row("m1", 15, 20.0, "b1"),
        energy_row("m4", 20, 7.0, None),  # no building tag: left out, not ""
        energy_row("m1", 30, 30.0, "b1"),
        energy_row("m2", 35, 200.0, "b1"),
        energy_row("m1", 45, 40.0, "b1"),
    ]  # m1 at T0 + 60 min lies at the end: excluded
    assert store.points(PointsQuery("energy", T0 + 45 * M, T0 + 60 * M + 1)) == [
        energy_row("m1", 45, 40.0, "b1"),
        energy_row("m1", 60, 50.0, "b1"),
    ]


CH1 = {"device": "ch1", "connector": "1"}
CH0 = {"device": "ch0"}
CHARGER = [
    Point("charger", CH1, {"status": "Available"}, T0 + 1),
    Point("charger", CH0, {"power_w": 1.0}, T0 + 1),  # same instant, series key sorts after
    Point("charger", CH1, {"status": "Charging", "power_w": 7.5}, T0 + S - 1),  # same second
    Point("charger", CH1, {"plugged": True}, T0 + S + 3),
    Point("charger", CH0, {"power_w": 2.0}, T0 + H),  # outside the range asked below
]


def test_points_keep_exact_times_every_point_of_a_second_and_only_present_fields(
    store: Store,
) -> None:
    assert store.write(CHARGER) == []
    assert store.points(PointsQuery("charger", T0, T0 + M)) == [
        PointRow(CH1, T0 + 1, {"status": "Available"}),  # ties by series key:
        PointRow(CH0, T0 + 1, {"power_w": 1.0}),  # "connector=1,device=ch1" < "device=ch0"
        PointRow(CH1, T0 + S - 1, {"status": "Charging", "power_w": 7.5}),
        PointRow(CH1, T0 + S + 3, {"plugged": True}),
    ]


def test_points_select_fields(store: Store) -> None:
    store.write(CHARGER)

    def points(*fields: str) -> list[PointRow]:
        return store.points(PointsQuery("charger", T0, T0 + M, fields=fields))

    assert points("status") == [
        PointRow(CH1, T0 + 1, {"status": "Available"}),
        PointRow(CH1, T0 + S - 1, {"status": "Charging"}),
    ]
    assert points("power_w", "plugged", "nothing") == [
        PointRow(CH0, T0 + 1, {"power_w": 1.0}),
        PointRow(CH1, T0 + S - 1, {"power_w": 7.5}),
        PointRow(CH1, T0 + S + 3, {"plugged": True}),
    ]
    assert points("nothing") == []
    assert points("device") == []  # a tag is not a field


def test_points_tag_filters_with_spaces_commas_and_quotes(store: Store) -> None:
    store.write(ENERGY)

    def devices(where: dict[str, tuple[str, ...]]) -> list[tuple[str, int]]:
        rows = store.points(PointsQuery("energy", T0, T0 + 2 * H, where=where))
        return [(row.tags["device"], (row.time_ns - T0) // M) for row in rows]

    assert store.points(PointsQuery("energy", T0, T0 + H, where={"device": (SPECIAL,)})) == [
        energy_row(SPECIAL, 10, 5.0, "b 2")
    ]
    assert devices({"building": ("b 2",)}) == [(SPECIAL, 10)]
    assert devices({"building": ("b1",), "device": ("m2", "nope")}) == [("m2", 5), ("m2", 35)]
    assert devices({"device": ("m4", SPECIAL)}) == [(SPECIAL, 10), ("m4", 20)]
    assert devices({"device": ()}) == []
    assert devices({"missing_tag": ("m1",)}) == []
    assert devices({"power_w": ("10",)}) == []  # a field is not a tag


def test_points_of_an_empty_range_or_unknown_measurement(store: Store) -> None:
    store.write(ENERGY)
    assert store.points(PointsQuery("energy", T0 + 3 * H, T0 + 4 * H)) == []
    assert store.points(PointsQuery("energy", T0 + 1, T0 + 5 * M)) == []
    assert store.points(PointsQuery("nothing", T0, T0 + H)) == []


def test_points_limit_keeps_the_first_rows_even_among_one_instant(store: Store) -> None:
    store.write(ENERGY)
    first = store.points(PointsQuery("energy", T0, T0 + 2 * H))
    for limit in (1, 3, 8, 9, 10):
        assert store.points(PointsQuery("energy", T0, T0 + 2 * H, limit=limit)) == first[:limit]

    # ten series at one instant, the odd ones with one more tag: a cut at 5 keeps the smallest
    # series keys ("a=x,device=d1" < ... < "device=d0"), whatever order the store keeps them in
    # (InfluxDB 1.6 answers this LIMIT with d1, d8, d6, d4, d2)
    def tags(n: int) -> dict[str, str]:
        return {"device": f"d{n}"} | ({"a": "x"} if n % 2 else {})

    store.write([Point("tie", tags(n), {"v": float(n)}, T0) for n in (7, 2, 9, 0, 5)])
    store.write([Point("tie", tags(n), {"v": float(n)}, T0) for n in (3, 8, 1, 6, 4)])
    store.write([Point("tie", tags(0), {"v": -1.0}, T0 - 1)])
    assert store.points(PointsQuery("tie", T0 - 1, T0 + 1, limit=5)) == [
        PointRow(tags(0), T0 - 1, {"v": -1.0}),
        *(PointRow(tags(n), T0, {"v": float(n)}) for n in (1, 3, 5, 7)),
    ]
    assert store.points(PointsQuery("tie", T0, T0 + 1, limit=7)) == [
        PointRow(tags(n), T0, {"v": float(n)}) for n in (1, 3, 5, 7, 9, 0, 2)
    ]


def test_points_see_fields_written_apart_at_one_instant_as_one_point(store: Store) -> None:
    tags = {"device": "ch1"}
    store.write([Point("charger", tags, {"power_w": 1.5}, T0)])
    store.write([Point("charger", tags, {"status": "Charging"}, T0)])
    store.write([Point("charger", tags, {"power_w": 2.5}, T0)])
    assert store.points(PointsQuery("charger", T0, T0 + 1)) == [
        PointRow(tags, T0, {"power_w": 2.5, "status": "Charging"})
    ]


@pytest.mark.parametrize(
    "options",
    [
        {"end_ns": T0},
        {"limit": 0},
        {"fields": ("bad name",)},
        {"where": {"a-b": ("x",)}},
        {"measurement": "1x"},
    ],
)
def test_points_query_validation(options: dict[str, object]) -> None:
    arguments: dict[str, object] = {"measurement": "m", "start_ns": T0, "end_ns": T0 + 1}
    with pytest.raises(ValueError):
        PointsQuery(**(arguments | options))  # type: ignore[arg-type]


# -- sum of per-series means (demand) ------------------------------------------------------


def demand(
    every_ns: int = H,
    start: int = T0,
    end: int = T0 + 2 * H,
    series_by: tuple[str, ...] = ("device",),
    **options: object,
) -> SumOfMeansQuery:
    return SumOfMeansQuery("energy", "power_w", start, end, every_ns, series_by, **options)  # type: ignore[arg-type]


def test_sum_of_means_sums_each_series_mean_per_window(store: Store) -> None:
    store.write(ENERGY)
    # hour 0: m1 25 + m2 160 + SPECIAL 5 + m4 7; hour 1: m1 50
    assert store.sum_of_means(demand()) == [Bucket(T0, 197.0), Bucket(T0 + H, 50.0)]
    # a series tag the measurement lacks splits nothing
    assert store.sum_of_means(demand(series_by=("device", "channel"))) == [
        Bucket(T0, 197.0),
        Bucket(T0 + H, 50.0),
    ]
    # series by building: b1 averages m1 and m2 together (70), "" is the untagged meter
    assert store.sum_of_means(demand(series_by=("building",))) == [
        Bucket(T0, 82.0),
        Bucket(T0 + H, 50.0),
    ]


def test_sum_of_means_filters_and_quarter_hours(store: Store) -> None:
    store.write(ENERGY)
    b1 = {"building": ("b1",)}
    assert store.sum_of_means(demand(where=b1)) == [Bucket(T0, 185.0), Bucket(T0 + H, 50.0)]
    assert store.sum_of_means(demand(15 * M, end=T0 + H + 1, where=b1)) == [
        Bucket(T0, 130.0),
        Bucket(T0 + 15 * M, 20.0),
        Bucket(T0 + 30 * M, 230.0),
        Bucket(T0 + 45 * M, 40.0),
        Bucket(T0 + H, 50.0),
    ]
    assert store.sum_of_means(demand(where={"building": ("b 2",)})) == [Bucket(T0, 5.0)]
    assert store.sum_of_means(demand(where={"device": ()})) == []
    assert store.sum_of_means(demand(where={"missing_tag": ("m1",)})) == []


def test_sum_of_means_of_a_range_starting_inside_a_window(store: Store) -> None:
    store.write(ENERGY)
    # [T0+10m, T0+50m): the first window keeps its aligned start and only SPECIAL's reading
    assert store.sum_of_means(demand(15 * M, T0 + 10 * M, T0 + 50 * M)) == [
        Bucket(T0, 5.0),
        Bucket(T0 + 15 * M, 27.0),
        Bucket(T0 + 30 * M, 230.0),
        Bucket(T0 + 45 * M, 40.0),
    ]


def test_sum_of_means_without_data_or_of_a_string_field(store: Store) -> None:
    store.write(ENERGY)
    store.write([Point("charger", {"device": "ch1"}, {"status": "Available"}, T0)])
    assert store.sum_of_means(demand(start=T0 + 3 * H, end=T0 + 4 * H)) == []
    assert store.sum_of_means(SumOfMeansQuery("nothing", "power_w", T0, T0 + H, H, ())) == []
    assert store.sum_of_means(SumOfMeansQuery("energy", "nothing", T0, T0 + H, H, ())) == []
    with pytest.raises(QueryError):
        store.sum_of_means(SumOfMeansQuery("charger", "status", T0, T0 + H, H, ("device",)))


def test_sum_of_means_equals_the_means_summed_by_the_caller(store: Store) -> None:
    """On random meters and channels, the store's answer is what summing ``aggregate``'s
    per-series means gives (the path peak demand took before the primitive)."""
    rng = random.Random(15)
    points = [
        Point(
            "energy",
            {"device": f"d{rng.randrange(12)}", "channel": str(rng.randrange(3)), "building": b},
            {"power_w": round(rng.uniform(0, 5000), 1)},
            T0 + rng.randrange(6 * H // S) * S,
        )
        for b in ("b1", "b2")
        for _ in range(400)
    ]
    store.write(points)
    for every, where in ((15 * M, {}), (H, {"building": ("b2",)}), (7 * M, {})):
        start, end = T0 + 5 * M, T0 + 5 * H
        means = AggregateQuery(
            "energy", "power_w", "mean", start, end, every, ("device", "channel"), where
        )
        summed: dict[int, float] = defaultdict(float)
        for series in store.aggregate(means):
            for bucket in series.buckets:
                summed[bucket.time_ns] += float(bucket.value or 0)
        got = store.sum_of_means(demand(every, start, end, ("device", "channel"), where=where))
        assert [b.time_ns for b in got] == sorted(summed)
        assert [b.value for b in got] == pytest.approx([summed[t] for t in sorted(summed)])


@pytest.mark.parametrize(
    "options", [{"end_ns": T0}, {"every_ns": 0}, {"series_by": ("a-b",)}, {"field": "1x"}]
)
def test_sum_of_means_query_validation(options: dict[str, object]) -> None:
    arguments: dict[str, object] = {
        "measurement": "m",
        "field": "f",
        "start_ns": T0,
        "end_ns": T0 + 1,
        "every_ns": H,
        "series_by": (),
    }
    with pytest.raises(ValueError):
        SumOfMeansQuery(**(arguments | options))  # type: ignore[arg-type]
