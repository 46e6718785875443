"""SenML (RFC 8428) packs on ``senml/<meter_id>``: power (W), register (``s``, Wh or kWh)
and voltage (V), one or several readings per pack with times relative to ``bt``."""

from __future__ import annotations

import json

from simulators.buildings.meter import Meter, MeterReading
from simulators.simtime import NS_PER_S
from simulators.truth import Expected

__all__ = ["MEASUREMENT", "encode_senml"]

MEASUREMENT = "building_energy"


def encode_senml(meter: Meter, readings: list[MeterReading]) -> tuple[str, bytes, list[Expected]]:
    """Topic, payload and truth of one pack holding ``readings`` (oldest first)."""
    base_time_s = readings[-1].time_s
    in_kwh = "kWh" in meter.style
    records: list[dict[str, object]] = []
    truth = []
    for index, reading in enumerate(readings):
        power_w = round(reading.power_w, 1)
        voltage_v = round(reading.voltage_v, 1)
        register = round(reading.register_wh / 1000, 4) if in_kwh else round(reading.register_wh, 1)
        offset_s = reading.time_s - base_time_s
        first = {"bn": f"urn:dev:id:{meter.meter_id}:", "bt": base_time_s} if index == 0 else {}
        timing = {"t": offset_s} if offset_s else {}
        records += [
            {**first, "n": "power", "u": "W", "v": power_w, **timing},
            {"n": "energy", "u": "kWh" if in_kwh else "Wh", "s": register, **timing},
            {"n": "voltage", "u": "V", "v": voltage_v, **timing},
        ]
        fields = {
            "power_w": power_w,
            "energy_import_wh": register * 1000.0 if in_kwh else register,
            "voltage_v": voltage_v,
        }
        truth.append(Expected(MEASUREMENT, meter.meter_id, reading.time_s * NS_PER_S, fields))
    payload = json.dumps(records, separators=(",", ":")).encode()
    return f"senml/{meter.meter_id}", payload, truth
