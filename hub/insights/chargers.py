"""Charger answers: the live status board, utilization, energy, sessions and faults.

The domain rules are in :mod:`hub.insights.status` (runs, "since when", utilization),
:mod:`hub.insights.sessions` (OCPP session pairing) and :mod:`hub.insights.energy`; this
module reads the events they need through the store primitives and shapes the answers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel

from hub.insights.context import NS_PER_S, Context, utc
from hub.insights.energy import charger_energy_wh
from hub.insights.events import Event, read_events
from hub.insights.inventory import check_known
from hub.insights.sessions import pair_sessions
from hub.insights.status import (
    FAULTED,
    Connector,
    StatusRun,
    WindowUse,
    began_before,
    by_connector,
    status_runs,
    utilization,
    with_charging_states,
)
from hub.insights.status_rollups import (
    lookback_rollup,
    status_rollup_for,
    utilization_from_rollup,
)
from hub.precision import Kwh, S, Share
from hub.query import LatestQuery

__all__ = [
    "Board",
    "ChargerEnergy",
    "Faults",
    "Sessions",
    "Utilization",
    "charger_filter",
    "connector_board",
    "energy",
    "faults",
    "sessions",
    "status_board",
    "utilization_windows",
]

Where = dict[str, tuple[str, ...]]
CHARGER_MEASUREMENTS = (
    "charger_status",
    "charger_meter",
    "charger_session",
    "charger_transaction_meter",
)
STATUS_FIELDS = ("status", "error_code", "info", "vendor_error_code")
SESSION_FIELDS = ("session_id", "event", "meter_wh", "id_tag", "stop_reason", "transaction_id")
ENTITY = ("device", "site", "district", "connector")


def charger_filter(ctx: Context, site: str | None, device: str | None) -> Where:
    """The tag filter for ``site``/``device``; :class:`~hub.insights.inventory.Unknown` for
    one nobody knows."""
    where: Where = {}
    for tag, value in (("site", site), ("device", device)):
        if value is not None:
            check_known(ctx, CHARGER_MEASUREMENTS, tag, value)
            where[tag] = (value,)
    return where


def _status_history(ctx: Context, where: Where, start_ns: int, end_ns: int) -> list[Event]:
    """Status events up to ``end_ns``, from far enough before ``start_ns`` that each
    connector's status at ``start_ns`` has a known beginning: the read widens from 1 h to 1 d
    to ``CITYHUB_INSIGHTS__STATUS_LOOKBACK_S`` before ``start_ns`` only while some connector
    still lacks one, so a busy fleet costs one short read."""
    latest = ctx.store.latest(LatestQuery("charger_status", ("status",), where))
    connectors = {Connector(r.tags.get("device", ""), r.tags.get("connector", "")) for r in latest}
    widest = ctx.config.status_lookback_s
    events: list[Event] = []
    for lookback_s in sorted({min(step, widest) for step in (3600, 86400, widest)}):
        events = read_events(
            ctx.store,
            "charger_status",
            STATUS_FIELDS,
            start_ns=start_ns - lookback_s * NS_PER_S,
            end_ns=end_ns,
            group_by=ENTITY,
            where=where,
            max_points=ctx.max_points,
        )
        history = by_connector(events)
        if all(began_before(status_runs(history.get(c, [])), start_ns) for c in connectors):
            break
    return events


def _with_transactions(
    ctx: Context, where: Where, status: list[Event], start_ns: int, end_ns: int
) -> list[Event]:
    """``status`` with the OCPP 2.0.1 transactions' charging states folded in (their
    connector status only says ``Occupied``)."""
    session_events = read_events(
        ctx.store,
        "charger_session",
        ("session_id", "event", "charging_state"),
        start_ns=status[0].time_ns if status else start_ns,
        end_ns=end_ns,
        group_by=ENTITY,
        where=where,
        max_points=ctx.max_points,
    )
    return with_charging_states(status, session_events)


class ConnectorStatus(BaseModel):
    device: str | None
    site: str | None
    district: str | None
    connector: str | None
    status: str | None
    error_code: str | None
    since: datetime
    since_exact: bool
    reported_at: datetime


class Board(BaseModel):
    rows_field: ClassVar[str] = "connectors"
    counts: dict[str, int]
    connectors: list[ConnectorStatus]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def connector_board(ctx: Context, where: Where) -> list[ConnectorStatus]:
    """Every connector's current status and since when (see :func:`status_board`)."""
    now = ctx.now_ns
    status = _status_history(ctx, where, now, now + 1)
    history = by_connector(_with_transactions(ctx, where, status, now, now + 1))
    rows = []
    for row in ctx.store.latest(LatestQuery("charger_status", STATUS_FIELDS, where)):
        key = Connector(row.tags.get("device", ""), row.tags.get("connector", ""))
        runs = status_runs(history.get(key, []))
        current = runs[-1] if runs else None
        rows.append(
            ConnectorStatus(
                device=row.tags.get("device"),
                site=row.tags.get("site"),
                district=row.tags.get("district"),
                connector=row.tags.get("connector"),
                status=current.status if current else _text(row.fields.get("status")),
                error_code=_text(row.fields.get("error_code")),
                since=utc(current.start_ns if current else row.time_ns),
                since_exact=current is not None and len(runs) > 1,
                reported_at=utc(row.time_ns),
            )
        )
    rows.sort(key=lambda r: (r.device or "", r.connector or ""))
    return rows


