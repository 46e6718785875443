"""The canonical measurements and their fields, with the canonical unit of each.

Built-in adapters write these; a declarative mapping (:mod:`hub.mapping`) that targets one of
them must use these field names, so that the answers built on them (building consumption, bus
punctuality, the served GTFS-RT feed) read the mapped devices like any other. A measurement not
listed here is a new one: its fields are whatever its mappings name.

Per-phase values of a three-phase meter follow the OCPP naming: the field, then ``_l1``,
``_l2``, ``_l3`` (or ``_n`` for the neutral conductor); the unsuffixed field is the meter's
total, so a building's sum counts each meter once.
"""

from __future__ import annotations

__all__ = ["CANONICAL_FIELDS", "PHASE_SUFFIXES", "canonical_unit", "is_canonical"]

# Field → canonical unit ("" for a string or an enumeration name).
CANONICAL_FIELDS: dict[str, dict[str, str]] = {
    "building_energy": {
        "power_w": "W",
        "energy_import_wh": "Wh",
        "energy_export_wh": "Wh",
        "energy_today_wh": "Wh",
        "voltage_v": "V",
        "current_a": "A",
        "frequency_hz": "Hz",
        "power_factor_pct": "%",
        "apparent_power_va": "VA",
        "reactive_power_var": "var",
        "temperature_c": "Cel",
    },
    "bus_position": {
        "latitude": "deg",
        "longitude": "deg",
        "bearing_deg": "deg",
        "speed_mps": "m/s",
        "odometer_m": "m",
        "occupancy_pct": "%",
        "delay_s": "s",
        "trip_id": "",
        "direction_id": "1",
        "stop_id": "",
        "current_stop_sequence": "1",
        "current_status": "",
        "occupancy_status": "",
        "congestion_level": "",
        "route_short_name": "",
        "start_time": "",
        "start_date": "",
        "doors_open": "",
    },
    "bus_stop_event": {  # HFP DUE/ARR/DEP/PDE/PAS; tag "event"; punctuality reads DEP
        "stop_id": "",
        "delay_s": "s",
        "latitude": "deg",
        "longitude": "deg",
        "speed_mps": "m/s",
        "bearing_deg": "deg",
        "odometer_m": "m",
        "occupancy_pct": "%",
        "doors_open": "",
        "route_short_name": "",
        "direction_id": "1",
        "start_date": "",
        "start_time": "",
    },
}
PHASE_SUFFIXES = ("_l1", "_l2", "_l3", "_n")
_PHASED = {"building_energy"}


def canonical_unit(measurement: str, field: str) -> str | None:
    """The canonical unit of ``field`` in a known ``measurement`` (``""``: not a number);
    ``None`` when the measurement knows no such field."""
    fields = CANONICAL_FIELDS[measurement]
    if field in fields:
        return fields[field]
    if measurement in _PHASED:
        for suffix in PHASE_SUFFIXES:
            if field.endswith(suffix) and field[: -len(suffix)] in fields:
                return fields[field[: -len(suffix)]]
    return None


def is_canonical(measurement: str) -> bool:
    return measurement in CANONICAL_FIELDS
