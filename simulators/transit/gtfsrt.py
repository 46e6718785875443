"""GTFS-Realtime VehiclePosition messages: a ``FeedMessage`` or a bare ``FeedEntity`` in
protobuf, or the FeedMessage in protobuf's canonical JSON mapping (camelCase, enum names,
uint64 as a string). The truth holds the numbers exactly as the encoding carries them
(protobuf ``float`` is 32-bit)."""

from __future__ import annotations

import json
import math
import random
import struct
from datetime import datetime

from google.transit import gtfs_realtime_pb2 as pb

from simulators.simtime import NS_PER_S
from simulators.transit.motion import Bus, BusState
from simulators.transit.network import to_lat_lon
from simulators.truth import Expected, FieldValue

__all__ = ["GPS_SIGMA_M", "OCCUPANCY_BANDS", "encode_position", "feed_json"]

GPS_SIGMA_M = 3.0  # standard deviation of the GPS error, clipped at 3 sigma
SPEED_SIGMA_MPS = 0.2
# occupancy fraction below which each status applies (GTFS-RT OccupancyStatus names)
OCCUPANCY_BANDS: tuple[tuple[float, str], ...] = (
    (0.05, "EMPTY"),
    (0.45, "MANY_SEATS_AVAILABLE"),
    (0.7, "FEW_SEATS_AVAILABLE"),
    (0.9, "STANDING_ROOM_ONLY"),
    (1.0, "CRUSHED_STANDING_ROOM_ONLY"),
    (math.inf, "FULL"),
)


def _occupancy_status(load: float) -> str:
    return next(name for below, name in OCCUPANCY_BANDS if load < below)


def vehicle_position(bus: Bus, state: BusState, time_s: int) -> pb.VehiclePosition:
    """The VehiclePosition the bus's AVL unit reports at ``time_s`` (GPS noise included)."""
    noise = random.Random(f"{bus.seed}:{bus.vehicle_id}:{time_s}")
    east_m = state.east_m + max(-3, min(3, noise.gauss(0, 1))) * GPS_SIGMA_M
    north_m = state.north_m + max(-3, min(3, noise.gauss(0, 1))) * GPS_SIGMA_M
    lat, lon = to_lat_lon(east_m, north_m)
    speed = state.speed_mps + noise.gauss(0, SPEED_SIGMA_MPS) if state.speed_mps else 0.0
    start = datetime.fromtimestamp(state.trip.start_s, tz=bus.city_time.zone)
    position = pb.VehiclePosition()
    position.trip.trip_id = (
        f"{bus.route.route_id}-{state.trip.direction}-{start:%H%M}-{state.trip.day}"
    )
    position.trip.route_id = bus.route.route_id
    position.trip.direction_id = state.trip.direction
    position.trip.start_time = f"{start:%H:%M:%S}"
    position.trip.start_date = f"{start:%Y%m%d}"
    position.vehicle.id = bus.vehicle_id
    position.vehicle.label = bus.vehicle_id.rpartition("-")[2]
    position.position.latitude = round(lat, 6)
    position.position.longitude = round(lon, 6)
    position.position.bearing = round(state.bearing_deg, 1)
    position.position.speed = round(max(0.0, speed), 2)
    position.position.odometer = round(state.odometer_m, 1)
    position.current_stop_sequence = state.stop_sequence
    position.stop_id = state.stop.stop_id
    position.current_status = pb.VehiclePosition.VehicleStopStatus.Value(state.status)
    position.timestamp = time_s
    position.occupancy_status = pb.VehiclePosition.OccupancyStatus.Value(
        _occupancy_status(state.load)
    )
    position.occupancy_percentage = round(state.load * 100)
    return position


def _fields(position: dict[str, object]) -> dict[str, FieldValue]:
    """Canonical fields of a VehiclePosition in its JSON mapping (numbers as carried)."""
    trip, place = position["trip"], position["position"]
    assert isinstance(trip, dict) and isinstance(place, dict)
    return {
        "latitude": float(place["latitude"]),
        "longitude": float(place["longitude"]),
        "bearing_deg": float(place["bearing"]),
        "speed_mps": float(place.get("speed", 0.0)),
        "odometer_m": float(place["odometer"]),
        "trip_id": str(trip["tripId"]),
        "direction_id": float(trip.get("directionId", 0)),
        "stop_id": str(position["stopId"]),
        "current_stop_sequence": float(position["currentStopSequence"]),
        "current_status": str(position.get("currentStatus", "IN_TRANSIT_TO")),
        "occupancy_status": str(position["occupancyStatus"]),
        "occupancy_pct": float(position.get("occupancyPercentage", 0)),
    }


