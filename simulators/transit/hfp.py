"""HFP v2 vehicle positions (Helsinki Region Transport's high-frequency positioning): a ``VP``
event on ``/hfp/v2/journey/ongoing/vp/bus/<operator>/<vehicle>/<route>/<direction>/
<headsign>/<start_time>/<next_stop>/<geohash_level>/<geohash>``, payload ``{"VP": {...}}``.

The simulated bus is on time (its timetable is the motion model), so ``dl`` is 0 and the
hub's ``delay_s`` 0.0; the truth holds every field the hub's HFP adapter reads, exactly as the
payload carries it (``hdg``, ``odo``, ``occu`` are integers in HFP).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

from simulators.simtime import NS_PER_S
from simulators.transit.motion import Bus, BusState
from simulators.transit.network import to_lat_lon
from simulators.truth import Expected, FieldValue

__all__ = ["HFP_OPERATOR", "encode_hfp", "hfp_vehicle_id"]

HFP_OPERATOR = "0099"  # a city operator's number
GPS_SIGMA_M = 3.0


def hfp_vehicle_id(index: int) -> str:
    """The hub's device id of a simulated HFP vehicle: ``<operator>:<vehicle>``."""
    return f"{HFP_OPERATOR}:{1001 + index:05d}"


def _geohash(lat: float, lon: float) -> str:
    """HFP's topic geohash: ``60;24/19/73/44`` (integer degrees, then digit pairs)."""
    lat_digits, lon_digits = f"{lat:.3f}".split(".")[1], f"{lon:.3f}".split(".")[1]
    pairs = "/".join(a + b for a, b in zip(lat_digits, lon_digits, strict=True))
    return f"{int(lat)};{int(lon)}/{pairs}"


def encode_hfp(bus: Bus, state: BusState, time_s: int) -> tuple[str, bytes, list[Expected]]:
    noise = random.Random(f"{bus.seed}:{bus.vehicle_id}:{time_s}")
    east_m = state.east_m + max(-3, min(3, noise.gauss(0, 1))) * GPS_SIGMA_M
    north_m = state.north_m + max(-3, min(3, noise.gauss(0, 1))) * GPS_SIGMA_M
    lat, lon = to_lat_lon(east_m, north_m)
    lat, lon = round(lat, 6), round(lon, 6)
    start = datetime.fromtimestamp(state.trip.start_s, tz=bus.city_time.zone)
    operator, vehicle = bus.vehicle_id.split(":")
    route = bus.route.route_id
    direction = str(state.trip.direction + 1)  # HFP 1/2, GTFS 0/1
    stopped = state.status == "STOPPED_AT"
    body: dict[str, object] = {
        "desi": route,
        "dir": direction,
        "oper": int(operator),
        "veh": int(vehicle),
        "tst": datetime.fromtimestamp(time_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "tsi": time_s,
        "spd": round(max(0.0, state.speed_mps), 2),
        "hdg": round(state.bearing_deg) % 360,
        "lat": lat,
        "long": lon,
        "acc": 0.0,
        "dl": 0,
        "odo": round(state.odometer_m),
        "drst": 1 if stopped else 0,
        "oday": f"{start:%Y-%m-%d}",
        "jrn": state.trip.day,
        "line": 1,
        "start": f"{start:%H:%M}",
        "loc": "GPS",
        "stop": state.stop.stop_id if stopped else None,
        "route": route,
        "occu": min(100, round(state.load * 100)),
    }
    fields: dict[str, FieldValue] = {
        "latitude": lat,
        "longitude": lon,
        "speed_mps": float(body["spd"]),  # type: ignore[arg-type]
        "bearing_deg": float(body["hdg"]),  # type: ignore[arg-type]
        "odometer_m": float(body["odo"]),  # type: ignore[arg-type]
        "occupancy_pct": float(body["occu"]),  # type: ignore[arg-type]
        "delay_s": 0.0,
        "doors_open": stopped,
        "route_short_name": route,
        "direction_id": float(state.trip.direction),
        "start_date": f"{start:%Y%m%d}",
        "start_time": f"{start:%H:%M}:00",
    }
    if stopped:
        fields["stop_id"] = state.stop.stop_id
    topic = (
        f"/hfp/v2/journey/ongoing/vp/bus/{operator}/{vehicle}/{route}/{direction}/"
        f"{bus.route.stops[-1].stop_id}/{start:%H:%M}/{state.stop.stop_id}/3/{_geohash(lat, lon)}"
    )
    tags = {"route": route, "mode": "bus"}
    truth = [Expected("bus_position", bus.vehicle_id, time_s * NS_PER_S, fields, tags)]
    return topic, json.dumps({"VP": body}, separators=(",", ":")).encode(), truth