def status_board(ctx: Context, where: Where) -> Board:
    rows = connector_board(ctx, where)
    counts = dict(sorted(Counter(str(r.status) for r in rows).items()))
    return Board(counts=counts, connectors=rows)


class UtilizationWindow(BaseModel):
    site: str | None
    time: datetime
    connectors: int
    observed_s: S
    charging_s: S
    charging_share: Share | None
    occupied_share: Share | None


class Utilization(BaseModel):
    rows_field: ClassVar[str] = "windows"
    every: str
    start: datetime
    end: datetime
    windows: list[UtilizationWindow]


def utilization_windows(
    ctx: Context, where: Where, start_ns: int, end_ns: int, every_ns: int, every: str
) -> Utilization:
    """Per site and window, from the status rollups when one answers exactly
    (:mod:`hub.insights.status_rollups`), else from every status report."""
    until = min(end_ns, ctx.now_ns)
    covered = getattr(ctx.store, "rollup_coverage", None) or {}
    rollup = status_rollup_for(
        ctx.status_rollups,
        covered,
        start_ns,
        until,
        every_ns,
        ctx.config.status_lookback_s * NS_PER_S,
    )
    if rollup is not None:
        oldest = start_ns - ctx.config.status_lookback_s * NS_PER_S
        lookback = lookback_rollup(ctx.status_rollups, covered, rollup, oldest)
        per_site = utilization_from_rollup(ctx, where, rollup, start_ns, until, every_ns, lookback)
    else:
        per_site = _raw_utilization(ctx, where, start_ns, until, every_ns)
    rows = [
        UtilizationWindow(
            site=site or None,
            time=utc(use.start_ns),
            connectors=use.connectors,
            observed_s=use.observed_s,
            charging_s=use.charging_s,
            charging_share=use.charging_share,
            occupied_share=use.occupied_share,
        )
        for site, uses in per_site.items()
        for use in uses
    ]
    return Utilization(every=every, start=utc(start_ns), end=utc(end_ns), windows=rows)


def _raw_utilization(
    ctx: Context, where: Where, start_ns: int, until_ns: int, every_ns: int
) -> dict[str, list[WindowUse]]:
    """Per site (in order), the windows of utilization over every status report."""
    status = _status_history(ctx, where, start_ns, until_ns)
    history = by_connector(_with_transactions(ctx, where, status, start_ns, until_ns + 1))
    per_site: dict[str, list[list[StatusRun]]] = defaultdict(list)
    for key, events in history.items():
        if key.connector in ("", "0"):
            continue
        per_site[events[0].tags.get("site", "")].append(status_runs(events))
    return {
        site: utilization(runs, start_ns, until_ns, every_ns)
        for site, runs in sorted(per_site.items())
    }


