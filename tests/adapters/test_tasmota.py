"""Tasmota SENSOR telemetry → building_energy points (recorded payloads in fixtures/tasmota)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.tasmota import TasmotaAdapter
from hub.contracts import AdapterEnv
from hub.devices import DeviceRegistry
from hub.errors import ConfigError, Rejected
from hub.points import Point
from hub.timestamps import FixedClock, TimePolicy

FIXTURES = Path(__file__).parent / "fixtures" / "tasmota"
NOW = datetime(2024, 8, 1, 0, 39, 41, tzinfo=UTC)
BUILDING = {"building": "b-017", "district": "harbour"}


def utc_ns(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp()) * 1_000_000_000


@pytest.fixture
def adapter() -> TasmotaAdapter:
    env = AdapterEnv(
        time=TimePolicy(
            zone=ZoneInfo("Europe/Berlin"), clock=FixedClock(int(NOW.timestamp()) * 1_000_000_000)
        ),
        devices=DeviceRegistry({"tasmota_5C2F1A": BUILDING, "shelly25_kitchen": BUILDING}),
    )
    return TasmotaAdapter({}, env)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def edited(name: str, **energy: object) -> bytes:
    """A recorded payload with some ENERGY keys replaced (``None`` removes one)."""
    document = json.loads(fixture(name))
    for key, value in energy.items():
        if value is None:
            del document["ENERGY"][key]
        else:
            document["ENERGY"][key] = value
    return json.dumps(document).encode()


def with_time(name: str, local_time: str) -> bytes:
    document = json.loads(fixture(name))
    document["Time"] = local_time
    return json.dumps(document).encode()


def reason(adapter: TasmotaAdapter, payload: bytes, topic: str = "tele/tasmota_5C2F1A/SENSOR"):
    with pytest.raises(Rejected) as caught:
        adapter.parse(topic, payload)
    return caught.value.reason


def test_single_channel_pow_gives_one_point_without_channel(adapter: TasmotaAdapter) -> None:
    points = adapter.parse("tele/tasmota_5C2F1A/SENSOR", fixture("pow_r2_single.json"))

    assert points == [
        Point(
            "building_energy",
            {**BUILDING, "device": "tasmota_5C2F1A"},
            {
                "energy_import_wh": 123456.0,
                "energy_today_wh": 1250.0,
                "power_w": 512.0,
                "apparent_power_va": 540.0,
                "reactive_power_var": 172.0,
                "power_factor_pct": 95.0,
                "voltage_v": 231.0,
                "current_a": 2.338,
            },
            utc_ns(2024, 7, 15, 12, 30),  # 14:30 CEST is 12:30 UTC
        )
    ]
    assert all(isinstance(value, float) for value in points[0].fields.values())


def test_dual_channel_arrays_split_per_channel_and_device_totals_stay_apart(
    adapter: TasmotaAdapter,
) -> None:
    points = adapter.parse("tele/shelly25_kitchen/SENSOR", fixture("shelly25_dual.json"))

    tags = {**BUILDING, "device": "shelly25_kitchen"}
    at = utc_ns(2024, 1, 10, 7, 0)  # 08:00 CET is 07:00 UTC
    assert points == [
        # Total and Today are numbers: the device's sum, not copied into each channel
        Point("building_energy", tags, {"energy_import_wh": 45678.0, "energy_today_wh": 250.0}, at),
        Point(
            "building_energy",
            {**tags, "channel": "1"},
            {
                "power_w": 52.0,
                "apparent_power_va": 60.0,
                "reactive_power_var": 30.0,
                "power_factor_pct": 87.0,
                "voltage_v": 230.0,  # the shared supply: copied into every channel
                "current_a": 0.26,
                "frequency_hz": 50.0,
            },
            at,
        ),
        Point(
            "building_energy",
            {**tags, "channel": "2"},
            {
                "power_w": 5.0,
                "apparent_power_va": 10.0,
                "reactive_power_var": 8.0,
                "power_factor_pct": 50.0,
                "voltage_v": 230.0,
                "current_a": 0.043,
                "frequency_hz": 50.0,
            },
            at,
        ),
    ]


def test_per_channel_totals_setoption129_go_into_the_channel_points(
    adapter: TasmotaAdapter,
) -> None:
    payload = edited("shelly25_dual.json", Total=[40.5, 5.178], Today=None)

    points = adapter.parse("tele/shelly25_kitchen/SENSOR", payload)

    assert [point.tags.get("channel") for point in points] == ["1", "2"]
    assert [point.fields["energy_import_wh"] for point in points] == [40500.0, 5178.0]


@pytest.mark.parametrize(
    ("local_time", "utc"),
    [
        ("2024-03-31T01:59:00", (2024, 3, 31, 0, 59)),  # last minute of CET (+01:00)
        ("2024-03-31T03:00:00", (2024, 3, 31, 1, 0)),  # first of CEST (+02:00)
        ("2023-10-29T03:30:00", (2023, 10, 29, 2, 30)),  # back on CET
        ("2024-07-15T14:30:00+02:00", (2024, 7, 15, 12, 30)),  # SetOption52: offset honoured
    ],
)
def test_naive_local_time_is_read_in_the_configured_zone_across_dst(
    adapter: TasmotaAdapter, local_time: str, utc: tuple[int, ...]
) -> None:
    payload = with_time("pow_r2_single.json", local_time)

    (point,) = adapter.parse("tele/tasmota_5C2F1A/SENSOR", payload)

    assert point.time_ns == utc_ns(*utc)


def test_unknown_device_is_rejected(adapter: TasmotaAdapter) -> None:
    payload = fixture("pow_r2_single.json")
    assert reason(adapter, payload, "tele/tasmota_FFFFFF/SENSOR") == "unknown_device"


@pytest.mark.parametrize("device", ["meter'1", 'meter"1', "-meter", "m" * 129])
def test_malformed_device_id_in_topic_is_rejected(adapter: TasmotaAdapter, device: str) -> None:
    payload = fixture("pow_r2_single.json")
    assert reason(adapter, payload, f"tele/{device}/SENSOR") == "bad_id"


def test_topic_of_another_shape_is_rejected(adapter: TasmotaAdapter) -> None:
    payload = fixture("pow_r2_single.json")
    assert reason(adapter, payload, "tele/tasmota_5C2F1A/STATE") == "bad_topic"


def test_sensor_message_without_energy_is_rejected(adapter: TasmotaAdapter) -> None:
    assert reason(adapter, fixture("ds18b20_only.json")) == "no_energy"


def test_energy_object_without_any_mapped_key_is_rejected(adapter: TasmotaAdapter) -> None:
    payload = b'{"Time":"2024-07-15T14:30:00","ENERGY":{"TotalStartTime":"2023-11-02T09:12:44"}}'
    assert reason(adapter, payload) == "empty"


def test_truncated_json_is_rejected(adapter: TasmotaAdapter) -> None:
    assert reason(adapter, fixture("pow_r2_single.json")[:-20]) == "invalid_json"


def test_number_as_string_is_rejected(adapter: TasmotaAdapter) -> None:
    assert reason(adapter, edited("pow_r2_single.json", Power="512")) == "wrong_type"


def test_nan_reading_is_rejected(adapter: TasmotaAdapter) -> None:
    payload = fixture("pow_r2_single.json").replace(b'"Power":512', b'"Power":NaN')
    assert b"NaN" in payload
    assert reason(adapter, payload) == "not_finite"


def test_power_factor_above_one_is_rejected(adapter: TasmotaAdapter) -> None:
    assert reason(adapter, edited("pow_r2_single.json", Factor=1.5)) == "out_of_range"


def test_negative_voltage_in_a_channel_array_is_rejected(adapter: TasmotaAdapter) -> None:
    payload = edited("shelly25_dual.json", Voltage=[230, -1])
    assert reason(adapter, payload, "tele/shelly25_kitchen/SENSOR") == "out_of_range"


def test_arrays_with_different_channel_counts_are_rejected(adapter: TasmotaAdapter) -> None:
    payload = edited("shelly25_dual.json", Current=[0.26, 0.043, 0.1])
    assert reason(adapter, payload, "tele/shelly25_kitchen/SENSOR") == "bad_value"


def test_missing_time_is_rejected(adapter: TasmotaAdapter) -> None:
    document = json.loads(fixture("pow_r2_single.json"))
    del document["Time"]
    assert reason(adapter, json.dumps(document).encode()) == "missing_field"


@pytest.mark.parametrize("local_time", ["15.07.2024 14:30:00", "²⁰²⁴⁰⁷¹⁵¹⁴³⁰", "١٧٢٢٤٧٢٧٤٠"])
def test_unreadable_time_is_rejected(adapter: TasmotaAdapter, local_time: str) -> None:
    payload = with_time("pow_r2_single.json", local_time)
    assert reason(adapter, payload) == "bad_timestamp"


def test_time_in_the_future_is_rejected(adapter: TasmotaAdapter) -> None:
    # 02:50 CEST on Aug 1 is 00:50 UTC: 11 minutes after the fixed clock, limit is 5
    payload = with_time("pow_r2_single.json", "2024-08-01T02:50:00")
    assert reason(adapter, payload) == "future_timestamp"


def test_unset_device_clock_is_rejected(adapter: TasmotaAdapter) -> None:
    payload = with_time("pow_r2_single.json", "1970-01-01T00:00:12")
    assert reason(adapter, payload) == "bad_timestamp"


def test_unknown_option_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as caught:
        TasmotaAdapter({"zone": "Europe/Berlin"}, AdapterEnv())
    assert caught.value.setting == "adapter tasmota option zone"


def test_topic_filter_is_tele_sensor() -> None:
    (topic_filter,) = TasmotaAdapter({}, AdapterEnv()).topics
    assert topic_filter.matches("tele/tasmota_5C2F1A/SENSOR")
    assert not topic_filter.matches("tele/tasmota_5C2F1A/STATE")
