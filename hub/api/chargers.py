"""EV chargers: live status board, utilization, energy delivered, sessions and faults.

How the answers are derived from the primitives is in :mod:`hub.insights.status`,
:mod:`hub.insights.sessions` and :mod:`hub.insights.energy`.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from hub.api.deps import HubDep, ReadDep, SettingsDep, format_time
from hub.api.inventory import known_values
from hub.api.params import OutputDep, PeriodDep, WindowsDep, tabular_doc
from hub.insights.energy import charger_energy_wh
from hub.insights.events import NS_PER_S, Event, read_events
from hub.insights.sessions import pair_sessions
from hub.insights.status import (
    FAULTED,
    Connector,
    began_before,
    by_connector,
    status_runs,
    utilization,
    with_charging_states,
)
from hub.query import LatestQuery

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/chargers", tags=["chargers"], dependencies=[ReadDep])

CHARGER_MEASUREMENTS = (
    "charger_status",
    "charger_meter",
    "charger_session",
    "charger_transaction_meter",
)
STATUS_FIELDS = ("status", "error_code", "info", "vendor_error_code")
SESSION_FIELDS = ("session_id", "event", "meter_wh", "id_tag", "stop_reason")


def charger_filter(
    hub: HubDep,
    site: Annotated[str | None, Query(description="Only this site", examples=["s-01"])] = None,
    device: Annotated[
        str | None, Query(description="Only this charge point", examples=["cp-001"])
    ] = None,
) -> dict[str, tuple[str, ...]]:
    """The tag filter for ``site``/``device``; 404 for one nobody knows."""
    where: dict[str, tuple[str, ...]] = {}
    for tag, value in (("site", site), ("device", device)):
        if value is not None:
            if value not in known_values(hub, CHARGER_MEASUREMENTS, tag):
                raise HTTPException(404, f"unknown {tag} {value!r}")
            where[tag] = (value,)
    return where


FilterDep = Annotated[dict[str, tuple[str, ...]], Depends(charger_filter)]


def _status_history(
    hub: HubDep,
    settings: SettingsDep,
    where: dict[str, tuple[str, ...]],
    start_ns: int,
    end_ns: int,
) -> list[Event]:
    """Status events up to ``end_ns``, from far enough before ``start_ns`` that each
    connector's status at ``start_ns`` has a known beginning: the read widens from 1 h to 1 d
    to ``CITYHUB_INSIGHTS__STATUS_LOOKBACK_S`` before ``start_ns`` only while some connector
    still lacks one, so a busy fleet costs one short read."""
    latest = hub.store.latest(LatestQuery("charger_status", ("status",), where))
    connectors = {Connector(r.tags.get("device", ""), r.tags.get("connector", "")) for r in latest}
    widest = settings.insights.status_lookback_s
    events: list[Event] = []
    for lookback_s in sorted({min(step, widest) for step in (3600, 86400, widest)}):
        events = read_events(
            hub.store,
            "charger_status",
            STATUS_FIELDS,
            start_ns=start_ns - lookback_s * NS_PER_S,
            end_ns=end_ns,
            group_by=("device", "site", "district", "connector"),
            where=where,
            max_points=settings.api.max_points,
        )
        history = by_connector(events)
        if all(began_before(status_runs(history.get(c, [])), start_ns) for c in connectors):
            break
    return events


def _with_transactions(
    hub: HubDep,
    settings: SettingsDep,
    where: dict[str, tuple[str, ...]],
    status: list[Event],
    start_ns: int,
    end_ns: int,
) -> list[Event]:
    """``status`` with the OCPP 2.0.1 transactions' charging states folded in (their
    connector status only says ``Occupied``)."""
    sessions = read_events(
        hub.store,
        "charger_session",
        ("session_id", "event", "charging_state"),
        start_ns=status[0].time_ns if status else start_ns,
        end_ns=end_ns,
        group_by=("device", "site", "district", "connector"),
        where=where,
        max_points=settings.api.max_points,
    )
    return with_charging_states(status, sessions)


BOARD_COLUMNS = [
    "device", "site", "district", "connector", "status", "error_code", "since", "since_exact",
    "reported_at",
]  # fmt: skip
BOARD_EXAMPLE = {
    "counts": {"Available": 1, "Charging": 1, "Faulted": 1},
    "connectors": [
        {
            "device": "cp-001",
            "site": "s-01",
            "district": "harbour",
            "connector": "1",
            "status": "Charging",
            "error_code": "NoError",
            "since": "2024-05-14T09:30:00Z",
            "since_exact": True,
            "reported_at": "2024-05-14T10:00:00Z",
        }
    ],
}


def connector_board(
    hub: HubDep, settings: SettingsDep, where: dict[str, tuple[str, ...]]
) -> list[dict[str, Any]]:
    """Every connector's current status and since when (see :func:`status_board`)."""
    now = time.time_ns()
    status = _status_history(hub, settings, where, now, now + 1)
    history = by_connector(_with_transactions(hub, settings, where, status, now, now + 1))
    rows = []
    for row in hub.store.latest(LatestQuery("charger_status", STATUS_FIELDS, where)):
        events = history.get(
            Connector(row.tags.get("device", ""), row.tags.get("connector", "")), []
        )
        runs = status_runs(events)
        current = runs[-1] if runs else None
        rows.append(
            {
                "device": row.tags.get("device"),
                "site": row.tags.get("site"),
                "district": row.tags.get("district"),
                "connector": row.tags.get("connector"),
                "status": current.status if current else row.fields.get("status"),
                "error_code": row.fields.get("error_code"),
                "since": format_time(current.start_ns if current else row.time_ns),
                "since_exact": current is not None and len(runs) > 1,
                "reported_at": format_time(row.time_ns),
            }
        )
    rows.sort(key=lambda r: (r["device"] or "", r["connector"] or ""))
    return rows


