"""Buses: latest positions (GeoJSON), a vehicle's track, speed per route, stale vehicles
(:mod:`hub.insights.fleet`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from hub.api.deps import ContextDep, ReadDep
from hub.api.params import PeriodDep, WindowsDep
from hub.api.problems import PROBLEMS
from hub.api.render import GeoJSONResponse, OutputDep, geojson_responses, tabular_responses
from hub.insights import fleet

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/buses", tags=["buses"], dependencies=[ReadDep], responses=PROBLEMS
)

RouteParam = Annotated[str | None, Query(description="Only this route", examples=["12"])]


@router.get(
    "/positions",
    summary="Latest position of every vehicle, as a GeoJSON FeatureCollection",
    response_model=fleet.Positions,
    responses=geojson_responses(fleet.Positions),
)
def get_bus_positions(ctx: ContextDep, route: RouteParam = None) -> Response:
    """One Point feature per vehicle at its newest fix (a vehicle that changed route shows
    once, on its current route); `age_s` is the age of the fix, `stale` says it is older than
    `CITYHUB_INSIGHTS__BUS_STALE_S`."""
    return GeoJSONResponse(fleet.positions(ctx, route).model_dump_json())


@router.get(
    "/{vehicle_id}/track",
    summary="A vehicle's track over a period, as a GeoJSON LineString feature",
    response_model=fleet.Track,
    responses=geojson_responses(fleet.Track),
)
def get_bus_track(
    ctx: ContextDep,
    period: PeriodDep,
    vehicle_id: Annotated[str, Path(description="The vehicle id", examples=["bus-2101"])],
) -> Response:
    """The fixes of the period in time order, at their exact times; `geometry` is null
    with fewer than two fixes (a LineString needs two). A period holding more fixes than
    `CITYHUB_API__MAX_POINTS` is refused."""
    return GeoJSONResponse(
        fleet.track(ctx, vehicle_id, period.start_ns, period.end_ns).model_dump_json()
    )


@router.get(
    "/speed",
    summary="Mean speed per route and window",
    response_model=fleet.RouteSpeed,
    responses=tabular_responses(fleet.RouteSpeed),
)
def get_route_speed(
    ctx: ContextDep, windows: WindowsDep, output: OutputDep, route: RouteParam = None
) -> Response:
    """The mean of the reported speeds (`speed_mps`) of the route's vehicles per window;
    fixes without a route are left out."""
    w = windows
    return output.render(fleet.route_speed(ctx, route, w.start_ns, w.end_ns, w.every_ns, w.every))


@router.get(
    "/stale",
    summary="Vehicles whose last fix is older than a threshold",
    response_model=fleet.StaleVehicles,
    responses=tabular_responses(fleet.StaleVehicles),
)
def list_stale_buses(
    ctx: ContextDep,
    output: OutputDep,
    max_age_s: Annotated[
        float | None,
        Query(
            gt=0,
            le=10**9,
            allow_inf_nan=False,
            description="Threshold in s; default CITYHUB_INSIGHTS__BUS_STALE_S",
        ),
    ] = None,
) -> Response:
    return output.render(fleet.stale_vehicles(ctx, max_age_s))
