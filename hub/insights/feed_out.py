"""The GTFS-Realtime VehiclePositions feed the hub serves back out.

One entity per vehicle the hub knows, at its newest ``bus_position`` fix, whatever format the
fix arrived in (HFP, GTFS-RT, a mapping), so the trip planners a city already runs
(OpenTripPlanner, a journey app) can read the hub as their real-time source. What the stored
fields allow goes in: ``trip`` (``trip_id``, ``route_id`` from the ``route`` tag,
``direction_id``, ``start_time``, ``start_date``: HFP journeys have no GTFS trip id, and
GTFS-RT lets route, direction and start identify the trip), ``vehicle`` (id, and the route's
short name as label), ``position``, stop and status, occupancy, and ``timestamp`` (POSIX s).

The header's ``timestamp`` is the newest fix's time, not the time of the request: the feed is
then the same bytes until a vehicle moves, which is what makes its ETag worth checking. The
ETag is a digest of those bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from google.transit import gtfs_realtime_pb2 as rt

from hub.contracts import Store
from hub.insights.buses import latest_fixes
from hub.points import FieldValue
from hub.query import LatestQuery, LatestRow

__all__ = ["VehicleFeed", "vehicle_positions_feed"]

NS_PER_S = 1_000_000_000
_VP = rt.VehiclePosition


@dataclass(frozen=True)
class VehicleFeed:
    message: rt.FeedMessage
    etag: str  # a strong ETag, quoted
    timestamp_s: int  # the header's timestamp (0 when the hub knows no vehicle)


def vehicle_positions_feed(store: Store) -> VehicleFeed:
    """The feed of the newest fix of every vehicle, entities in vehicle id order."""
    return build_feed(store.latest(LatestQuery("bus_position")))


def build_feed(rows: Iterable[LatestRow]) -> VehicleFeed:
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.incrementality = rt.FeedHeader.FULL_DATASET
    newest_s = 0
    for device, row in sorted(latest_fixes(rows).items()):
        entity = feed.entity.add()
        entity.id = device
        _fill(entity.vehicle, device, row)
        newest_s = max(newest_s, entity.vehicle.timestamp)
    feed.header.timestamp = newest_s
    digest = hashlib.sha256(feed.SerializeToString(deterministic=True)).hexdigest()[:32]
    return VehicleFeed(feed, f'"{digest}"', newest_s)


def _fill(vehicle: rt.VehiclePosition, device: str, row: LatestRow) -> None:
    fields = row.fields
    vehicle.timestamp = row.time_ns // NS_PER_S
    vehicle.vehicle.id = device
    if isinstance(label := fields.get("route_short_name"), str):
        vehicle.vehicle.label = label
    vehicle.position.latitude = _number(fields["latitude"]) or 0.0
    vehicle.position.longitude = _number(fields["longitude"]) or 0.0
    for name, attribute in (
        ("bearing_deg", "bearing"),
        ("speed_mps", "speed"),
        ("odometer_m", "odometer"),
    ):
        if (value := _number(fields.get(name))) is not None:
            setattr(vehicle.position, attribute, value)
    trip = vehicle.trip
    if route := row.tags.get("route"):
        trip.route_id = route
    for name in ("trip_id", "start_time", "start_date"):
        if isinstance(text := fields.get(name), str):
            setattr(trip, name, text)
    if (direction := _number(fields.get("direction_id"))) is not None:
        trip.direction_id = int(direction)
    if isinstance(stop := fields.get("stop_id"), str):
        vehicle.stop_id = stop
    if (sequence := _number(fields.get("current_stop_sequence"))) is not None:
        vehicle.current_stop_sequence = int(sequence)
    if (occupancy := _number(fields.get("occupancy_pct"))) is not None:
        vehicle.occupancy_percentage = round(occupancy)
    for name, enum in (
        ("current_status", _VP.VehicleStopStatus),
        ("occupancy_status", _VP.OccupancyStatus),
        ("congestion_level", _VP.CongestionLevel),
    ):
        state = fields.get(name)
        if isinstance(state, str) and state in enum.keys():  # noqa: SIM118 (protobuf enum)
            setattr(vehicle, name, enum.Value(state))


def _number(value: FieldValue | None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, float | int):
        return None
    return float(value)