@router.get(
    "/status",
    summary="Live status board: every connector's status and since when",
    response_class=Response,
    responses=tabular_doc(
        BOARD_EXAMPLE,
        ",".join(BOARD_COLUMNS) + "\ncp-001,s-01,harbour,1,Charging,NoError,"
        "2024-05-14T09:30:00Z,True,2024-05-14T10:00:00Z\n",
    ),
)
def status_board(
    hub: HubDep, settings: SettingsDep, where: FilterDep, output: OutputDep
) -> Response:
    """`since` is when the connector's status last *changed* (the first report of its current
    run of equal reports), looked up in the status history up to
    `CITYHUB_INSIGHTS__STATUS_LOOKBACK_S` back (widening from 1 h, 1 d); `since_exact` is
    false when the run reaches back to the oldest report looked at (the status is at least
    that old). `reported_at` is the latest report. An OCPP 2.0.1 connector, whose
    StatusNotification only says `Occupied`, shows its transaction's charging state
    (`Charging`, `SuspendedEV`...)."""
    rows = connector_board(hub, settings, where)
    counts = dict(sorted(Counter(str(r["status"]) for r in rows).items()))
    return output.render({"counts": counts, "connectors": rows}, rows, BOARD_COLUMNS)


UTILIZATION_COLUMNS = [
    "site", "time", "connectors", "observed_s", "charging_s", "charging_share",
    "occupied_share",
]  # fmt: skip


