"""EV chargers: live status board, utilization, energy delivered, sessions and faults.

How each answer is derived is in :mod:`hub.insights.chargers`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from hub.api.deps import ContextDep, ReadDep
from hub.api.params import PeriodDep, WindowsDep
from hub.api.problems import PROBLEMS
from hub.api.render import OutputDep, tabular_responses
from hub.insights import chargers

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/chargers", tags=["chargers"], dependencies=[ReadDep], responses=PROBLEMS
)

Where = dict[str, tuple[str, ...]]
DEPRECATED_SINCE = "@1796083200"  # RFC 9745: 2026-12-01, when sites/{id}/energy arrived


def charger_filter(
    ctx: ContextDep,
    site: Annotated[str | None, Query(description="Only this site", examples=["s-01"])] = None,
    device: Annotated[
        str | None, Query(description="Only this charge point", examples=["cp-001"])
    ] = None,
) -> Where:
    return chargers.charger_filter(ctx, site, device)


FilterDep = Annotated[Where, Depends(charger_filter)]


@router.get(
    "/status",
    summary="Live status board: every connector's status and since when",
    response_model=chargers.Board,
    responses=tabular_responses(chargers.Board),
)
def get_charger_status_board(ctx: ContextDep, where: FilterDep, output: OutputDep) -> Response:
    """`since` is when the connector's status last *changed* (the first report of its current
    run of equal reports), looked up in the status history up to
    `CITYHUB_INSIGHTS__STATUS_LOOKBACK_S` back (widening from 1 h, 1 d); `since_exact` is
    false when the run reaches back to the oldest report looked at. `reported_at` is the
    latest report. An OCPP 2.0.1 connector, whose StatusNotification only says `Occupied`,
    shows its transaction's charging state (`Charging`, `SuspendedEV`...)."""
    return output.render(chargers.status_board(ctx, where))


@router.get(
    "/utilization",
    summary="Share of time charging per site and window",
    response_model=chargers.Utilization,
    responses=tabular_responses(chargers.Utilization),
)
def get_charger_utilization(
    ctx: ContextDep, windows: WindowsDep, where: FilterDep, output: OutputDep
) -> Response:
    """A connector's status holds from one report to the next. `charging_share` = time in
    `Charging` / time with a known status (up to now), over the site's connectors (connector
    0, the whole station, is left out); `occupied_share` counts every status with a vehicle
    plugged in. Windows in which no connector's status was known are left out. OCPP 2.0.1
    stations' transaction `chargingState` says when they charge."""
    return output.render(
        chargers.utilization_windows(
            ctx, where, windows.start_ns, windows.end_ns, windows.every_ns, windows.every
        )
    )


@router.get(
    "/energy",
    summary="Energy delivered (kWh) per site and window",
    response_model=chargers.ChargerEnergy,
    responses=tabular_responses(chargers.ChargerEnergy),
)
def get_charger_energy(
    ctx: ContextDep, windows: WindowsDep, where: FilterDep, output: OutputDep
) -> Response:
    """Increase of the connectors' energy registers per window (resets count from zero). A
    station's energy is the sum of its connectors 1..n when it reports any, else of its
    connector 0. With `site`, prefer `/api/v1/sites/{site_id}/energy`: this form is
    deprecated (`Deprecation` header)."""
    answer = output.render(
        chargers.energy(
            ctx, where, windows.start_ns, windows.end_ns, windows.every_ns, windows.every
        )
    )
    if "site" in where and "device" not in where:
        answer.headers["Deprecation"] = DEPRECATED_SINCE
        answer.headers["Link"] = (
            f'</api/v1/sites/{where["site"][0]}/energy>; rel="successor-version"'
        )
    return answer


@router.get(
    "/sessions",
    summary="Charging sessions in a period: start, end, duration and kWh",
    response_model=chargers.Sessions,
    responses=tabular_responses(chargers.Sessions),
)
def list_charging_sessions(
    ctx: ContextDep, period: PeriodDep, where: FilterDep, output: OutputDep
) -> Response:
    """Sessions overlapping the period. OCPP 2.0.1 events share their transactionId. An OCPP
    1.6 `StopTransaction` is paired with an open `StartTransaction` of the same charge point
    (same idTag first, then a meterStart not above the meterStop, then the earliest). Starts
    up to `CITYHUB_INSIGHTS__SESSION_LOOKBACK_S` before the period are looked at.
    `energy_kwh` = (meterStop - meterStart) / 1000."""
    return output.render(chargers.sessions(ctx, where, period.start_ns, period.end_ns))


@router.get(
    "/faults",
    summary="Faults (status Faulted) in a period, with when they began and cleared",
    response_model=chargers.Faults,
    responses=tabular_responses(chargers.Faults),
)
def list_charger_faults(
    ctx: ContextDep, period: PeriodDep, where: FilterDep, output: OutputDep
) -> Response:
    """One row per run of `Faulted` reports on a connector overlapping the period, from its
    first report (`since`, with its error code) to the next different status (`until`)."""
    return output.render(chargers.faults(ctx, where, period.start_ns, period.end_ns))
