"""Shelly Gen2+ meters publishing ``<prefix>/status/switch:<id>`` (relays with a meter) or
``<prefix>/status/pm1:<id>`` (power meters); other components the device reports under the
same prefix (``sys``, ``wifi``, ``input:0``...) carry no reading and are skipped.

The device id is the MQTT prefix (``shellyplus1pm-a8032ab12345`` by default) and must be in
the device registry; the switch id becomes the ``channel`` tag. Fields map through
:data:`SWITCH_FIELDS`.

**Time.** ``aenergy.minute_ts`` is the first second of the minute in which the device took the
reading, so the reading happened somewhere in ``[minute_ts, minute_ts + 60)``. The point is
stamped ``minute_ts`` anyway: it comes from the payload, so a redelivered message lands on the
same time and is written once (wall-clock receive time would make every redelivery a new
point), and it never moves a reading out of a minute-aligned aggregation window (hour, day),
so ``increase`` per hour is exact. The price: several status messages of one minute collapse
into one point (the last written wins). Without ``minute_ts`` (no time sync yet, or a
non-metering model) the hub's clock is the time.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from adapters.shelly.models import ShellySwitchStatus
from hub.adapter_options import AdapterOptions, read_options
from hub.contracts import AdapterEnv
from hub.devices import check_id
from hub.errors import Rejected
from hub.points import FieldValue, Point
from hub.topics import TopicFilter
from hub.units import Conversion, conversion_of
from hub.validation import validate_json

__all__ = ["MEASUREMENT", "NON_METERING", "SWITCH_FIELDS", "ShellyAdapter", "SwitchField"]

MEASUREMENT = "building_energy"
# Metering components: a relay with a meter (switch), a power meter without relay (pm1, the
# Gen3 "PM Mini"); both report apower, voltage, current, freq, aenergy and ret_aenergy.
_METERING = re.compile(r"(?:switch|pm1):(\d{1,3})")
# Components a Shelly also reports under <prefix>/status/ that carry no energy reading: they
# are not ours to store, and not errors either (one dead letter per device status would bury
# the real ones).
NON_METERING = frozenset(
    {"sys", "wifi", "eth", "cloud", "mqtt", "ble", "ws", "input", "script", "ui", "bthome",
     "knx", "modbus", "matter", "temperature", "humidity", "devicepower", "voltmeter"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SwitchField:
    field: str  # canonical field name, with its unit
    unit: str  # the unit Shelly sends it in
    read: Callable[[ShellySwitchStatus], float | None]
    conversion: Conversion = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # looked up once, not per value
        object.__setattr__(self, "conversion", conversion_of(self.unit))


SWITCH_FIELDS: tuple[SwitchField, ...] = (
    SwitchField("power_w", "W", lambda s: s.apower),
    SwitchField("voltage_v", "V", lambda s: s.voltage),
    SwitchField("current_a", "A", lambda s: s.current),
    SwitchField("frequency_hz", "Hz", lambda s: s.freq),
    SwitchField("power_factor_pct", "/", lambda s: s.pf),
    SwitchField("energy_import_wh", "Wh", lambda s: s.aenergy.total if s.aenergy else None),
    SwitchField("energy_export_wh", "Wh", lambda s: s.ret_aenergy.total if s.ret_aenergy else None),
    SwitchField("temperature_c", "Cel", lambda s: s.temperature.t_c if s.temperature else None),
)


class ShellyAdapter:
    """:class:`hub.contracts.Adapter` for Shelly Gen2+ switch status. Takes no options."""

    name = "shelly"
    topics: Sequence[TopicFilter] = (TopicFilter("+/status/+"),)

    def __init__(self, options: Mapping[str, object], env: AdapterEnv) -> None:
        read_options(AdapterOptions, self.name, options)  # it takes none
        self._env = env

    def parse(self, topic: str, payload: bytes) -> list[Point]:
        levels = topic.split("/")
        if len(levels) != 3 or levels[1] != "status":
            raise Rejected("bad_topic", f"{topic[:120]!r} is not <prefix>/status/<component>")
        component = _METERING.fullmatch(levels[2])
        if component is None:
            if levels[2].partition(":")[0] in NON_METERING:
                return []
            raise Rejected(
                "unsupported_component",
                f"component {levels[2][:40]!r} is not switch:<id> or pm1:<id>",
            )
        device = check_id(levels[0], "device id")
        tags = {**self._env.devices.lookup(device), "device": device}
        status = validate_json(ShellySwitchStatus, payload)
        channel = int(component.group(1))
        if status.id != channel:
            raise Rejected(
                "bad_value", f"payload id {status.id} is not the topic's switch:{channel}"
            )
        fields: dict[str, FieldValue] = {}
        for spec in SWITCH_FIELDS:
            value = spec.read(status)
            if value is not None:
                fields[spec.field] = spec.conversion.apply(value, spec.unit)
        if not fields:
            raise Rejected("empty", f"switch:{channel} status holds no measurement")
        minute_ts = status.aenergy.minute_ts if status.aenergy else None
        if minute_ts is not None:
            time_ns = self._env.time.to_ns(minute_ts)
        else:
            time_ns = self._env.time.check(self._env.time.clock.now_ns())
        return [Point(MEASUREMENT, {**tags, "channel": str(channel)}, fields, time_ns)]
