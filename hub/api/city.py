"""The city: headline numbers now, energy, peak and comparison of all its buildings, and a
carbon estimate per day."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from hub.api.deps import ContextDep, ReadDep, SettingsDep
from hub.api.params import DAY_NS, DemandWindowDep, PeriodDep, WindowsDep, check_windows
from hub.api.problems import PROBLEMS
from hub.api.render import OutputDep, tabular_responses
from hub.insights import buildings as answers
from hub.insights.carbon import Carbon, CarbonFactors, carbon_days
from hub.insights.overview import Overview, overview

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/city", tags=["city"], dependencies=[ReadDep], responses=PROBLEMS)


@router.get("/overview", summary="Headline numbers: power now, energy today, chargers, buses")
def get_city_overview(ctx: ContextDep) -> Overview:
    """`power_w` sums the latest power of the meters that reported within
    `CITYHUB_INSIGHTS__DEVICE_STALE_S` (`meters_reporting`); "today" is the UTC day. Buses
    `reporting` had a fix within `CITYHUB_INSIGHTS__BUS_STALE_S`. Devices are `stale` when
    registered or seen but silent for longer than `CITYHUB_INSIGHTS__DEVICE_STALE_S`."""
    return overview(ctx)


@router.get(
    "/energy",
    summary="Energy per window of the whole city's buildings",
    response_model=answers.EnergySeries,
    responses=tabular_responses(answers.EnergySeries),
)
def get_city_energy(ctx: ContextDep, windows: WindowsDep, output: OutputDep) -> Response:
    """Register increase per window, summed over every meter; windows without readings are
    left out."""
    w = windows
    return output.render(
        answers.energy_windows(ctx, "city", None, w.start_ns, w.end_ns, w.every_ns, w.every)
    )


@router.get("/peak", summary="Peak demand of the whole city's buildings")
def get_city_peak(ctx: ContextDep, window: DemandWindowDep) -> answers.Peak:
    w = window
    return answers.peak(ctx, "city", None, w.start_ns, w.end_ns, w.every_ns, w.every)


@router.get("/comparison", summary="The city's building energy against a week earlier")
def get_city_comparison(ctx: ContextDep, period: PeriodDep) -> answers.Comparison:
    return answers.comparison(ctx, "city", None, period.start_ns, period.end_ns)


@router.get(
    "/carbon",
    summary="Carbon estimate per (UTC) day: electricity and bus-km",
    response_model=Carbon,
    responses=tabular_responses(Carbon),
)
def get_city_carbon(
    ctx: ContextDep,
    settings: SettingsDep,
    period: PeriodDep,
    output: OutputDep,
    grid_g_per_kwh: Annotated[
        float | None,
        Query(
            ge=0,
            le=10_000,
            allow_inf_nan=False,
            description="Grid intensity; default CITYHUB_INSIGHTS__GRID_INTENSITY_G_PER_KWH",
        ),
    ] = None,
) -> Response:
    """Per UTC day: building and charging kWh (register increases) times the grid intensity;
    bus-km from the odometer's increase, or from the distance between fixes for a vehicle
    without one, split by the registry's `propulsion` tag (electric | diesel). Electric
    bus-km cost `CITYHUB_INSIGHTS__ELECTRIC_BUS_KWH_PER_KM` at the grid intensity, diesel and
    unknown ones `CITYHUB_INSIGHTS__DIESEL_BUS_G_PER_KM`. `electric_share` is of the bus-km
    whose propulsion is known (0..1)."""
    check_windows(period.start_ns, period.end_ns, DAY_NS, settings.api.max_buckets, "start")
    config = settings.insights
    factors = CarbonFactors(
        grid_g_per_kwh=config.grid_intensity_g_per_kwh
        if grid_g_per_kwh is None
        else grid_g_per_kwh,
        diesel_bus_g_per_km=config.diesel_bus_g_per_km,
        electric_bus_kwh_per_km=config.electric_bus_kwh_per_km,
    )
    return output.render(carbon_days(ctx, factors, period.start_ns, period.end_ns))
