"""Charging sites: the list, and the energy a site's chargers delivered per window, its peak
demand and week-on-week comparison (:mod:`hub.insights.sites`), beside the buildings' and
districts'."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from hub.api.deps import ContextDep, ReadDep
from hub.api.params import DemandWindowDep, PeriodDep, WindowsDep
from hub.api.problems import PROBLEMS
from hub.api.render import OutputDep, tabular_responses
from hub.insights import buildings, chargers, places, sites

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/sites", tags=["sites"], dependencies=[ReadDep], responses=PROBLEMS
)

SiteId = Annotated[str, Path(description="A charging site id", examples=["s-01"])]


@router.get(
    "",
    summary="Charging sites with their district and number of charge points",
    response_model=places.SiteList,
    responses=tabular_responses(places.SiteList),
)
def list_sites(ctx: ContextDep, output: OutputDep) -> Response:
    return output.render(places.site_list(ctx))


@router.get(
    "/{site_id}/energy",
    summary="Energy delivered (kWh) per window at a site",
    response_model=chargers.ChargerEnergy,
    responses=tabular_responses(chargers.ChargerEnergy),
)
def get_site_energy(
    ctx: ContextDep, windows: WindowsDep, output: OutputDep, site_id: SiteId
) -> Response:
    """As `/api/v1/chargers/energy?site=`: the increase of the connectors' registers."""
    where = chargers.charger_filter(ctx, site_id, None)
    w = windows
    return output.render(chargers.energy(ctx, where, w.start_ns, w.end_ns, w.every_ns, w.every))


@router.get("/{site_id}/peak", summary="Peak charging demand of a site")
def get_site_peak(ctx: ContextDep, window: DemandWindowDep, site_id: SiteId) -> buildings.Peak:
    """Demand is the energy the site's connectors delivered in a window (default 15m) divided
    by the window's length; the peak is the highest, with its window (earliest on a tie). A
    station's connector 0 (its whole meter) counts only when it reports no other connector."""
    w = window
    return sites.site_peak(ctx, site_id, w.start_ns, w.end_ns, w.every_ns, w.every)


@router.get("/{site_id}/comparison", summary="A site's delivered energy against a week earlier")
def get_site_comparison(
    ctx: ContextDep, period: PeriodDep, site_id: SiteId
) -> buildings.Comparison:
    """kWh delivered in the period and in the same period 7 days earlier; `null` without
    readings."""
    return sites.site_comparison(ctx, site_id, period.start_ns, period.end_ns)
