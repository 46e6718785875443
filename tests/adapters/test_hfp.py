"""HFP v2 → bus_position and bus_stop_event points (recorded payloads in fixtures/hfp, from
the Digitransit "High-frequency positioning" documentation's message format)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.hfp import HfpAdapter
from hub.contracts import AdapterEnv
from hub.devices import DeviceRegistry
from hub.errors import ConfigError, Rejected
from hub.points import Point
from hub.timestamps import FixedClock, TimePolicy

FIXTURES = Path(__file__).parent / "fixtures" / "hfp"
NOW_NS = 1_568_784_400 * 1_000_000_000


def adapter(**options: object) -> HfpAdapter:
    env = AdapterEnv(
        time=TimePolicy(clock=FixedClock(NOW_NS)),
        devices=DeviceRegistry({"0022:00792": {"depot": "hakamaki", "propulsion": "diesel"}}),
    )
    return HfpAdapter(options, env)


def recorded(name: str, **changes: object) -> tuple[str, bytes]:
    document = json.loads((FIXTURES / name).read_text())
    (event,) = document["payload"]
    document["payload"][event].update(changes)
    return document["topic"], json.dumps(document["payload"]).encode()


def test_vehicle_position_exact_point() -> None:
    assert adapter().parse(*recorded("vp.json")) == [
        Point(
            "bus_position",
            {
                "depot": "hakamaki",
                "propulsion": "diesel",
                "device": "0022:00792",
                "mode": "bus",
                "route": "1081",
            },
            {
                "latitude": 60.211811,
                "longitude": 25.089082,
                "speed_mps": 8.18,
                "bearing_deg": 27.0,
                "odometer_m": 11441.0,
                "occupancy_pct": 0.0,
                "delay_s": 179.0,  # dl -179: three minutes behind schedule
                "doors_open": False,
                "route_short_name": "81",
                "direction_id": 1.0,
                "start_date": "20190918",
                "start_time": "08:03:00",
            },
            1_568_784_341_146_000_000,
        )
    ]


def test_departure_is_a_stop_event() -> None:
    assert adapter().parse(*recorded("dep.json")) == [
        Point(
            "bus_stop_event",
            {
                "depot": "hakamaki",
                "propulsion": "diesel",
                "device": "0022:00792",
                "mode": "bus",
                "route": "1081",
                "event": "DEP",
            },
            {
                "latitude": 60.21183,
                "longitude": 25.0891,
                "speed_mps": 0.0,
                "bearing_deg": 27.0,
                "odometer_m": 11450.0,
                "occupancy_pct": 20.0,
                "delay_s": 125.0,
                "doors_open": False,
                "route_short_name": "81",
                "direction_id": 1.0,
                "start_date": "20190918",
                "start_time": "08:03:00",
                "stop_id": "1130106",
            },
            1_568_784_362_000_000_000,
        )
    ]


def test_unregistered_vehicle_without_registry_tags_and_required_registry() -> None:
    topic, payload = recorded("vp.json")
    topic = topic.replace("/00792/", "/00793/")
    (point,) = adapter().parse(topic, payload)
    assert point.tags == {"device": "0022:00793", "mode": "bus", "route": "1081"}
    with pytest.raises(Rejected, match="unknown_device"):
        adapter(require_registered=True).parse(topic, payload)


def test_other_events_are_skipped_and_unknown_ones_refused() -> None:
    topic, payload = recorded("vp.json")
    assert adapter().parse(topic.replace("/vp/", "/doo/"), b'{"DOO": {}}') == []
    with pytest.raises(Rejected, match="unsupported_event"):
        adapter().parse(topic.replace("/vp/", "/xyz/"), payload)


@pytest.mark.parametrize(
    ("name", "topic_edit", "changes", "reason"),
    [
        ("vp-no-fix.json", None, {}, "no_position"),
        ("vp.json", None, {"lat": 200.0}, "out_of_range"),
        ("vp.json", None, {"spd": "8"}, "wrong_type"),
        ("vp.json", None, {"tst": None}, "missing_field"),
        ("vp.json", None, {"tst": "2030-01-01T00:00:00Z"}, "future_timestamp"),
        ("vp.json", ("/hfp/v2/", "/hfp/v1/"), {}, "bad_topic"),
        ("vp.json", ("/vp/bus/", "/vp/zeppelin/"), {}, "bad_value"),
        ("vp.json", ("/vp/", "/dep/"), {}, "bad_value"),  # payload says VP, topic DEP
    ],
)
def test_bad_messages_are_refused_with_a_reason(name, topic_edit, changes, reason) -> None:
    topic, payload = recorded(name, **changes)
    if topic_edit:
        topic = topic.replace(*topic_edit)
    with pytest.raises(Rejected) as error:
        adapter().parse(topic, payload)
    assert error.value.reason == reason


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="require_registered"):
        adapter(require_registered="yes")
    with pytest.raises(ConfigError, match="option colour"):
        adapter(colour=1)
