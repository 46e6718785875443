"""GTFS-Realtime vehicle positions on ``gtfsrt/<feed>/vehicle_positions``.

A payload is a ``FeedMessage`` or a single ``FeedEntity``, as protobuf bytes or in protobuf's
canonical JSON mapping; a first non-space byte ``{`` means JSON (and ``[``, so that a JSON
array is refused as ``wrong_type``, not as bad protobuf: no FeedMessage or FeedEntity starts
with that byte). A protobuf message can start with 0x0A, which is whitespace, then a length of
123, which is ``{``: when such a payload is not JSON, it is read as protobuf before being
refused.

JSON is validated by the pydantic models, not by ``json_format.Parse``: pydantic names the
field and gives the shared reason codes (``out_of_range`` for latitude 200, ``not_finite``,
``wrong_type``, ``missing_field``), where ``ParseError`` is one message for every problem and
quietly accepts numbers in strings. Binary protobuf goes through the same models.

One ``bus_position`` point per vehicle entity, tagged ``device`` (``vehicle.id``, else the
entity id), ``route`` (``trip.route_id``; absent when the feed does not say: an invented
"unknown" route would show up in per-route answers as a route) and the registry's tags when
the vehicle is registered. Entities that carry no position (no ``vehicle``, no
``position``, deleted, or 0/0, which is a GPS unit without a fix) are skipped; a feed with
none left is rejected.

Entities are independent readings: a corrupt one (latitude 200, NaN, a bad id, a future time)
is refused on its own, its dead letter naming the entity and vehicle ids, and the rest of
the feed is stored (a :class:`~hub.contracts.Parsed`). A feed whose every position is corrupt
is rejected as a whole, with the first entity's reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import RootModel

from adapters.gtfsrt.binary import decode
from adapters.gtfsrt.models import MAX_ENTITIES, FeedEntity, FeedMessage, VehiclePosition
from hub.adapter_options import RegisteredOptions, read_options
from hub.contracts import AdapterEnv, Parsed
from hub.devices import check_id
from hub.errors import Rejected
from hub.points import FieldValue, Point
from hub.topics import TopicFilter
from hub.units import Conversion, conversion_of
from hub.validation import validate_json, validate_python

__all__ = ["MEASUREMENT", "VEHICLE_FIELDS", "GtfsRtAdapter", "VehicleField"]

MEASUREMENT = "bus_position"
_WHITESPACE = b" \t\r\n"


@dataclass(frozen=True, slots=True)
class VehicleField:
    field: str  # canonical field name
    read: Callable[[VehiclePosition], float | int | str | None]
    unit: str | None = None  # GTFS-RT unit of a number; None: a count, an id or an enum name
    conversion: Conversion | None = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # looked up once, not per value
        conversion = None if self.unit is None else conversion_of(self.unit)
        object.__setattr__(self, "conversion", conversion)


VEHICLE_FIELDS: tuple[VehicleField, ...] = (
    VehicleField("latitude", lambda v: v.position.latitude if v.position else None, "deg"),
    VehicleField("longitude", lambda v: v.position.longitude if v.position else None, "deg"),
    VehicleField("bearing_deg", lambda v: v.position.bearing if v.position else None, "deg"),
    VehicleField("speed_mps", lambda v: v.position.speed if v.position else None, "m/s"),
    VehicleField("odometer_m", lambda v: v.position.odometer if v.position else None, "m"),
    VehicleField("trip_id", lambda v: v.trip.trip_id if v.trip else None),
    VehicleField("direction_id", lambda v: v.trip.direction_id if v.trip else None),
    VehicleField("stop_id", lambda v: v.stop_id),
    VehicleField("current_stop_sequence", lambda v: v.current_stop_sequence),
    VehicleField("current_status", lambda v: v.current_status),
    VehicleField("occupancy_status", lambda v: v.occupancy_status),
    VehicleField("occupancy_pct", lambda v: v.occupancy_percentage, "%"),
    VehicleField("congestion_level", lambda v: v.congestion_level),
)


class _JsonObject(RootModel[dict[str, object]]):
    """Any JSON object: decoded once, then validated as a feed or an entity."""


class GtfsRtAdapter:
    """:class:`hub.contracts.Adapter` for GTFS-Realtime vehicle positions. Option
    ``require_registered`` (bool, default false): reject vehicles not in the registry."""

    name = "gtfsrt"
    topics: Sequence[TopicFilter] = (TopicFilter("gtfsrt/+/vehicle_positions"),)

    def __init__(self, options: Mapping[str, object], env: AdapterEnv) -> None:
        chosen = read_options(RegisteredOptions, self.name, options)
        self._require_registered = chosen.require_registered
        self._env = env

    def parse(self, topic: str, payload: bytes) -> list[Point]:
        levels = topic.split("/")
        if len(levels) != 3 or levels[0] != "gtfsrt" or levels[2] != "vehicle_positions":
            raise Rejected("bad_topic", f"{topic[:120]!r} is not gtfsrt/<feed>/vehicle_positions")
        documents, header_time = _read(payload)
        points: list[Point] = []
        rejects: list[Rejected] = []
        for document in documents:
            try:
                entity = validate_python(FeedEntity, document)
                vehicle = entity.vehicle
                if entity.is_deleted or vehicle is None or vehicle.position is None:
                    continue
                if vehicle.position.latitude == 0 and vehicle.position.longitude == 0:
                    continue  # 0/0: the GPS unit has no fix
                points.append(self._point(entity, vehicle, header_time))
            except Rejected as error:
                rejects.append(Rejected(error.reason, f"{_name(document)}: {error.detail}"))
        if rejects and not points:
            raise rejects[0]
        if rejects:
            return Parsed(points, rejects)
        if not points:
            raise Rejected(
                "no_vehicle_position",
                f"none of {len(documents)} entities holds a vehicle position with a GPS fix",
            )
        return points

    def _point(
        self, entity: FeedEntity, vehicle: VehiclePosition, header_time: int | None
    ) -> Point:
        vehicle_id = vehicle.vehicle.id if vehicle.vehicle and vehicle.vehicle.id else None
        device = check_id(vehicle_id or entity.id, "vehicle id" if vehicle_id else "entity id")
        registered = self._require_registered or device in self._env.devices
        tags = {**(self._env.devices.lookup(device) if registered else {}), "device": device}
        if vehicle.trip and vehicle.trip.route_id:
            tags["route"] = check_id(vehicle.trip.route_id, "route id")
        posix_s = vehicle.timestamp if vehicle.timestamp is not None else header_time
        if posix_s is None:
            raise Rejected("missing_field", f"entity {entity.id!r}: no timestamp, nor in header")
        fields: dict[str, FieldValue] = {}
        for spec in VEHICLE_FIELDS:
            value = spec.read(vehicle)
            if value is None:
                continue
            if isinstance(value, str):
                fields[spec.field] = value
            elif spec.conversion is not None:
                fields[spec.field] = spec.conversion.apply(value, str(spec.unit))
            else:
                fields[spec.field] = float(value)
        return Point(MEASUREMENT, tags, fields, self._env.time.to_ns(posix_s))


def _name(document: object) -> str:
    """How a dead letter names an entity: its id and its vehicle's id, as far as readable."""
    entity_id = document.get("id") if isinstance(document, dict) else None
    vehicle = document.get("vehicle") if isinstance(document, dict) else None
    descriptor = vehicle.get("vehicle") if isinstance(vehicle, dict) else None
    vehicle_id = descriptor.get("id") if isinstance(descriptor, dict) else None
    return f"entity {str(entity_id)[:64]!r} (vehicle {str(vehicle_id)[:64]!r})"


def _read(payload: bytes) -> tuple[list[object], int | None]:
    """The entity documents of a feed or single entity, JSON or protobuf (each validated by
    the caller, one by one), and the header's time."""
    if payload.lstrip(_WHITESPACE)[:1] in (b"{", b"["):
        try:
            document = validate_json(_JsonObject, payload).root
        except Rejected as json_problem:
            if not payload.startswith(b"\n"):
                raise
            try:  # protobuf that only looked like JSON?
                kind, document = decode(payload)
            except Rejected:
                raise json_problem from None
        else:
            kind = "feed" if "header" in document or "entity" in document else "entity"
    else:
        kind, document = decode(payload)
    if kind == "entity":
        return [document], None
    entities = document.get("entity", [])
    feed = validate_python(FeedMessage, {**document, "entity": []})
    if not isinstance(entities, list):
        raise Rejected("wrong_type", "entity: must be a list of FeedEntity")
    if len(entities) > MAX_ENTITIES:
        raise Rejected("out_of_range", f"entity: {len(entities)} entities, at most {MAX_ENTITIES}")
    return entities, feed.header.timestamp
