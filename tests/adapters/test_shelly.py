"""Shelly Gen2+ switch status → building_energy points (recorded payloads in fixtures/shelly)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.shelly import ShellyAdapter
from hub.contracts import AdapterEnv
from hub.devices import DeviceRegistry
from hub.errors import ConfigError, Rejected
from hub.points import Point
from hub.timestamps import FixedClock, TimePolicy

FIXTURES = Path(__file__).parent / "fixtures" / "shelly"
NOW_NS = int(datetime(2024, 8, 1, 0, 39, 41, tzinfo=UTC).timestamp()) * 1_000_000_000
MINUTE_NS = int(datetime(2024, 8, 1, 0, 39, tzinfo=UTC).timestamp()) * 1_000_000_000
PLUS_1PM = "shellyplus1pm-a8032ab12345"
REGISTRY = {
    PLUS_1PM: {"building": "b-017", "district": "harbour"},
    "shellyplus2pm-c4d8d5501234": {"building": "b-042", "district": "oldtown"},
    "shellyplus1-b8d61a8f9abc": {"building": "b-042", "district": "oldtown"},
}


@pytest.fixture
def adapter() -> ShellyAdapter:
    env = AdapterEnv(time=TimePolicy(clock=FixedClock(NOW_NS)), devices=DeviceRegistry(REGISTRY))
    return ShellyAdapter({}, env)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def edited(name: str, **changes: object) -> bytes:
    """A recorded payload with some keys replaced (``None`` removes one)."""
    document = json.loads(fixture(name))
    for key, value in changes.items():
        if value is None:
            del document[key]
        else:
            document[key] = value
    return json.dumps(document).encode()


def reason(adapter: ShellyAdapter, payload: bytes, topic: str = f"{PLUS_1PM}/status/switch:0"):
    with pytest.raises(Rejected) as caught:
        adapter.parse(topic, payload)
    return caught.value.reason


def test_plus_1pm_status_gives_every_field_at_the_minute_start(adapter: ShellyAdapter) -> None:
    points = adapter.parse(f"{PLUS_1PM}/status/switch:0", fixture("plus1pm_switch0.json"))

    assert points == [
        Point(
            "building_energy",
            {"building": "b-017", "district": "harbour", "device": PLUS_1PM, "channel": "0"},
            {
                "power_w": 1834.2,
                "voltage_v": 229.8,
                "current_a": 8.012,
                "frequency_hz": 50.0,
                "power_factor_pct": 99.0,
                "energy_import_wh": 86712.345,
                "energy_export_wh": 0.0,
                "temperature_c": 48.3,
            },
            MINUTE_NS,  # aenergy.minute_ts, not the receive time 41 s later
        )
    ]


def test_second_switch_of_a_plus_2pm_is_channel_1(adapter: ShellyAdapter) -> None:
    topic = "shellyplus2pm-c4d8d5501234/status/switch:1"

    points = adapter.parse(topic, fixture("plus2pm_switch1.json"))

    assert points == [
        Point(
            "building_energy",
            {
                "building": "b-042",
                "district": "oldtown",
                "device": "shellyplus2pm-c4d8d5501234",
                "channel": "1",
            },
            {
                "power_w": 62.5,
                "voltage_v": 231.4,
                "current_a": 0.301,
                "energy_import_wh": 1520.75,
                "temperature_c": 39.1,
            },
            MINUTE_NS,
        )
    ]


def test_status_without_minute_ts_is_stamped_with_the_clock(adapter: ShellyAdapter) -> None:
    topic = "shellyplus1-b8d61a8f9abc/status/switch:0"

    points = adapter.parse(topic, fixture("plus1_switch0_nometer.json"))

    assert points == [
        Point(
            "building_energy",
            {
                "building": "b-042",
                "district": "oldtown",
                "device": "shellyplus1-b8d61a8f9abc",
                "channel": "0",
            },
            {"temperature_c": 41.2},
            NOW_NS,
        )
    ]


def test_redelivered_status_lands_on_the_same_point(adapter: ShellyAdapter) -> None:
    payload = fixture("plus1pm_switch0.json")
    first = adapter.parse(f"{PLUS_1PM}/status/switch:0", payload)
    assert adapter.parse(f"{PLUS_1PM}/status/switch:0", payload) == first


def test_non_metering_components_are_skipped(adapter: ShellyAdapter) -> None:
    for component in ("sys", "wifi", "input:0"):
        topic = f"{PLUS_1PM}/status/{component}"
        assert adapter.parse(topic, fixture("plus1pm_sys.json")) == []


def test_an_unknown_component_is_rejected(adapter: ShellyAdapter) -> None:
    topic = f"{PLUS_1PM}/status/em:0"
    assert reason(adapter, fixture("plus1pm_sys.json"), topic) == "unsupported_component"


def test_a_pm1_power_meter_reads_like_a_switch(adapter: ShellyAdapter) -> None:
    [switch] = adapter.parse(f"{PLUS_1PM}/status/switch:0", fixture("plus1pm_switch0.json"))
    [meter] = adapter.parse(f"{PLUS_1PM}/status/pm1:0", fixture("plus1pm_switch0.json"))
    assert meter == switch


def test_unknown_device_is_rejected(adapter: ShellyAdapter) -> None:
    topic = "shellyplus1pm-ffffffffffff/status/switch:0"
    assert reason(adapter, fixture("plus1pm_switch0.json"), topic) == "unknown_device"


@pytest.mark.parametrize("prefix", ["shelly'1", 'shelly"1', "shelly 1", "_shelly"])
def test_malformed_prefix_is_rejected(adapter: ShellyAdapter, prefix: str) -> None:
    topic = f"{prefix}/status/switch:0"
    assert reason(adapter, fixture("plus1pm_switch0.json"), topic) == "bad_id"


def test_payload_id_other_than_the_topic_switch_is_rejected(adapter: ShellyAdapter) -> None:
    topic = f"{PLUS_1PM}/status/switch:1"
    assert reason(adapter, fixture("plus1pm_switch0.json"), topic) == "bad_value"


def test_truncated_json_is_rejected(adapter: ShellyAdapter) -> None:
    assert reason(adapter, fixture("plus1pm_switch0.json")[:50]) == "invalid_json"


def test_power_as_string_is_rejected(adapter: ShellyAdapter) -> None:
    assert reason(adapter, edited("plus1pm_switch0.json", apower="1834.2")) == "wrong_type"


def test_nan_reading_is_rejected(adapter: ShellyAdapter) -> None:
    payload = fixture("plus1pm_switch0.json").replace(b'"voltage":229.8', b'"voltage":NaN')
    assert b"NaN" in payload
    assert reason(adapter, payload) == "not_finite"


def test_negative_energy_register_is_rejected(adapter: ShellyAdapter) -> None:
    payload = edited("plus1pm_switch0.json", aenergy={"total": -5.0, "minute_ts": 1722472740})
    assert reason(adapter, payload) == "out_of_range"


def test_missing_switch_id_is_rejected(adapter: ShellyAdapter) -> None:
    assert reason(adapter, edited("plus1pm_switch0.json", id=None)) == "missing_field"


def test_minute_ts_in_the_future_is_rejected(adapter: ShellyAdapter) -> None:
    later = {"total": 86712.345, "minute_ts": 1722472740 + 600}
    assert reason(adapter, edited("plus1pm_switch0.json", aenergy=later)) == "future_timestamp"


def test_status_without_any_measurement_is_rejected(adapter: ShellyAdapter) -> None:
    payload = b'{"id":0,"source":"init","output":false}'
    assert reason(adapter, payload) == "empty"


def test_unknown_option_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as caught:
        ShellyAdapter({"prefix": "shellies"}, AdapterEnv())
    assert caught.value.setting == "adapter shelly option prefix"
