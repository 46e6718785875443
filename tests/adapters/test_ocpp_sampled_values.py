"""OCPP sampled values read through the rules worked out once per kind of sample (measurand,
phase, location, unit) and gathered per meter value: the same points and the same reasons
as reading each sample on its own, whether a rule is met for the first time or again."""

from __future__ import annotations

import json

import pytest

from adapters.ocpp import OcppAdapter
from hub.contracts import AdapterEnv, Parsed
from hub.devices import DeviceRegistry
from hub.errors import Rejected
from hub.points import Point
from hub.timestamps import FixedClock, TimePolicy

NOW_NS = 1_715_688_000 * 10**9  # 2024-05-14T12:00:00Z
AT_NS = NOW_NS - 3600 * 10**9  # 11:00Z, the meter values' time
CP = "CP-RULES-01"
TOPIC = f"ocpp/cp/{CP}"
TAGS = {"site": "s-1", "district": "d-1", "device": CP, "connector": "1"}


@pytest.fixture
def adapter() -> OcppAdapter:
    registry = DeviceRegistry({CP: {"site": "s-1", "district": "d-1"}})
    return OcppAdapter({}, AdapterEnv(TimePolicy(clock=FixedClock(NOW_NS)), registry))


def meter_values_16(*samples: dict[str, object], transaction_id: int | None = None) -> bytes:
    payload: dict[str, object] = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2024-05-14T11:00:00Z", "sampledValue": list(samples)}],
    }
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    return json.dumps([2, "m-1", "MeterValues", payload]).encode()


def meter_values_201(*samples: dict[str, object]) -> bytes:
    payload = {
        "evseId": 1,
        "meterValue": [{"timestamp": "2024-05-14T11:00:00Z", "sampledValue": list(samples)}],
    }
    return json.dumps([2, "m-1", "MeterValues", payload]).encode()


def reason(adapter: OcppAdapter, payload: bytes) -> tuple[str, str]:
    with pytest.raises(Rejected) as caught:
        adapter.parse(TOPIC, payload)
    return caught.value.reason, caught.value.detail


def test_the_samples_of_one_meter_value_are_one_point_in_their_order(
    adapter: OcppAdapter,
) -> None:
    payload = meter_values_16(
        {"value": "7.5", "measurand": "Power.Active.Import", "unit": "kW"},
        {"value": "230.1", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
        {"value": "229.9", "measurand": "Voltage", "phase": "L2-N", "unit": "V"},
        {"value": "21", "measurand": "Temperature", "location": "Body", "unit": "Celsius"},
        {"value": "1.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
        {"value": "1500", "measurand": "Energy.Active.Import.Register", "location": "Inlet"},
        transaction_id=42,
    )
    expected = {
        "power_w": 7500.0,
        "voltage_v_l1_n": 230.1,
        "voltage_v_l2_n": 229.9,
        "temperature_c": 21.0,
        "energy_import_wh": 1500.0,
        "energy_import_wh_inlet": 1500.0,
        "transaction_id": "42",
    }
    for _ in range(2):  # the second time, every rule is known already
        points = adapter.parse(TOPIC, payload)
        assert points == [Point("charger_meter", TAGS, expected, AT_NS)]
        assert list(points[0].fields) == list(expected)


def test_a_reading_twice_in_one_meter_value_is_one_field(adapter: OcppAdapter) -> None:
    payload = meter_values_16({"value": "2", "unit": "kWh"}, {"value": "2000", "unit": "Wh"})
    assert adapter.parse(TOPIC, payload) == [
        Point("charger_meter", TAGS, {"energy_import_wh": 2000.0}, AT_NS)
    ]


def test_two_values_of_one_reading_in_one_meter_value_conflict(adapter: OcppAdapter) -> None:
    payload = meter_values_16({"value": "2", "unit": "kWh"}, {"value": "2500", "unit": "Wh"})
    assert reason(adapter, payload) == (
        "conflicting_values",
        "charger_meter.energy_import_wh at 2024-05-14T11:00:00+00:00 is both 2000.0 and 2500.0",
    )


def test_a_known_rule_refuses_as_the_first_time(adapter: OcppAdapter) -> None:
    mismatch = {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kWh"}
    payload = meter_values_16(mismatch, {"value": "1500"})
    first, second = adapter.parse(TOPIC, payload), adapter.parse(TOPIC, payload)
    assert isinstance(first, Parsed) and isinstance(second, Parsed)
    assert first == second == [Point("charger_meter", TAGS, {"energy_import_wh": 1500.0}, AT_NS)]
    detail = "sampled value Power.Active.Import: Power.Active.Import in 'kWh' is not a W quantity"
    for parsed in (first, second):
        assert [(r.reason, r.detail) for r in parsed.rejects] == [("unit_mismatch", detail)]


def test_a_value_out_of_bounds_is_not_finite_before_its_unit_is_mismatched(
    adapter: OcppAdapter,
) -> None:
    # 1e300 kWh * 10**9 overflows: that the value is not a number is said first, as before
    # the rules were kept
    sample = {
        "value": 1e300,
        "measurand": "Power.Active.Import",
        "unitOfMeasure": {"unit": "kWh", "multiplier": 9},
    }
    for _ in range(2):
        assert reason(adapter, meter_values_201(sample)) == (
            "not_finite",
            "sampled value Power.Active.Import: value inf kWh is not a finite number",
        )


def test_an_unknown_unit_is_refused_every_time(adapter: OcppAdapter) -> None:
    sample = {"value": 1, "unitOfMeasure": {"unit": "furlong"}}
    for _ in range(2):
        assert reason(adapter, meter_values_201(sample))[0] == "unknown_unit"
