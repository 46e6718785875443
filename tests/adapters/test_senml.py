"""SenML (RFC 8428) packs → building_energy points, with base-field resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.senml import SenMLAdapter
from hub.contracts import AdapterEnv, Parsed
from hub.devices import DeviceRegistry
from hub.errors import ConfigError, Rejected
from hub.points import Point
from hub.timestamps import FixedClock, TimePolicy

FIXTURES = Path(__file__).parent / "fixtures" / "senml"
NOW_S = 1_717_236_100
S = 1_000_000_000
TAGS = {"building": "b-001", "district": "harbour", "device": "m-1"}


@pytest.fixture
def adapter() -> SenMLAdapter:
    env = AdapterEnv(
        time=TimePolicy(clock=FixedClock(NOW_S * S)),
        devices=DeviceRegistry({"m-1": {"building": "b-001", "district": "harbour"}}),
    )
    return SenMLAdapter({}, env)


def parse(adapter: SenMLAdapter, payload: object, topic: str = "senml/m-1") -> list[Point]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return adapter.parse(topic, raw)


def test_meter_pack_with_kwh_register_and_two_instants(adapter: SenMLAdapter) -> None:
    points = parse(adapter, (FIXTURES / "meter-kwh-register.json").read_bytes())
    assert points == [
        Point(
            "building_energy",
            TAGS,
            {
                "power_w": 2310.5,
                "energy_import_wh": 18234125.0,
                "voltage_v": 229.8,
                "frequency_hz": 50.01,
            },
            1_717_236_000 * S,
        ),
        Point(
            "building_energy",
            TAGS,
            {"power_w": 2290.0, "energy_import_wh": pytest.approx(18234163.0)},
            1_717_236_060 * S,
        ),
    ]


def test_rfc8428_example_base_unit_and_relative_offsets(adapter: SenMLAdapter) -> None:
    """RFC 8428 section 5.1.2 (multiple data points): bu applies where u is absent, t is
    relative to bt; the example's 2011 base time is far in the past and accepted."""
    points = parse(adapter, (FIXTURES / "rfc8428-multiple.json").read_bytes())
    base = 1_320_067_464 * S
    assert [(p.time_ns - base) // S for p in points] == [0, -5, -4, -3, -2, -1]
    assert points[0].fields == {"voltage_v": 120.1, "current_a": 1.7}
    assert [p.fields["current_a"] for p in points[1:]] == [1.2, 1.3, 1.4, 1.5, 1.6]


def test_times_below_2_pow_28_are_relative_to_now(adapter: SenMLAdapter) -> None:
    [point] = parse(adapter, [{"n": "power", "u": "W", "v": 5, "t": -30}])
    assert point.time_ns == (NOW_S - 30) * S
    [point] = parse(adapter, [{"n": "power", "u": "W", "v": 5}])
    assert point.time_ns == NOW_S * S


def test_base_value_and_base_sum_are_added(adapter: SenMLAdapter) -> None:
    [point] = parse(
        adapter,
        [
            {"bt": NOW_S, "bv": 1000, "bs": 5000, "bu": "Wh"},
            {"n": "power", "u": "W", "v": 12},
            {"n": "energy", "s": 7},
        ],
    )
    assert point.fields == {"power_w": 1012.0, "energy_import_wh": 5007.0}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'[{"n": "power", "v": 1', "invalid_json"),
        (b'{"n": "power", "u": "W", "v": 1}', "wrong_type"),
        ([{"n": "power", "u": "W", "v": "12"}], "wrong_type"),
        ([{"n": "power", "u": "W", "v": True}], "wrong_type"),
        (b'[{"n": "power", "u": "W", "v": NaN}]', "not_finite"),
        (b'[{"n": "power", "u": "W", "v": Infinity}]', "not_finite"),
        ([], "out_of_range"),
        ([{"n": "humidity", "u": "%RH", "v": 40}], "unknown_quantity"),
        ([{"n": "power", "v": 40}], "missing_unit"),
        ([{"n": "power", "u": "furlong", "v": 40}], "unknown_unit"),
        ([{"n": "power", "u": "Wh", "v": 40}], "unit_mismatch"),
        ([{"n": "power", "u": "W"}], "missing_field"),
        ([{"bt": NOW_S + 3600, "n": "power", "u": "W", "v": 1}], "future_timestamp"),
        ([{"bt": 600_000_000, "n": "power", "u": "W", "v": 1}], "bad_timestamp"),
        ([{"bu": "W"}], "empty"),
    ],
)
def test_rejections_carry_a_reason(adapter: SenMLAdapter, payload: object, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse(adapter, payload)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("topic", "reason"),
    [("senml/m-404", "unknown_device"), ("senml/m'1", "bad_id"), ("senml/", "bad_id")],
)
def test_meter_id_comes_from_a_registered_topic(
    adapter: SenMLAdapter, topic: str, reason: str
) -> None:
    with pytest.raises(Rejected) as caught:
        parse(adapter, [{"n": "power", "u": "W", "v": 1}], topic=topic)
    assert caught.value.reason == reason


def test_options_are_validated_by_name() -> None:
    with pytest.raises(ConfigError, match="option colour"):
        SenMLAdapter({"colour": "red"}, AdapterEnv())
    with pytest.raises(ConfigError, match="option topic"):
        SenMLAdapter({"topic": "meters/#"}, AdapterEnv())
    assert [f.value for f in SenMLAdapter({"topic": "m/+"}, AdapterEnv()).topics] == ["m/+"]


def test_a_record_that_cannot_be_read_is_refused_alone(adapter: SenMLAdapter) -> None:
    pack = [
        {"bn": "urn:dev:m-1:", "bt": NOW_S, "n": "power", "u": "W", "v": 1200},
        {"n": "energy", "u": "W", "v": 5},  # a power unit on the energy register
        {"n": "energy", "u": "kWh", "v": 12.5, "t": 10},
    ]
    parsed = parse(adapter, pack)
    assert isinstance(parsed, Parsed)
    assert [(p.fields, p.time_ns) for p in parsed] == [
        ({"power_w": 1200.0}, NOW_S * S),
        ({"energy_import_wh": 12500.0}, (NOW_S + 10) * S),
    ]
    [refused] = parsed.rejects
    assert refused.reason == "unit_mismatch"
    assert refused.detail.startswith("record 1 (urn:dev:m-1:energy)")
