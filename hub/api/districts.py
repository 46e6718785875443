"""Districts: the list with their buildings and charging sites, and one district's energy per
window, peak demand and week-on-week comparison (:mod:`hub.insights.buildings`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from hub.api.deps import ContextDep, ReadDep
from hub.api.params import DemandWindowDep, PeriodDep, WindowsDep
from hub.api.problems import PROBLEMS
from hub.api.render import OutputDep, tabular_responses
from hub.insights import buildings as answers
from hub.insights import places

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/districts", tags=["districts"], dependencies=[ReadDep], responses=PROBLEMS
)

DistrictId = Annotated[str, Path(description="A district id", examples=["harbour"])]


@router.get(
    "",
    summary="Districts with how many buildings and charging sites they hold",
    response_model=places.DistrictList,
    responses=tabular_responses(places.DistrictList),
)
def list_districts(ctx: ContextDep, output: OutputDep) -> Response:
    """From the registry's tags and the stored series' tags."""
    return output.render(places.district_list(ctx))


@router.get(
    "/{district_id}/energy",
    summary="Energy per window of a district",
    response_model=answers.EnergySeries,
    responses=tabular_responses(answers.EnergySeries),
)
def get_district_energy(
    ctx: ContextDep, windows: WindowsDep, output: OutputDep, district_id: DistrictId
) -> Response:
    """Register increase per window, summed over the meters (a counter reset or meter
    replacement counts from zero); windows without readings are left out. Windows are
    aligned to the Unix epoch (days are UTC days)."""
    w = windows
    return output.render(
        answers.energy_windows(
            ctx, "district", district_id, w.start_ns, w.end_ns, w.every_ns, w.every
        )
    )


@router.get("/{district_id}/peak", summary="Peak demand of a district")
def get_district_peak(
    ctx: ContextDep, window: DemandWindowDep, district_id: DistrictId
) -> answers.Peak:
    """Demand is the mean power of a window (default 15m), summed over the meters; the peak
    is the highest, with its window (earliest on a tie)."""
    w = window
    return answers.peak(ctx, "district", district_id, w.start_ns, w.end_ns, w.every_ns, w.every)


@router.get("/{district_id}/comparison", summary="A district's energy against a week earlier")
def get_district_comparison(
    ctx: ContextDep, period: PeriodDep, district_id: DistrictId
) -> answers.Comparison:
    """kWh of the period and of the same period 7 days earlier; `null` without readings."""
    return answers.comparison(ctx, "district", district_id, period.start_ns, period.end_ns)
