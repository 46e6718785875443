"""Charging sites: the list, and the energy a site's chargers delivered per window."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from hub.api.deps import ContextDep, ReadDep
from hub.api.params import WindowsDep
from hub.api.problems import PROBLEMS
from hub.api.render import OutputDep, tabular_responses
from hub.insights import chargers, places

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
