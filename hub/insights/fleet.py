"""Bus answers: the latest position of every vehicle (GeoJSON), a vehicle's track, mean
speed per route and window, and the vehicles gone silent.

``route`` is a tag, so a vehicle that changes route has one series per route; its latest fix
is the newest of them (:func:`hub.insights.buses.latest_fixes`).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from geojson_pydantic import Feature, FeatureCollection, LineString, Point
from pydantic import BaseModel

from hub.geo import path_length_m
from hub.insights.buses import latest_fixes
from hub.insights.context import NS_PER_S, Context, utc
from hub.insights.events import read_events
from hub.insights.inventory import Unknown, check_known
from hub.precision import DECIMALS, Coordinate, Kmh, M, Mps, S
from hub.query import AggregateQuery, LatestQuery

__all__ = [
    "Positions",
    "RouteSpeed",
    "StaleVehicles",
    "Track",
    "positions",
    "route_speed",
    "stale_vehicles",
    "track",
]


def _position(longitude: object, latitude: object) -> tuple[float, float]:
    digits = DECIMALS["degree"]
    return (round(float(longitude), digits), round(float(latitude), digits))  # type: ignore[arg-type]


class PositionProperties(BaseModel):
    vehicle: str
    route: str | None
    propulsion: str | None
    time: datetime
    age_s: S
    stale: bool
    trip_id: str | None = None
    speed_mps: Mps | None = None
    bearing_deg: float | None = None
    occupancy_status: str | None = None
    occupancy_pct: float | None = None
    odometer_m: M | None = None
    current_status: str | None = None
    stop_id: str | None = None


PROPERTIES_FROM_FIELDS = (
    "trip_id", "speed_mps", "bearing_deg", "occupancy_status", "occupancy_pct", "odometer_m",
    "current_status", "stop_id",
)  # fmt: skip


class Positions(FeatureCollection[Feature[Point, PositionProperties]]):
    """RFC 7946 FeatureCollection; ``generated_at`` is a foreign member (§6.1)."""

    generated_at: datetime


def positions(ctx: Context, route: str | None) -> Positions:
    """One Point feature per vehicle at its newest fix; ``stale`` says the fix is older than
    ``CITYHUB_INSIGHTS__BUS_STALE_S``."""
    check_known(ctx, ("bus_position",), "route", route)
    features = []
    fixes = latest_fixes(ctx.store.latest(LatestQuery("bus_position")))
    for vehicle, row in sorted(fixes.items()):
        if route is not None and row.tags.get("route") != route:
            continue
        age_s = (ctx.now_ns - row.time_ns) / NS_PER_S
        present = {name: row.fields[name] for name in PROPERTIES_FROM_FIELDS if name in row.fields}
        properties = PositionProperties(
            vehicle=vehicle,
            route=row.tags.get("route"),
            propulsion=row.tags.get("propulsion"),
            time=utc(row.time_ns),
            age_s=age_s,
            stale=age_s > ctx.config.bus_stale_s,
            **present,  # type: ignore[arg-type]
        )
        point = Point(
            type="Point", coordinates=_position(row.fields["longitude"], row.fields["latitude"])
        )
        features.append(
            Feature[Point, PositionProperties](
                type="Feature", geometry=point, properties=properties
            )
        )
    return Positions(type="FeatureCollection", features=features, generated_at=utc(ctx.now_ns))


class TrackProperties(BaseModel):
    vehicle: str
    start: datetime
    end: datetime
    points: int
    distance_m: M
    times: list[datetime]
    speeds_mps: list[float | None]


class Track(Feature[LineString, TrackProperties]):
    """A LineString feature; ``geometry`` is null with fewer than two fixes."""


def track(ctx: Context, vehicle: str, start_ns: int, end_ns: int) -> Track:
    """The fixes of the period in time order, at their exact times. More fixes than
    ``CITYHUB_API__MAX_POINTS`` are refused (:class:`~hub.insights.events.TooMuchData`)."""
    try:
        check_known(ctx, ("bus_position",), "device", vehicle)
    except Unknown:
        raise Unknown("vehicle", vehicle) from None
    fixes = read_events(
        ctx.store,
        "bus_position",
        ("latitude", "longitude", "speed_mps"),
        start_ns=start_ns,
        end_ns=end_ns,
        group_by=("device",),
        where={"device": (vehicle,)},
        max_points=ctx.max_points,
    )
    fixes = [f for f in fixes if "longitude" in f.fields]
    latlon = [(float(f.fields["latitude"]), float(f.fields["longitude"])) for f in fixes]  # type: ignore[arg-type]
    geometry = (
        LineString(type="LineString", coordinates=[_position(lon, lat) for lat, lon in latlon])
        if len(latlon) >= 2
        else None
    )
    speeds = [f.fields.get("speed_mps") for f in fixes]
    return Track(
        type="Feature",
        geometry=geometry,
        properties=TrackProperties(
            vehicle=vehicle,
            start=utc(start_ns),
            end=utc(end_ns),
            points=len(fixes),
            distance_m=path_length_m(latlon),
            times=[utc(f.time_ns) for f in fixes],
            speeds_mps=[None if v is None else float(v) for v in speeds],  # type: ignore[arg-type]
        ),
    )


class SpeedWindow(BaseModel):
    route: str
    time: datetime
    mean_speed_mps: Mps | None
    mean_speed_kmh: Kmh | None


class RouteSpeed(BaseModel):
    rows_field: ClassVar[str] = "windows"
    every: str
    start: datetime
    end: datetime
    windows: list[SpeedWindow]


def route_speed(
    ctx: Context, route: str | None, start_ns: int, end_ns: int, every_ns: int, every: str
) -> RouteSpeed:
    """The mean of the reported speeds of the route's vehicles per window; fixes without a
    route are left out."""
    check_known(ctx, ("bus_position",), "route", route)
    query = AggregateQuery(
        "bus_position",
        "speed_mps",
        "mean",
        start_ns,
        end_ns,
        every_ns=every_ns,
        group_by=("route",),
        where={"route": (route,)} if route else {},
    )
    rows = [
        SpeedWindow(
            route=series.tags["route"],
            time=utc(bucket.time_ns),
            mean_speed_mps=bucket.value,
            mean_speed_kmh=None if bucket.value is None else bucket.value * 3.6,
        )
        for series in sorted(ctx.store.aggregate(query), key=lambda s: s.tags["route"])
        if series.tags["route"]
        for bucket in series.buckets
    ]
    return RouteSpeed(every=every, start=utc(start_ns), end=utc(end_ns), windows=rows)


class StaleVehicle(BaseModel):
    vehicle: str
    route: str | None
    last_fix: datetime
    age_s: S
    latitude: Coordinate
    longitude: Coordinate


class StaleVehicles(BaseModel):
    rows_field: ClassVar[str] = "vehicles"
    max_age_s: float
    vehicles: list[StaleVehicle]


def stale_vehicles(ctx: Context, max_age_s: float | None) -> StaleVehicles:
    threshold = max_age_s if max_age_s is not None else ctx.config.bus_stale_s
    rows = [
        StaleVehicle(
            vehicle=vehicle,
            route=row.tags.get("route"),
            last_fix=utc(row.time_ns),
            age_s=(ctx.now_ns - row.time_ns) / NS_PER_S,
            latitude=row.fields["latitude"],  # type: ignore[arg-type]
            longitude=row.fields["longitude"],  # type: ignore[arg-type]
        )
        for vehicle, row in sorted(
            latest_fixes(ctx.store.latest(LatestQuery("bus_position"))).items()
        )
        if (ctx.now_ns - row.time_ns) / NS_PER_S > threshold
    ]
    return StaleVehicles(max_age_s=threshold, vehicles=rows)