@router.get(
    "/utilization",
    summary="Share of time charging per site and window",
    response_class=Response,
    responses=tabular_doc(
        {
            "every": "1h",
            "start": "2024-05-14T00:00:00Z",
            "end": "2024-05-14T01:00:00Z",
            "windows": [
                {
                    "site": "s-01",
                    "time": "2024-05-14T00:00:00Z",
                    "connectors": 2,
                    "observed_s": 7200.0,
                    "charging_s": 1800.0,
                    "charging_share": 0.25,
                    "occupied_share": 0.3,
                }
            ],
        },
        ",".join(UTILIZATION_COLUMNS) + "\ns-01,2024-05-14T00:00:00Z,2,7200.0,1800.0,0.25,0.3\n",
    ),
)
def charger_utilization(
    hub: HubDep, settings: SettingsDep, windows: WindowsDep, where: FilterDep, output: OutputDep
) -> Response:
    """From the status history: a connector's status holds from one report to the next.
    `charging_share` = time in `Charging` / time with a known status (up to now), over the
    site's connectors (connector 0, the whole station, is left out); `occupied_share` counts
    every status with a vehicle plugged in (`Preparing`, `Charging`, `SuspendedEV`,
    `SuspendedEVSE`, `Finishing`, and OCPP 2.0.1 `Occupied`). Windows in which no connector's
    status was known are left out. For OCPP 2.0.1 stations, whose connector status is only
    `Occupied`, the `chargingState` of their transaction events says when they charge."""
    until = min(windows.end_ns, time.time_ns())
    status = _status_history(hub, settings, where, windows.start_ns, until)
    history = by_connector(
        _with_transactions(hub, settings, where, status, windows.start_ns, until + 1)
    )
    per_site: dict[str, list[list[Any]]] = defaultdict(list)
    for key, events in history.items():
        if key.connector in ("", "0"):
            continue
        per_site[events[0].tags.get("site", "")].append(status_runs(events))
    rows = []
    for site, runs in sorted(per_site.items()):
        for use in utilization(runs, windows.start_ns, until, windows.every_ns):
            rows.append(
                {
                    "site": site or None,
                    "time": format_time(use.start_ns),
                    "connectors": use.connectors,
                    "observed_s": use.observed_s,
                    "charging_s": use.charging_s,
                    "charging_share": use.charging_share,
                    "occupied_share": use.occupied_share,
                }
            )
    payload = {
        "every": windows.every,
        "start": format_time(windows.start_ns),
        "end": format_time(windows.end_ns),
        "windows": rows,
    }
    return output.render(payload, rows, UTILIZATION_COLUMNS)


@router.get(
    "/energy",
    summary="Energy delivered (kWh) per site and window",
    response_class=Response,
    responses=tabular_doc(
        {
            "every": "1d",
            "start": "2024-05-13T00:00:00Z",
            "end": "2024-05-14T00:00:00Z",
            "windows": [{"site": "s-01", "time": "2024-05-13T00:00:00Z", "energy_kwh": 12.0}],
        },
        "site,time,energy_kwh\ns-01,2024-05-13T00:00:00Z,12.0\n",
    ),
)
def charger_energy(
    hub: HubDep, windows: WindowsDep, where: FilterDep, output: OutputDep
) -> Response:
    """Increase of the connectors' energy registers per window (resets count from zero). A
    station's energy is the sum of its connectors 1..n when it reports any, else of its
    connector 0; `StopTransaction` readings without a connector are not counted twice."""
    sites = charger_energy_wh(hub.store, where, windows.start_ns, windows.end_ns, windows.every_ns)
    rows = [
        {"site": site or None, "time": format_time(t), "energy_kwh": wh / 1000}
        for site, per_window in sites.items()
        for t, wh in per_window.items()
    ]
    payload = {
        "every": windows.every,
        "start": format_time(windows.start_ns),
        "end": format_time(windows.end_ns),
        "windows": rows,
    }
    return output.render(payload, rows, ["site", "time", "energy_kwh"])


SESSION_COLUMNS = [
    "session_id", "transaction_id", "device", "site", "connector", "start", "end",
    "duration_s", "energy_kwh", "id_tag", "stop_reason", "ongoing",
]  # fmt: skip


