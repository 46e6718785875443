"""Buses: latest positions (GeoJSON), a vehicle's track, speed per route, stale vehicles."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response

from hub.api.deps import HubDep, ReadDep, SettingsDep, format_time
from hub.api.inventory import known_values
from hub.api.params import OutputDep, PeriodDep, WindowsDep, tabular_doc
from hub.insights.buses import latest_fixes
from hub.insights.events import NS_PER_S, read_events
from hub.insights.geo import feature, feature_collection, path_length_m
from hub.query import AggregateQuery, LatestQuery

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/buses", tags=["buses"], dependencies=[ReadDep])

GEOJSON = "application/geo+json"
RouteParam = Annotated[str | None, Query(description="Only this route", examples=["12"])]
POSITION_PROPERTIES = (
    "trip_id", "speed_mps", "bearing_deg", "occupancy_status", "occupancy_pct", "odometer_m",
    "current_status", "stop_id",
)  # fmt: skip


def _check_route(hub: HubDep, route: str | None) -> None:
    if route is not None and route not in known_values(hub, ("bus_position",), "route"):
        raise HTTPException(404, f"unknown route {route!r}")


@router.get(
    "/positions",
    summary="Latest position of every vehicle, as a GeoJSON FeatureCollection",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "type": "FeatureCollection",
                        "generated_at": "2024-05-14T10:00:05Z",
                        "features": [
                            {
                                "type": "Feature",
                                "geometry": {"type": "Point", "coordinates": [13.4132, 52.5219]},
                                "properties": {
                                    "vehicle": "bus-2101",
                                    "route": "M5",
                                    "propulsion": "electric",
                                    "time": "2024-05-14T10:00:00Z",
                                    "age_s": 5.0,
                                    "stale": False,
                                    "speed_mps": 11.2,
                                    "occupancy_status": "STANDING_ROOM_ONLY",
                                },
                            }
                        ],
                    }
                }
            }
        }
    },
)
def positions(hub: HubDep, settings: SettingsDep, route: RouteParam = None) -> dict[str, Any]:
    """One Point feature per vehicle at its newest fix (a vehicle that changed route shows
    once, on its current route); `age_s` is the age of the fix, `stale` says it is older than
    `CITYHUB_INSIGHTS__BUS_STALE_S`."""
    _check_route(hub, route)
    now = time.time_ns()
    features = []
    for vehicle, row in sorted(latest_fixes(hub.store.latest(LatestQuery("bus_position"))).items()):
        if route is not None and row.tags.get("route") != route:
            continue
        age_s = (now - row.time_ns) / NS_PER_S
        properties: dict[str, Any] = {
            "vehicle": vehicle,
            "route": row.tags.get("route"),
            "propulsion": row.tags.get("propulsion"),
            "time": format_time(row.time_ns),
            "age_s": round(age_s, 3),
            "stale": age_s > settings.insights.bus_stale_s,
        }
        properties |= {name: row.fields[name] for name in POSITION_PROPERTIES if name in row.fields}
        point = {"type": "Point", "coordinates": [row.fields["longitude"], row.fields["latitude"]]}
        features.append(feature(point, properties))
    return feature_collection(features, generated_at=format_time(now))


@router.get(
    "/{vehicle_id}/track",
    summary="A vehicle's track over a period, as a GeoJSON LineString feature",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "type": "Feature",
                        "geometry": {
                            "type": "LineString",
                            "coordinates": [[13.0, 52.0], [13.0, 52.01]],
                        },
                        "properties": {
                            "vehicle": "bus-2101",
                            "start": "2024-05-14T08:00:00Z",
                            "end": "2024-05-14T09:00:00Z",
                            "points": 2,
                            "distance_m": 1111.95,
                            "times": ["2024-05-14T08:00:00Z", "2024-05-14T08:10:00Z"],
                            "speeds_mps": [9.0, 9.0],
                        },
                    }
                }
            }
        }
    },
)
def track(
    hub: HubDep,
    settings: SettingsDep,
    period: PeriodDep,
    vehicle_id: Annotated[str, Path(description="The vehicle id", examples=["bus-2101"])],
) -> dict[str, Any]:
    """The fixes of the period in time order, at their exact times; `geometry` is null
    with fewer than two fixes (a LineString needs two). A period holding more fixes than
    `CITYHUB_API__MAX_POINTS` is refused."""
    if vehicle_id not in known_values(hub, ("bus_position",), "device"):
        raise HTTPException(404, f"unknown vehicle {vehicle_id!r}")
    fixes = read_events(
        hub.store,
        "bus_position",
        ("latitude", "longitude", "speed_mps"),
        start_ns=period.start_ns,
        end_ns=period.end_ns,
        group_by=("device",),
        where={"device": (vehicle_id,)},
        max_points=settings.api.max_points,
    )
    fixes = [f for f in fixes if "longitude" in f.fields]
    latlon = [(float(f.fields["latitude"]), float(f.fields["longitude"])) for f in fixes]
    geometry = (
        {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in latlon]}
        if len(latlon) >= 2
        else None
    )
    return feature(
        geometry,
        {
            "vehicle": vehicle_id,
            "start": format_time(period.start_ns),
            "end": format_time(period.end_ns),
            "points": len(fixes),
            "distance_m": path_length_m(latlon),
            "times": [format_time(f.time_ns) for f in fixes],
            "speeds_mps": [f.fields.get("speed_mps") for f in fixes],
        },
    )


SPEED_COLUMNS = ["route", "time", "mean_speed_mps", "mean_speed_kmh"]


@router.get(
    "/speed",
    summary="Mean speed per route and window",
    response_class=Response,
    responses=tabular_doc(
        {
            "every": "1h",
            "start": "2024-05-14T08:00:00Z",
            "end": "2024-05-14T09:00:00Z",
            "windows": [
                {
                    "route": "12",
                    "time": "2024-05-14T08:00:00Z",
                    "mean_speed_mps": 8.0,
                    "mean_speed_kmh": 28.8,
                }
            ],
        },
        "route,time,mean_speed_mps,mean_speed_kmh\n12,2024-05-14T08:00:00Z,8.0,28.8\n",
    ),
)
def speed(
    hub: HubDep, windows: WindowsDep, output: OutputDep, route: RouteParam = None
) -> Response:
    """The mean of the reported speeds (`speed_mps`) of the route's vehicles per window;
    fixes without a route are left out."""
    _check_route(hub, route)
    query = AggregateQuery(
        "bus_position",
        "speed_mps",
        "mean",
        windows.start_ns,
        windows.end_ns,
        every_ns=windows.every_ns,
        group_by=("route",),
        where={"route": (route,)} if route else {},
    )
    rows = [
        {
            "route": series.tags["route"],
            "time": format_time(bucket.time_ns),
            "mean_speed_mps": bucket.value,
            "mean_speed_kmh": None if bucket.value is None else bucket.value * 3.6,
        }
        for series in sorted(hub.store.aggregate(query), key=lambda s: s.tags["route"])
        if series.tags["route"]
        for bucket in series.buckets
    ]
    payload = {
        "every": windows.every,
        "start": format_time(windows.start_ns),
        "end": format_time(windows.end_ns),
        "windows": rows,
    }
    return output.render(payload, rows, SPEED_COLUMNS)


STALE_COLUMNS = ["vehicle", "route", "last_fix", "age_s", "latitude", "longitude"]


@router.get(
    "/stale",
    summary="Vehicles whose last fix is older than a threshold",
    response_class=Response,
    responses=tabular_doc(
        {
            "max_age_s": 120.0,
            "vehicles": [
                {
                    "vehicle": "bus-2102",
                    "route": "12",
                    "last_fix": "2024-05-14T09:00:00Z",
                    "age_s": 3605.0,
                    "latitude": 52.5,
                    "longitude": 13.4,
                }
            ],
        },
        ",".join(STALE_COLUMNS) + "\nbus-2102,12,2024-05-14T09:00:00Z,3605.0,52.5,13.4\n",
    ),
)
def stale(
    hub: HubDep,
    settings: SettingsDep,
    output: OutputDep,
    max_age_s: Annotated[
        float | None,
        Query(gt=0, description="Threshold in s; default CITYHUB_INSIGHTS__BUS_STALE_S"),
    ] = None,
) -> Response:
    threshold = max_age_s if max_age_s is not None else settings.insights.bus_stale_s
    now = time.time_ns()
    rows = [
        {
            "vehicle": vehicle,
            "route": row.tags.get("route"),
            "last_fix": format_time(row.time_ns),
            "age_s": round((now - row.time_ns) / NS_PER_S, 3),
            "latitude": row.fields["latitude"],
            "longitude": row.fields["longitude"],
        }
        for vehicle, row in sorted(
            latest_fixes(hub.store.latest(LatestQuery("bus_position"))).items()
        )
        if (now - row.time_ns) / NS_PER_S > threshold
    ]
    return output.render({"max_age_s": threshold, "vehicles": rows}, rows, STALE_COLUMNS)
