"""Meters the hub reads through its shipped declarative mappings (adapters/mappings), not
through Python adapters: Zigbee2MQTT smart plugs and Shelly Pro 3EM three-phase meters.

Neither payload carries a time, so the hub stamps the points on receipt (``clock_time``).

- ``zigbee2mqtt``: ``zigbee2mqtt/<friendly_name>`` with ``power`` (W), ``energy`` (kWh),
  ``voltage`` (V), ``current`` (A), ``state``, ``linkquality``.
- ``shelly-pro-3em``: two messages per report, ``<id>/status/em:0`` (per-phase and total
  active power, current, voltage) and ``<id>/status/emdata:0`` (per-phase and total energy
  registers, Wh). The building's load is split over the phases 40/35/25 %.
"""

from __future__ import annotations

import json

from simulators.buildings.meter import Meter, MeterReading
from simulators.simtime import NS_PER_S
from simulators.truth import Expected

__all__ = ["PHASE_SHARES", "encode_shelly_pro_3em", "encode_zigbee_plug"]

MEASUREMENT = "building_energy"
PHASE_SHARES = (0.40, 0.35, 0.25)
Message = tuple[str, bytes, list[Expected]]


def _payload(document: dict[str, object]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def encode_zigbee_plug(meter: Meter, reading: MeterReading) -> Message:
    power_w = round(reading.power_w, 1)
    energy_kwh = round(reading.register_wh / 1000, 3)
    voltage_v = round(reading.voltage_v, 1)
    current_a = round(reading.current_a, 3)
    document = {"current": current_a, "energy": energy_kwh, "linkquality": 120,
                "power": power_w, "state": "ON", "voltage": voltage_v}  # fmt: skip
    fields: dict[str, float | bool | str] = {
        "power_w": power_w,
        "energy_import_wh": energy_kwh * 1000,
        "voltage_v": voltage_v,
        "current_a": current_a,
    }
    truth = [Expected(MEASUREMENT, meter.meter_id, reading.time_s * NS_PER_S, fields,
                      clock_time=True)]  # fmt: skip
    return f"zigbee2mqtt/{meter.meter_id}", _payload(document), truth


def encode_shelly_pro_3em(meter: Meter, reading: MeterReading) -> list[Message]:
    time_ns = reading.time_s * NS_PER_S
    phases_w = [round(reading.power_w * share, 1) for share in PHASE_SHARES]
    total_w = round(sum(phases_w), 1)
    voltage_v = round(reading.voltage_v, 1)
    currents_a = [round(w / voltage_v, 3) for w in phases_w]
    registers_wh = [round(reading.register_wh * share, 2) for share in PHASE_SHARES]
    total_wh = round(sum(registers_wh), 2)
    em: dict[str, object] = {"id": 0}
    em_fields: dict[str, float | bool | str] = {"power_w": total_w}
    for letter, number, power_w, current_a in zip("abc", "123", phases_w, currents_a,
                                                  strict=True):  # fmt: skip
        em |= {f"{letter}_current": current_a, f"{letter}_voltage": voltage_v,
               f"{letter}_act_power": power_w, f"{letter}_aprt_power": power_w,
               f"{letter}_pf": 1.0}  # fmt: skip
        em_fields |= {f"power_w_l{number}": power_w, f"current_a_l{number}": current_a,
                      f"voltage_v_l{number}": voltage_v}  # fmt: skip
    em |= {"n_current": None, "total_current": round(sum(currents_a), 3),
           "total_act_power": total_w, "total_aprt_power": total_w}  # fmt: skip
    emdata: dict[str, object] = {"id": 0, "total_act": total_wh, "total_act_ret": 0.0}
    emdata_fields: dict[str, float | bool | str] = {"energy_import_wh": total_wh}
    for letter, number, register_wh in zip("abc", "123", registers_wh, strict=True):
        emdata |= {f"{letter}_total_act_energy": register_wh,
                   f"{letter}_total_act_ret_energy": 0.0}  # fmt: skip
        emdata_fields[f"energy_import_wh_l{number}"] = register_wh
    return [
        (f"{meter.meter_id}/status/em:0", _payload(em),
         [Expected(MEASUREMENT, meter.meter_id, time_ns, em_fields, clock_time=True)]),
        (f"{meter.meter_id}/status/emdata:0", _payload(emdata),
         [Expected(MEASUREMENT, meter.meter_id, time_ns, emdata_fields, clock_time=True)]),
    ]  # fmt: skip
