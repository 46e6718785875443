"""Building energy meters publishing SenML packs on ``senml/<meter_id>``.

The meter id comes from the topic and must be in the device registry, which gives the
building and district tags. Base fields are resolved as RFC 8428 section 4.6 says: a record's
name is ``bn + n``, its time ``bt + t`` (a result below 2**28 is relative to now), its unit
``u`` or else ``bu``, its value ``bv + v`` or its sum ``bs + s``; base fields carry over to
the records after them. The quantity is the last segment of the name (after ``:`` or ``/``)
and maps through :data:`QUANTITIES`; records resolved to the same time become one point.

Records are independent readings: one that cannot be read (an unknown quantity, no value, a
unit that does not fit) is refused on its own, its dead letter naming the record's index and
name, and the pack's other records are stored. A pack of which no record can be read is
rejected as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from adapters.senml.models import SenMLPack
from hub.adapter_options import AdapterOptions, IdFilter, read_options
from hub.contracts import AdapterEnv, Parsed
from hub.devices import check_id
from hub.errors import Rejected
from hub.points import FieldValue, Point
from hub.timestamps import NS_PER_S
from hub.topics import TopicFilter
from hub.units import to_canonical
from hub.validation import validate_json

__all__ = ["MEASUREMENT", "QUANTITIES", "Quantity", "SenMLAdapter"]

MEASUREMENT = "building_energy"
_RELATIVE_BELOW = 2**28  # RFC 8428 4.5.3: smaller resolved times are relative to now


@dataclass(frozen=True, slots=True)
class Quantity:
    field: str  # canonical field name, with its unit
    unit: str  # the canonical unit the wire unit must convert to


QUANTITIES: dict[str, Quantity] = {
    "power": Quantity("power_w", "W"),
    "energy": Quantity("energy_import_wh", "Wh"),
    "energy_import": Quantity("energy_import_wh", "Wh"),
    "energy_export": Quantity("energy_export_wh", "Wh"),
    "reactive_power": Quantity("reactive_power_var", "var"),
    "apparent_power": Quantity("apparent_power_va", "VA"),
    "voltage": Quantity("voltage_v", "V"),
    "current": Quantity("current_a", "A"),
    "frequency": Quantity("frequency_hz", "Hz"),
    "power_factor": Quantity("power_factor_pct", "%"),
    "temperature": Quantity("temperature_c", "Cel"),
}


class SenMLOptions(AdapterOptions):
    topic: IdFilter = "senml/+"


class SenMLAdapter:
    """:class:`hub.contracts.Adapter` for SenML JSON packs. Option: ``topic`` (filter whose
    last level is the meter id, default ``senml/+``)."""

    name = "senml"

    def __init__(self, options: Mapping[str, object], env: AdapterEnv) -> None:
        chosen = read_options(SenMLOptions, self.name, options)
        self.topics: Sequence[TopicFilter] = (TopicFilter(chosen.topic),)
        self._env = env

    def parse(self, topic: str, payload: bytes) -> list[Point]:
        meter = check_id(topic.rpartition("/")[2], "meter id")
        tags = {**self._env.devices.lookup(meter), "device": meter}
        pack = validate_json(SenMLPack, payload).root
        now_s = self._env.time.clock.now_ns() / NS_PER_S
        base_name, base_time, base_unit, base_value, base_sum = "", 0.0, None, 0.0, 0.0
        fields_at: dict[int, dict[str, FieldValue]] = {}
        rejects: list[Rejected] = []
        for index, record in enumerate(pack):
            base_name = record.bn if record.bn is not None else base_name
            base_time = record.bt if record.bt is not None else base_time
            base_unit = record.bu if record.bu is not None else base_unit
            base_value = record.bv if record.bv is not None else base_value
            base_sum = record.bs if record.bs is not None else base_sum
            if record.n is None and record.v is None and record.s is None:
                continue  # a record carrying only base fields
            try:
                name = base_name + (record.n or "")
                quantity_name = name.replace("/", ":").rpartition(":")[2]
                quantity = QUANTITIES.get(quantity_name)
                if quantity is None:
                    raise Rejected(
                        "unknown_quantity", f"record {index} ({name}): not a known quantity"
                    )
                if record.v is not None:
                    raw = base_value + record.v
                elif record.s is not None:
                    raw = base_sum + record.s
                else:
                    raise Rejected("missing_field", f"record {index} ({name}): no numeric v or s")
                unit = record.u or base_unit
                if unit is None:
                    raise Rejected("missing_unit", f"record {index} ({name}): no u and no bu")
                value, canonical_unit = to_canonical(raw, unit)
                if canonical_unit != quantity.unit:
                    raise Rejected(
                        "unit_mismatch",
                        f"record {index} ({name}): in {unit!r}, not {quantity.unit}",
                    )
                seconds = base_time + (record.t or 0.0)
                if seconds < _RELATIVE_BELOW:
                    seconds += now_s
                time_ns = self._env.time.check(round(seconds * NS_PER_S))
                fields_at.setdefault(time_ns, {})[quantity.field] = value
            except Rejected as error:  # this record only: the others are read
                rejects.append(error)
        if rejects and not fields_at:
            raise rejects[0]
        if not fields_at:
            raise Rejected("empty", "the pack holds no measurement record")
        points = [Point(MEASUREMENT, tags, f, time_ns) for time_ns, f in fields_at.items()]
        return Parsed(points, rejects) if rejects else points
