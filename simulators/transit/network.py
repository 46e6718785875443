"""Routes and stops on a local plane around the city centre (metres east/north), with the
conversions to WGS-84 degrees."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

__all__ = ["CENTER", "Route", "Stop", "to_lat_lon", "to_metres"]

CENTER = (52.5200, 13.4050)  # lat, lon of the city centre (degrees)
METRES_PER_DEG_LAT = 111_320.0


def to_lat_lon(east_m: float, north_m: float) -> tuple[float, float]:
    """Local metres around :data:`CENTER` → (latitude, longitude) degrees."""
    lat0, lon0 = CENTER
    lat = lat0 + north_m / METRES_PER_DEG_LAT
    lon = lon0 + east_m / (METRES_PER_DEG_LAT * math.cos(math.radians(lat0)))
    return lat, lon


def to_metres(lat: float, lon: float) -> tuple[float, float]:
    """(latitude, longitude) degrees → local metres (east, north) around :data:`CENTER`."""
    lat0, lon0 = CENTER
    return (
        (lon - lon0) * METRES_PER_DEG_LAT * math.cos(math.radians(lat0)),
        (lat - lat0) * METRES_PER_DEG_LAT,
    )


@dataclass(frozen=True, slots=True)
class Stop:
    stop_id: str
    east_m: float
    north_m: float


@dataclass(frozen=True, eq=False)  # an entity: equal only to itself, cheap to hash
class Route:
    """A bus line: its stops in direction 0 (direction 1 runs them backwards)."""

    route_id: str
    stops: tuple[Stop, ...]

    @cached_property
    def segment_lengths_m(self) -> tuple[float, ...]:
        return tuple(
            math.dist((a.east_m, a.north_m), (b.east_m, b.north_m))
            for a, b in zip(self.stops, self.stops[1:], strict=False)
        )

    @cached_property
    def length_m(self) -> float:
        return sum(self.segment_lengths_m)

    def stops_in(self, direction: int) -> tuple[Stop, ...]:
        return self.stops if direction == 0 else self.stops[::-1]

    def distance_to_m(self, east_m: float, north_m: float) -> float:
        """Shortest distance (m) from a point to the route's polyline."""
        return min(
            _to_segment_m(east_m, north_m, a, b)
            for a, b in zip(self.stops, self.stops[1:], strict=False)
        )


def _to_segment_m(x: float, y: float, a: Stop, b: Stop) -> float:
    dx, dy = b.east_m - a.east_m, b.north_m - a.north_m
    length2 = dx * dx + dy * dy
    share = 0.0 if length2 == 0 else ((x - a.east_m) * dx + (y - a.north_m) * dy) / length2
    share = min(1.0, max(0.0, share))
    return math.dist((x, y), (a.east_m + share * dx, a.north_m + share * dy))
