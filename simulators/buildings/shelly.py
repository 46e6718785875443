"""Shelly Gen2 ``<device>/status/switch:0``: ``apower`` (W), ``aenergy.total`` (Wh) with
``by_minute`` (mWh of the last three whole minutes) and ``minute_ts`` (epoch s)."""

from __future__ import annotations

import json

from simulators.buildings.meter import Meter, MeterReading
from simulators.simtime import NS_PER_S
from simulators.truth import Expected

__all__ = ["encode_shelly"]

MEASUREMENT = "building_energy"
SWITCH_ID = 0


def encode_shelly(meter: Meter, reading: MeterReading) -> tuple[str, bytes, list[Expected]]:
    """Topic, payload and truth of one switch status. ``reading.time_s`` is on a minute."""
    time_s = reading.time_s
    minutes_mwh = [
        round(
            (meter.consumed_wh(time_s - 60 * k) - meter.consumed_wh(time_s - 60 * (k + 1))) * 1e3, 3
        )
        for k in range(3)
    ]
    apower_w = round(reading.power_w, 1)
    voltage_v = round(reading.voltage_v, 1)
    current_a = round(reading.current_a, 3)
    total_wh = round(reading.register_wh, 3)
    temperature_c = round(reading.temperature_c, 1)
    document = {
        "id": SWITCH_ID,
        "source": "timer",
        "output": True,
        "apower": apower_w,
        "voltage": voltage_v,
        "freq": 50.0,
        "current": current_a,
        "aenergy": {"total": total_wh, "by_minute": minutes_mwh, "minute_ts": time_s},
        "temperature": {"tC": temperature_c, "tF": round(temperature_c * 9 / 5 + 32, 1)},
    }
    fields: dict[str, float | bool | str] = {
        "power_w": apower_w,
        "voltage_v": voltage_v,
        "frequency_hz": 50.0,
        "current_a": current_a,
        "energy_import_wh": total_wh,
        "temperature_c": temperature_c,
    }
    truth = [
        Expected(
            MEASUREMENT, meter.meter_id, time_s * NS_PER_S, fields, {"channel": str(SWITCH_ID)}
        )
    ]
    payload = json.dumps(document, separators=(",", ":")).encode()
    return f"{meter.meter_id}/status/switch:{SWITCH_ID}", payload, truth
