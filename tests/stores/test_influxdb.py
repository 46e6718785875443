"""InfluxDBStore on a real influxd: the server's refusals, line-protocol edges, outages."""

from __future__ import annotations

import pytest

from hub.errors import StoreUnavailable
from hub.points import Point
from hub.query import AggregateQuery, Bucket, LatestQuery, SeriesResult
from hub.stores.influxdb import InfluxDBStore, encode_line, influxql_string
from tests.servers_influx import RunningServer, free_port

pytestmark = pytest.mark.influxdb

T0 = 1_699_999_200 * 1_000_000_000
S = 1_000_000_000


def test_line_protocol_escapes_tags_and_strings_and_writes_floats_as_floats() -> None:
    point = Point(
        "energy",
        {"device": 'a,b c=d"e', "building": "b1", "empty": ""},
        {"power_w": 2, "on": True, "note": 'say "hi" \\ now\nok'},  # type: ignore[dict-item]
        T0,
    )
    assert encode_line(point) == (
        'energy,building=b1,device=a\\,b\\ c\\=d"e '
        'note="say \\"hi\\" \\\\ now\nok",on=true,power_w=2.0 1699999200000000000'
    )
    assert influxql_string("it's \\ here") == "'it\\'s \\\\ here'"


def test_the_server_message_comes_back_with_the_refused_point(
    influx_store: InfluxDBStore,
) -> None:
    influx_store.write([Point("energy", {"device": "m1"}, {"power_w": 1.0}, T0)])
    good = [
        Point("energy", {"device": f"g{i}"}, {"power_w": float(i)}, T0 + i * S) for i in range(40)
    ]
    bad = [
        Point("energy", {"device": "x"}, {"power_w": "high"}, T0 + 5 * S),
        Point("energy", {"device": "y"}, {"power_w": True}, T0 + 17 * S),
        Point("energy", {"device": "z"}, {"power_w": "low"}, T0 + 33 * S),
    ]
    batch = good[:5] + bad[:1] + good[5:17] + bad[1:2] + good[17:33] + bad[2:] + good[33:]
    refused = influx_store.write(batch)
    assert [item.point for item in refused] == bad
    assert refused[0].reason == (
        'partial write: field type conflict: input field "power_w" on measurement "energy" '
        "is type string, already exists as type float dropped=1"
    )
    assert "is type boolean, already exists as type float" in refused[1].reason
    query = AggregateQuery("energy", "power_w", "count", T0, T0 + 60 * S)
    assert influx_store.aggregate(query) == [SeriesResult({}, [Bucket(T0, 41.0)])]


def test_points_line_protocol_cannot_carry_are_refused_before_sending(
    influx_store: InfluxDBStore,
) -> None:
    backslash = Point("energy", {"device": "c:\\meter"}, {"power_w": 1.0}, T0)
    newline = Point("energy", {"device": "a\nb"}, {"power_w": 1.0}, T0)
    nan = Point("energy", {"device": "m1"}, {"power_w": float("nan")}, T0)
    time_field = Point("energy", {"device": "m1"}, {"time": 1.0}, T0)
    good = Point("energy", {"device": "m1"}, {"power_w": 3.0}, T0)
    refused = influx_store.write([backslash, newline, nan, time_field, good])
    assert [(item.point, item.reason) for item in refused] == [
        (
            backslash,
            "tag 'device' holds a backslash or line break, which line protocol cannot carry",
        ),
        (newline, "tag 'device' holds a backslash or line break, which line protocol cannot carry"),
        (nan, "field 'power_w' is nan, not a finite number"),
        (time_field, "tag or field name 'time' is reserved or not a valid identifier"),
    ]
    [row] = influx_store.latest(LatestQuery("energy"))
    assert row.fields == {"power_w": 3.0}


def test_an_integer_value_is_stored_as_a_float_field(influx_store: InfluxDBStore) -> None:
    influx_store.write([Point("energy", {"device": "m1"}, {"power_w": 2}, T0)])  # type: ignore[dict-item]
    assert influx_store.write([Point("energy", {"device": "m1"}, {"power_w": 2.5}, T0 + S)]) == []
    assert influx_store.catalog().measurements[0].fields == {"power_w": "float"}


def test_increase_reads_a_range_longer_than_one_chunk(influx_store: InfluxDBStore) -> None:
    readings = 12_500  # the raw readings come back in chunks of 10 000
    influx_store.write(
        [
            Point("meter", {"device": "c1"}, {"energy_wh": float(i)}, T0 + i * S)
            for i in range(readings)
        ]
    )
    query = AggregateQuery("meter", "energy_wh", "increase", T0 + S, T0 + readings * S)
    assert influx_store.aggregate(query) == [SeriesResult({}, [Bucket(T0 + S, readings - 1.0)])]


def test_a_missing_database_is_unavailable_not_refused(influxd: RunningServer) -> None:
    store = InfluxDBStore(influxd.url, "no_such_database", api="v1")
    with pytest.raises(StoreUnavailable, match="database not found"):
        store.write([Point("energy", {"device": "m1"}, {"power_w": 1.0}, T0)])
    store.close()


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_an_unreachable_server_is_unavailable(api: str) -> None:
    store = InfluxDBStore(f"http://127.0.0.1:{free_port()}", "cityhub", api=api, timeout_s=2)  # type: ignore[arg-type]
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.write([Point("energy", {"device": "m1"}, {"power_w": 1.0}, T0)])
    with pytest.raises(StoreUnavailable):
        store.ping()
    with pytest.raises(StoreUnavailable):
        store.latest(LatestQuery("energy"))
    store.close()
