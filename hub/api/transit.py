"""Transit answers beyond positions: punctuality per route (:mod:`hub.insights.punctuality`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from hub.api.deps import ContextDep, ReadDep
from hub.api.params import WindowsDep
from hub.api.problems import PROBLEMS
from hub.api.render import OutputDep, tabular_responses
from hub.insights import punctuality

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/buses", tags=["buses"], dependencies=[ReadDep], responses=PROBLEMS
)


@router.get(
    "/punctuality",
    summary="Punctuality per route and window: mean and p90 delay, share on time",
    response_model=punctuality.Punctuality,
    responses=tabular_responses(punctuality.Punctuality),
)
def get_route_punctuality(
    ctx: ContextDep,
    windows: WindowsDep,
    output: OutputDep,
    route: Annotated[str | None, Query(description="Only this route", examples=["1081"])] = None,
) -> Response:
    """From the departures (`bus_stop_event` with `event=DEP`, HFP `DEP` events): delay in
    seconds, positive late; `on_time_share` counts departures strictly within (−1, +3)
    minutes of schedule. Windows without departures are absent."""
    w = windows
    return output.render(
        punctuality.route_punctuality(ctx, route, w.start_ns, w.end_ns, w.every_ns, w.every)
    )