def _float32_json(value: float) -> float:
    """A float field as protobuf's JSON mapping prints it: the shortest decimal that reads
    back as the same 32-bit float."""
    single = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(6, 10):
        text = float(f"{single:.{digits}g}")
        if struct.unpack("f", struct.pack("f", text))[0] == single:
            return text
    return single


def feed_json(feed: pb.FeedMessage) -> dict[str, object]:
    """``json_format.MessageToDict(feed)`` for the fields the simulator sets, ten times
    faster (camelCase keys, enum names, uint64 as a string, float32 shortest)."""
    entities = []
    for entity in feed.entity:
        vehicle, trip, place = entity.vehicle, entity.vehicle.trip, entity.vehicle.position
        status = pb.VehiclePosition.VehicleStopStatus.Name(vehicle.current_status)
        occupancy = pb.VehiclePosition.OccupancyStatus.Name(vehicle.occupancy_status)
        position = {
            "trip": {
                "tripId": trip.trip_id,
                "startTime": trip.start_time,
                "startDate": trip.start_date,
                "routeId": trip.route_id,
                "directionId": trip.direction_id,
            },
            "position": {
                "latitude": _float32_json(place.latitude),
                "longitude": _float32_json(place.longitude),
                "bearing": _float32_json(place.bearing),
                "odometer": place.odometer,
                "speed": _float32_json(place.speed),
            },
            "currentStopSequence": vehicle.current_stop_sequence,
            "currentStatus": status,
            "timestamp": str(vehicle.timestamp),
            "stopId": vehicle.stop_id,
            "vehicle": {"id": vehicle.vehicle.id, "label": vehicle.vehicle.label},
            "occupancyStatus": occupancy,
            "occupancyPercentage": vehicle.occupancy_percentage,
        }
        entities.append({"id": entity.id, "vehicle": position})
    header = {
        "gtfsRealtimeVersion": feed.header.gtfs_realtime_version,
        "incrementality": pb.FeedHeader.Incrementality.Name(feed.header.incrementality),
        "timestamp": str(feed.header.timestamp),
    }
    return {"header": header, "entity": entities}


def _protobuf_fields(vehicle: pb.VehiclePosition) -> dict[str, FieldValue]:
    """Canonical fields of a VehiclePosition as protobuf carries them (float32 widened)."""
    place, trip = vehicle.position, vehicle.trip
    status = pb.VehiclePosition.VehicleStopStatus.Name(vehicle.current_status)
    return {
        "latitude": place.latitude,
        "longitude": place.longitude,
        "bearing_deg": place.bearing,
        "speed_mps": place.speed,
        "odometer_m": place.odometer,
        "trip_id": trip.trip_id,
        "direction_id": float(trip.direction_id),
        "stop_id": vehicle.stop_id,
        "current_stop_sequence": float(vehicle.current_stop_sequence),
        "current_status": status,
        "occupancy_status": pb.VehiclePosition.OccupancyStatus.Name(vehicle.occupancy_status),
        "occupancy_pct": float(vehicle.occupancy_percentage),
    }


def encode_position(bus: Bus, state: BusState, time_s: int) -> tuple[str, bytes, list[Expected]]:
    """Topic, payload and truth of one position report of ``bus``."""
    feed = pb.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.incrementality = pb.FeedHeader.FULL_DATASET
    feed.header.timestamp = time_s
    entity = feed.entity.add()
    entity.id = bus.vehicle_id
    entity.vehicle.CopyFrom(vehicle_position(bus, state, time_s))
    if bus.encoding == "json":
        document = feed_json(feed)
        payload = json.dumps(document, separators=(",", ":")).encode()
        fields = _fields(document["entity"][0]["vehicle"])
    else:
        payload = (feed if bus.encoding == "feed" else entity).SerializeToString()
        # float32 values widened to double: what a protobuf reader sees
        fields = _protobuf_fields(entity.vehicle)
    tags = {"route": bus.route.route_id}
    truth = [Expected("bus_position", bus.vehicle_id, time_s * NS_PER_S, fields, tags)]
    return f"gtfsrt/{bus.feed}/vehicle_positions", payload, truth
