"""Tasmota ``tele/<device>/SENSOR`` telemetry: the ``ENERGY`` object, Total/Today/Yesterday
in kWh (3 decimals), Power in W (integer), naive local ``Time``."""

from __future__ import annotations

import json
import math

from simulators.buildings.meter import Meter, MeterReading
from simulators.simtime import NS_PER_S
from simulators.truth import Expected

__all__ = ["encode_tasmota"]

MEASUREMENT = "building_energy"


def encode_tasmota(meter: Meter, reading: MeterReading) -> tuple[str, bytes, list[Expected]]:
    """Topic, payload and truth of one SENSOR message."""
    time_s = reading.time_s
    power_w = round(reading.power_w)
    apparent_va = round(reading.power_w / reading.power_factor)
    reactive_var = round(math.sqrt(max(apparent_va**2 - power_w**2, 0)))
    total_kwh = round(reading.register_wh / 1000, 3)
    today_kwh = round(reading.today_wh / 1000, 3)
    midnight_s = meter.city_time.local_midnight_s(time_s)
    yesterday_wh = meter.consumed_wh(midnight_s) - meter.consumed_wh(midnight_s - 86_400)
    factor = round(reading.power_factor, 2)
    voltage_v = round(reading.voltage_v)
    current_a = round(reading.current_a, 3)
    energy = {
        "TotalStartTime": "2019-11-04T09:12:40",
        "Total": total_kwh,
        "Yesterday": round(yesterday_wh / 1000, 3),
        "Today": today_kwh,
        "Power": power_w,
        "ApparentPower": apparent_va,
        "ReactivePower": reactive_var,
        "Factor": factor,
        "Voltage": voltage_v,
        "Current": current_a,
    }
    document = {"Time": meter.city_time.naive_local(time_s), "ENERGY": energy}
    fields: dict[str, float | bool | str] = {
        "energy_import_wh": total_kwh * 1000.0,
        "energy_today_wh": today_kwh * 1000.0,
        "power_w": float(power_w),
        "apparent_power_va": float(apparent_va),
        "reactive_power_var": float(reactive_var),
        "power_factor_pct": factor * 100.0,
        "voltage_v": float(voltage_v),
        "current_a": current_a,
    }
    truth = [Expected(MEASUREMENT, meter.meter_id, time_s * NS_PER_S, fields)]
    payload = json.dumps(document, separators=(",", ":")).encode()
    return f"tele/{meter.meter_id}/SENSOR", payload, truth