class SiteEnergy(BaseModel):
    site: str | None
    time: datetime
    energy_kwh: Kwh


class ChargerEnergy(BaseModel):
    rows_field: ClassVar[str] = "windows"
    every: str
    start: datetime
    end: datetime
    windows: list[SiteEnergy]


def energy(
    ctx: Context, where: Where, start_ns: int, end_ns: int, every_ns: int, every: str
) -> ChargerEnergy:
    sites = charger_energy_wh(ctx.store, where, start_ns, end_ns, every_ns)
    rows = [
        SiteEnergy(site=site or None, time=utc(t), energy_kwh=wh / 1000)
        for site, per_window in sites.items()
        for t, wh in per_window.items()
    ]
    return ChargerEnergy(every=every, start=utc(start_ns), end=utc(end_ns), windows=rows)


class ChargingSession(BaseModel):
    session_id: str
    transaction_id: str | None
    device: str
    site: str | None
    connector: str | None
    start: datetime | None
    end: datetime | None
    duration_s: S | None
    energy_kwh: Kwh | None
    id_tag: str | None
    stop_reason: str | None
    ongoing: bool


class Sessions(BaseModel):
    rows_field: ClassVar[str] = "sessions"
    start: datetime
    end: datetime
    sessions: list[ChargingSession]


def sessions(ctx: Context, where: Where, start_ns: int, end_ns: int) -> Sessions:
    lookback = ctx.config.session_lookback_s * NS_PER_S
    events = read_events(
        ctx.store,
        "charger_session",
        SESSION_FIELDS,
        start_ns=start_ns - lookback,
        end_ns=max(min(end_ns + lookback, ctx.now_ns + 1), end_ns),
        group_by=("device", "site", "connector"),
        where=where,
        max_points=ctx.max_points,
    )
    rows = [
        ChargingSession(
            session_id=s.session_id,
            transaction_id=s.transaction_id,
            device=s.device,
            site=s.site or None,
            connector=s.connector,
            start=utc(s.start_ns) if s.start_ns is not None else None,
            end=utc(s.end_ns) if s.end_ns is not None else None,
            duration_s=s.duration_s,
            energy_kwh=s.energy_kwh,
            id_tag=s.id_tag,
            stop_reason=s.stop_reason,
            ongoing=s.end_ns is None,
        )
        for s in pair_sessions(events)
        if s.overlaps(start_ns, end_ns)
    ]
    return Sessions(start=utc(start_ns), end=utc(end_ns), sessions=rows)


class Fault(BaseModel):
    device: str
    site: str | None
    connector: str | None
    since: datetime
    until: datetime | None
    duration_s: S | None
    error_code: str | None
    info: str | None
    vendor_error_code: str | None


class Faults(BaseModel):
    rows_field: ClassVar[str] = "faults"
    start: datetime
    end: datetime
    faults: list[Fault]


def faults(ctx: Context, where: Where, start_ns: int, end_ns: int) -> Faults:
    history = by_connector(_status_history(ctx, where, start_ns, end_ns))
    rows = []
    for key, events in sorted(history.items()):
        for run in status_runs(events):
            if run.status != FAULTED or run.start_ns >= end_ns:
                continue
            if run.end_ns is not None and run.end_ns <= start_ns:
                continue
            fields = run.first.fields
            rows.append(
                Fault(
                    device=key.device,
                    site=run.first.tags.get("site") or None,
                    connector=key.connector or None,
                    since=utc(run.start_ns),
                    until=utc(run.end_ns) if run.end_ns is not None else None,
                    duration_s=(run.end_ns - run.start_ns) / NS_PER_S
                    if run.end_ns is not None
                    else None,
                    error_code=_text(fields.get("error_code")),
                    info=_text(fields.get("info")),
                    vendor_error_code=_text(fields.get("vendor_error_code")),
                )
            )
    rows.sort(key=lambda r: (r.since, r.device))
    return Faults(start=utc(start_ns), end=utc(end_ns), faults=rows)