@router.get(
    "/sessions",
    summary="Charging sessions in a period: start, end, duration and kWh",
    response_class=Response,
    responses=tabular_doc(
        {
            "start": "2024-05-13T00:00:00Z",
            "end": "2024-05-14T00:00:00Z",
            "sessions": [
                {
                    "session_id": "cp-001-1-1715639400",
                    "transaction_id": "104",
                    "device": "cp-001",
                    "site": "s-01",
                    "connector": "1",
                    "start": "2024-05-13T23:30:00Z",
                    "end": "2024-05-14T00:40:00Z",
                    "duration_s": 4200.0,
                    "energy_kwh": 7.5,
                    "id_tag": "04A2B3C4",
                    "stop_reason": "EVDisconnected",
                    "ongoing": False,
                }
            ],
        },
        ",".join(SESSION_COLUMNS) + "\ncp-001-1-1715639400,104,cp-001,s-01,1,"
        "2024-05-13T23:30:00Z,2024-05-14T00:40:00Z,4200.0,7.5,04A2B3C4,EVDisconnected,False\n",
    ),
)
def charger_sessions(
    hub: HubDep, settings: SettingsDep, period: PeriodDep, where: FilterDep, output: OutputDep
) -> Response:
    """Sessions overlapping the period. OCPP 2.0.1 events share their transactionId. An OCPP
    1.6 `StopTransaction` (which names no connector, and a transactionId the start never
    saw) is paired with an open `StartTransaction` of the same charge point: stops in time
    order, preferring a start with the stop's idTag, then one whose meterStart is not above
    the meterStop, then the earliest. Starts up to `CITYHUB_INSIGHTS__SESSION_LOOKBACK_S`
    before the period are looked at. `energy_kwh` = (meterStop - meterStart) / 1000."""
    now = time.time_ns()
    lookback = settings.insights.session_lookback_s * NS_PER_S
    events = read_events(
        hub.store,
        "charger_session",
        SESSION_FIELDS,
        start_ns=period.start_ns - lookback,
        end_ns=max(min(period.end_ns + lookback, now + 1), period.end_ns),
        group_by=("device", "site", "connector"),
        where=where,
        max_points=settings.api.max_points,
    )
    rows = [
        {
            "session_id": s.session_id,
            "transaction_id": s.transaction_id,
            "device": s.device,
            "site": s.site or None,
            "connector": s.connector,
            "start": format_time(s.start_ns) if s.start_ns is not None else None,
            "end": format_time(s.end_ns) if s.end_ns is not None else None,
            "duration_s": s.duration_s,
            "energy_kwh": s.energy_kwh,
            "id_tag": s.id_tag,
            "stop_reason": s.stop_reason,
            "ongoing": s.end_ns is None,
        }
        for s in pair_sessions(events)
        if s.overlaps(period.start_ns, period.end_ns)
    ]
    payload = {
        "start": format_time(period.start_ns),
        "end": format_time(period.end_ns),
        "sessions": rows,
    }
    return output.render(payload, rows, SESSION_COLUMNS)


FAULT_COLUMNS = [
    "device", "site", "connector", "since", "until", "duration_s", "error_code", "info",
    "vendor_error_code",
]  # fmt: skip


@router.get(
    "/faults",
    summary="Faults (status Faulted) in a period, with when they began and cleared",
    response_class=Response,
    responses=tabular_doc(
        {
            "start": "2024-05-13T00:00:00Z",
            "end": "2024-05-14T00:00:00Z",
            "faults": [
                {
                    "device": "cp-001",
                    "site": "s-01",
                    "connector": "2",
                    "since": "2024-05-13T20:00:00Z",
                    "until": None,
                    "duration_s": None,
                    "error_code": "GroundFailure",
                    "info": None,
                    "vendor_error_code": None,
                }
            ],
        },
        ",".join(FAULT_COLUMNS) + "\ncp-001,s-01,2,2024-05-13T20:00:00Z,,,GroundFailure,,\n",
    ),
)
def charger_faults(
    hub: HubDep, settings: SettingsDep, period: PeriodDep, where: FilterDep, output: OutputDep
) -> Response:
    """One row per fault: a run of `Faulted` reports on a connector overlapping the period,
    from its first report (`since`, with that report's error code) to the next different
    status (`until`; empty while it lasts)."""
    history = by_connector(_status_history(hub, settings, where, period.start_ns, period.end_ns))
    rows = []
    for key, events in sorted(history.items()):
        for run in status_runs(events):
            if run.status != FAULTED or run.start_ns >= period.end_ns:
                continue
            if run.end_ns is not None and run.end_ns <= period.start_ns:
                continue
            fields = run.first.fields
            rows.append(
                {
                    "device": key.device,
                    "site": run.first.tags.get("site") or None,
                    "connector": key.connector or None,
                    "since": format_time(run.start_ns),
                    "until": format_time(run.end_ns) if run.end_ns is not None else None,
                    "duration_s": (run.end_ns - run.start_ns) / NS_PER_S
                    if run.end_ns is not None
                    else None,
                    "error_code": fields.get("error_code"),
                    "info": fields.get("info"),
                    "vendor_error_code": fields.get("vendor_error_code"),
                }
            )
    rows.sort(key=lambda r: (r["since"], r["device"]))
    payload = {
        "start": format_time(period.start_ns),
        "end": format_time(period.end_ns),
        "faults": rows,
    }
    return output.render(payload, rows, FAULT_COLUMNS)
