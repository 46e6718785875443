"""Buildings: the list with latest power and energy today, and one building's energy per
window, peak demand and week-on-week comparison (:mod:`hub.insights.buildings`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from hub.api.deps import ContextDep, ReadDep
from hub.api.params import DemandWindowDep, PeriodDep, WindowsDep
from hub.api.problems import PROBLEMS
from hub.api.render import OutputDep, tabular_responses
from hub.insights import buildings as answers

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/buildings", tags=["buildings"], dependencies=[ReadDep], responses=PROBLEMS
)

BuildingId = Annotated[str, Path(description="A building id", examples=["b-001"])]


@router.get(
    "",
    summary="Buildings with their latest power and energy used today (UTC day)",
    response_model=answers.BuildingList,
    responses=tabular_responses(answers.BuildingList),
)
def list_buildings(ctx: ContextDep, output: OutputDep) -> Response:
    """`power_w` sums the latest power reading of each meter (channel) of the building;
    `as_of` is the oldest of those readings and `stale` says it is older than
    `CITYHUB_INSIGHTS__DEVICE_STALE_S`. `energy_today_kwh` is the register increase since
    00:00 UTC."""
    return output.render(answers.building_list(ctx))


@router.get(
    "/{building_id}/energy",
    summary="Energy per window of a building",
    response_model=answers.EnergySeries,
    responses=tabular_responses(answers.EnergySeries),
)
def get_building_energy(
    ctx: ContextDep, windows: WindowsDep, output: OutputDep, building_id: BuildingId
) -> Response:
    """Register increase per window, summed over the meters (a counter reset or meter
    replacement counts from zero); windows without readings are left out. Windows are
    aligned to the Unix epoch (days are UTC days)."""
    w = windows
    return output.render(
        answers.energy_windows(
            ctx, "building", building_id, w.start_ns, w.end_ns, w.every_ns, w.every
        )
    )


@router.get("/{building_id}/peak", summary="Peak demand of a building")
def get_building_peak(
    ctx: ContextDep, window: DemandWindowDep, building_id: BuildingId
) -> answers.Peak:
    """Demand is the mean power of a window (default 15m), summed over the meters; the peak
    is the highest, with its window (earliest on a tie)."""
    w = window
    return answers.peak(ctx, "building", building_id, w.start_ns, w.end_ns, w.every_ns, w.every)


@router.get("/{building_id}/comparison", summary="A building's energy against a week earlier")
def get_building_comparison(
    ctx: ContextDep, period: PeriodDep, building_id: BuildingId
) -> answers.Comparison:
    """kWh of the period and of the same period 7 days earlier; `null` without readings."""
    return answers.comparison(ctx, "building", building_id, period.start_ns, period.end_ns)
