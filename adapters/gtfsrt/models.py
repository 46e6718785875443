"""GTFS-Realtime ``FeedMessage`` / ``FeedEntity`` / ``VehiclePosition``: the wire models.

One set of models reads both encodings. JSON arrives in protobuf's canonical JSON mapping
(lowerCamelCase keys, enum names, uint64 as a string); protobuf's own JSON parser also
accepts the proto field names, enum numbers and uint64 as a number, and so do these models.
Binary protobuf is decoded by ``gtfs_realtime_pb2`` and handed over as a dict of proto field
names (:mod:`adapters.gtfsrt.binary`), so every range and type check lives here, once.
Only the fields the hub reads are modelled; the rest (alerts, trip updates, extensions) is
ignored.
"""

from __future__ import annotations

from typing import Annotated, Any

from google.transit import gtfs_realtime_pb2 as pb
from pydantic import BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from hub.validation import WireModel

__all__ = ["FeedEntity", "FeedHeader", "FeedMessage", "Position", "VehiclePosition"]

MAX_ENTITIES = 20_000  # a large city's whole fleet in one feed, with room to spare
_NON_FINITE_TEXT = frozenset({"NaN", "Infinity", "-Infinity"})


def _uint64(value: Any) -> Any:
    """uint64 comes as a decimal string in JSON (a number is accepted too)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    return value  # anything else meets the strict int check: wrong_type


def _finite(value: Any) -> Any:
    """protobuf's JSON mapping spells non-finite floats as strings: refuse them as such."""
    if isinstance(value, str) and value in _NON_FINITE_TEXT:
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    return value


def _enum(enum: Any) -> Any:
    """A str field holding the enum value's name; its number is accepted and named."""
    names = frozenset(enum.keys())
    # Built once: the wrapper's values() and Name() build lists on every call.
    by_number = {number: enum.Name(number) for number in enum.values()}

    def to_name(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if value not in by_number:
                raise ValueError(f"{value} is not a value of {enum.DESCRIPTOR.name}")
            return by_number[value]
        if isinstance(value, str) and value not in names:
            raise ValueError(f"{value[:40]!r} is not one of {', '.join(sorted(names))}")
        return value

    return Annotated[str, BeforeValidator(to_name)]


PosixSeconds = Annotated[int, BeforeValidator(_uint64), Field(ge=0)]
Real = Annotated[float, BeforeValidator(_finite)]
Text = Annotated[str, Field(max_length=256)]
VehicleStopStatus = _enum(pb.VehiclePosition.VehicleStopStatus)
CongestionLevel = _enum(pb.VehiclePosition.CongestionLevel)
OccupancyStatus = _enum(pb.VehiclePosition.OccupancyStatus)
Incrementality = _enum(pb.FeedHeader.Incrementality)


class GtfsModel(WireModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_alias=True, validate_by_name=True
    )


class TripDescriptor(GtfsModel):
    trip_id: Text | None = None
    route_id: Text | None = None
    direction_id: int | None = Field(None, ge=0, le=1)


class VehicleDescriptor(GtfsModel):
    id: Text | None = None
    label: Text | None = None


class Position(GtfsModel):
    latitude: Annotated[Real, Field(ge=-90, le=90)]  # WGS-84 degrees
    longitude: Annotated[Real, Field(ge=-180, le=180)]
    bearing: Annotated[Real, Field(ge=0, le=360)] | None = None  # degrees clockwise from north
    speed: Annotated[Real, Field(ge=0)] | None = None  # m/s
    odometer: Annotated[Real, Field(ge=0)] | None = None  # m


class VehiclePosition(GtfsModel):
    trip: TripDescriptor | None = None
    vehicle: VehicleDescriptor | None = None
    position: Position | None = None
    current_stop_sequence: int | None = Field(None, ge=0)
    stop_id: Text | None = None
    current_status: VehicleStopStatus | None = None
    timestamp: PosixSeconds | None = None  # when the position was measured
    congestion_level: CongestionLevel | None = None
    occupancy_status: OccupancyStatus | None = None
    occupancy_percentage: int | None = Field(None, ge=0)  # may exceed 100 (crush load)


class FeedEntity(GtfsModel):
    id: Text
    is_deleted: bool = False
    vehicle: VehiclePosition | None = None


class FeedHeader(GtfsModel):
    gtfs_realtime_version: Text | None = None  # required in binary, where it tells the kinds apart
    incrementality: Incrementality | None = None
    timestamp: PosixSeconds | None = None


class FeedMessage(GtfsModel):
    header: FeedHeader
    entity: list[FeedEntity] = Field(default_factory=list, max_length=MAX_ENTITIES)
