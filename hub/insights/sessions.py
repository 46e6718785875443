"""Charging sessions from ``charger_session`` events, OCPP 1.6 and 2.0.1.

**OCPP 2.0.1** names the transaction in every ``TransactionEvent``: the events of one
``session_id`` on one charge point are one session (start = ``started``, end = ``ended``,
energy = last ``meter_wh`` minus first).

**OCPP 1.6** does not: ``StartTransaction`` is stored under ``<cp>-<connector>-<start epoch
s>`` (the transactionId is in the central system's reply, which the MQTT bridge does not
forward) and ``StopTransaction`` under its ``transactionId``, without a connector. A stop is
paired with a start of the **same charge point** that began before it and is still open,
taking the stops in time order and choosing, among those open starts,

1. those with the stop's ``idTag`` (when the stop has one and some start has it), then
2. those whose ``meterStart`` is not above the stop's ``meterStop`` (the register only grows
   during a session), if any, then
3. the one that began first (first in, first out).

A stop is recognised as 1.6 by its integer ``transactionId`` with no start of the same id. A
stop left without a start (it began before the lookback) is a session without a start; an
open start is a session in progress. Energy is ``meterStop - meterStart``; a stop reading
below the start is a meter reset or replacement, and the stop reading counts from zero (as
:mod:`hub.query`'s ``increase``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.insights.events import NS_PER_S, Event

__all__ = ["Session", "pair_sessions"]

_V16_START = re.compile(r"(?P<device>.+)-(?P<connector>\d+)-(?P<epoch>\d+)")


@dataclass
class Session:
    session_id: str  # 1.6: the start's <cp>-<connector>-<epoch>; 2.0.1: the transactionId
    device: str
    site: str
    connector: str | None
    start_ns: int | None = None
    end_ns: int | None = None
    transaction_id: str | None = None  # 1.6: the stop's transactionId
    meter_start_wh: float | None = None
    meter_stop_wh: float | None = None
    id_tag: str | None = None
    stop_reason: str | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    @property
    def duration_s(self) -> float | None:
        if self.start_ns is None or self.end_ns is None:
            return None
        return (self.end_ns - self.start_ns) / NS_PER_S

    @property
    def energy_kwh(self) -> float | None:
        if self.meter_start_wh is None or self.meter_stop_wh is None:
            return None
        delta = self.meter_stop_wh - self.meter_start_wh
        return (delta if delta >= 0 else self.meter_stop_wh) / 1000

    def overlaps(self, start_ns: int, end_ns: int) -> bool:
        began = self.start_ns if self.start_ns is not None else self.end_ns
        return (
            began is not None and began < end_ns and (self.end_ns is None or self.end_ns > start_ns)
        )


def _text(event: Event, name: str) -> str | None:
    value = event.fields.get(name)
    return None if value is None else str(value)


def _number(event: Event, name: str) -> float | None:
    value = event.fields.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _is_v16_start(session_id: str, event: Event) -> bool:
    match = _V16_START.fullmatch(session_id)
    return match is not None and match["device"] == event.tags.get("device")


def _session_of(session_id: str, events: list[Event]) -> Session:
    """One session from the events that carry its id (2.0.1, or a lone 1.6 start/stop)."""
    first = events[0]
    connector = next((e.tags["connector"] for e in events if e.tags.get("connector")), None)
    device, site = first.tags.get("device", ""), first.tags.get("site", "")
    session = Session(session_id, device, site, connector)
    session.events = events
    meters = [(e.time_ns, m) for e in events if (m := _number(e, "meter_wh")) is not None]
    for event in events:
        kind = event.fields.get("event")
        if kind == "started" and session.start_ns is None:
            session.start_ns = event.time_ns
        elif kind == "ended":
            session.end_ns = event.time_ns
            session.stop_reason = _text(event, "stop_reason")
        session.id_tag = session.id_tag or _text(event, "id_tag")
    if session.start_ns is None and any(e.fields.get("event") == "updated" for e in events):
        session.start_ns = first.time_ns  # the start fell before the lookback: earliest known
    if meters:
        started = [m for t, m in meters if t == session.start_ns]
        ended = [m for t, m in meters if t == session.end_ns]
        session.meter_start_wh = started[0] if started else None
        session.meter_stop_wh = ended[-1] if ended else None
        if session.meter_start_wh is None and session.end_ns is None and len(meters) > 1:
            session.meter_start_wh = meters[0][1]
    return session


def pair_sessions(events: Iterable[Event]) -> list[Session]:
    """Sessions from ``charger_session`` events (time order), sorted by start (or end)."""
    groups: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        session_id = _text(event, "session_id")
        if session_id is not None:
            groups[(event.tags.get("device", ""), session_id)].append(event)
    sessions: list[Session] = []
    open_starts: dict[str, list[Session]] = defaultdict(list)  # 1.6 starts per charge point
    known_ids: dict[tuple[str, str], Session] = {}  # (device, transactionId) → its 1.6 start
    stops: list[Session] = []
    for (device, session_id), group in groups.items():
        kinds = {e.fields.get("event") for e in group}
        session = _session_of(session_id, group)
        if kinds == {"started"} and _is_v16_start(session_id, group[0]):
            open_starts[device].append(session)
            assigned = next((t for e in group if (t := _text(e, "transaction_id"))), None)
            if assigned is not None:
                session.transaction_id = assigned
                known_ids[(device, assigned)] = session
        elif kinds == {"ended"} and session_id.isdigit():  # a 1.6 transactionId is an integer
            stops.append(session)
        else:
            session.transaction_id = session_id
            sessions.append(session)
    for stop in sorted(stops, key=lambda s: s.end_ns or 0):
        known = known_ids.get((stop.device, stop.session_id))
        candidates = [
            s
            for s in open_starts.get(stop.device, [])
            if s.start_ns is not None
            and stop.end_ns is not None
            and s.start_ns <= stop.end_ns
            and (s.transaction_id is None or s is known)
        ]
        if known is not None and known in candidates:
            candidates = [known]
        if stop.id_tag is not None and any(s.id_tag == stop.id_tag for s in candidates):
            candidates = [s for s in candidates if s.id_tag == stop.id_tag]
        if stop.meter_stop_wh is not None:
            consistent = [
                s
                for s in candidates
                if s.meter_start_wh is not None and s.meter_start_wh <= stop.meter_stop_wh
            ]
            candidates = consistent or candidates
        if not candidates:
            stop.transaction_id = stop.session_id
            sessions.append(stop)
            continue
        start = min(candidates, key=lambda s: s.start_ns or 0)
        open_starts[stop.device].remove(start)
        start.end_ns = stop.end_ns
        start.transaction_id = stop.session_id
        start.meter_stop_wh = stop.meter_stop_wh
        start.stop_reason = stop.stop_reason
        start.id_tag = start.id_tag or stop.id_tag
        start.events = [*start.events, *stop.events]
        sessions.append(start)
    sessions += [s for starts in open_starts.values() for s in starts]
    sessions.sort(key=lambda s: s.start_ns if s.start_ns is not None else s.end_ns or 0)
    return sessions
