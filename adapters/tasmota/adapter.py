"""Tasmota energy monitors publishing ``tele/<device>/SENSOR`` telemetry.

The device id is the Tasmota topic (the middle level) and must be in the device registry,
which gives the building and district tags. ``Time`` is naive local time, read in the hub's
configured zone. The ``ENERGY`` keys map to canonical fields through :data:`ENERGY_KEYS`.

Multi-channel devices send arrays for per-channel keys. Each array element becomes a point
tagged ``channel`` ("1", "2"...). A *number* on such a device was measured once for the whole
device, and what it means decides where it goes:

- a property of the shared supply (``Voltage``, ``Frequency``: ``shared``) is the same on every
  channel, so it is copied into every channel's point;
- anything additive (``Total``, ``Today``, ``Power``...) is the device's sum over its channels,
  so it goes into one point *without* a ``channel`` tag. Copying it into every channel would
  count it once per channel in any per-building sum.

A single-channel device (numbers only) gives one point without a ``channel`` tag.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from adapters.tasmota.models import TasmotaEnergy, TasmotaSensor
from hub.adapter_options import AdapterOptions, read_options
from hub.contracts import AdapterEnv
from hub.devices import check_id
from hub.errors import Rejected
from hub.points import FieldValue, Point
from hub.topics import TopicFilter
from hub.units import Conversion, conversion_of
from hub.validation import validate_json

__all__ = ["ENERGY_KEYS", "MEASUREMENT", "EnergyKey", "TasmotaAdapter"]

MEASUREMENT = "building_energy"


@dataclass(frozen=True, slots=True)
class EnergyKey:
    field: str  # canonical field name, with its unit
    unit: str  # the unit Tasmota sends it in
    shared: bool = False  # one number on a multi-channel device holds for every channel
    conversion: Conversion = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # looked up once, not per value
        object.__setattr__(self, "conversion", conversion_of(self.unit))


# TasmotaEnergy attribute (wire key in the comment) → canonical field.
ENERGY_KEYS: dict[str, EnergyKey] = {
    "total": EnergyKey("energy_import_wh", "kWh"),  # Total: the register
    "today": EnergyKey("energy_today_wh", "kWh"),  # Today: resets at local midnight
    "export_active": EnergyKey("energy_export_wh", "kWh"),  # ExportActive
    "power": EnergyKey("power_w", "W"),  # Power
    "apparent_power": EnergyKey("apparent_power_va", "VA"),  # ApparentPower
    "reactive_power": EnergyKey("reactive_power_var", "var"),  # ReactivePower
    "factor": EnergyKey("power_factor_pct", "/"),  # Factor: 0..1 → %
    "voltage": EnergyKey("voltage_v", "V", shared=True),  # Voltage
    "current": EnergyKey("current_a", "A"),  # Current
    "frequency": EnergyKey("frequency_hz", "Hz", shared=True),  # Frequency
}


class TasmotaAdapter:
    """:class:`hub.contracts.Adapter` for Tasmota SENSOR telemetry. Takes no options."""

    name = "tasmota"
    topics: Sequence[TopicFilter] = (TopicFilter("tele/+/SENSOR"),)

    def __init__(self, options: Mapping[str, object], env: AdapterEnv) -> None:
        read_options(AdapterOptions, self.name, options)  # it takes none
        self._env = env

    def parse(self, topic: str, payload: bytes) -> list[Point]:
        levels = topic.split("/")
        if len(levels) != 3 or levels[0] != "tele" or levels[2] != "SENSOR":
            raise Rejected("bad_topic", f"{topic[:120]!r} is not tele/<device>/SENSOR")
        device = check_id(levels[1], "device id")
        tags = {**self._env.devices.lookup(device), "device": device}
        message = validate_json(TasmotaSensor, payload)
        if message.energy is None:
            raise Rejected("no_energy", "SENSOR message without an ENERGY object (no meter)")
        if not message.time.isascii():  # hub.timestamps would int() "²²²…" and raise ValueError
            raise Rejected("bad_timestamp", f"Time {message.time!r} is not an ISO 8601 time")
        time_ns = self._env.time.to_ns(message.time)
        device_fields, channel_fields = _split_channels(message.energy)
        points = []
        if device_fields:
            points.append(Point(MEASUREMENT, tags, device_fields, time_ns))
        for number, fields in enumerate(channel_fields, start=1):
            points.append(Point(MEASUREMENT, {**tags, "channel": str(number)}, fields, time_ns))
        if not points:
            raise Rejected("empty", "the ENERGY object holds no reading the hub maps")
        return points


def _split_channels(
    energy: TasmotaEnergy,
) -> tuple[dict[str, FieldValue], list[dict[str, FieldValue]]]:
    """Canonical fields of the whole device, and of each channel (empty if single-channel)."""
    readings = {name: value for name in ENERGY_KEYS if (value := getattr(energy, name)) is not None}
    widths = {len(value) for value in readings.values() if isinstance(value, list)}
    if len(widths) > 1:
        raise Rejected("bad_value", f"ENERGY arrays disagree on the channel count {sorted(widths)}")
    channels: list[dict[str, FieldValue]] = [{} for _ in range(widths.pop() if widths else 0)]
    device: dict[str, FieldValue] = {}
    for name, reading in readings.items():
        key = ENERGY_KEYS[name]
        if isinstance(reading, list):
            for fields, value in zip(channels, reading, strict=True):
                fields[key.field] = key.conversion.apply(value, key.unit)
        elif channels and key.shared:
            for fields in channels:
                fields[key.field] = key.conversion.apply(reading, key.unit)
        else:
            device[key.field] = key.conversion.apply(reading, key.unit)
    return device, channels
