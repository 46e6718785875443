"""What happens at a charge point, in time order: boots, heartbeats, connector state changes
(the session lifecycle and outages) and meter samples. Version-neutral; the OCPP encoders
turn each event into frames."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from simulators.charging.model import ChargePoint, ConnectorSpec
from simulators.charging.sessions import Outage, Session, connector_day
from simulators.seeding import unit
from simulators.simtime import DAY_S, HOUR_S

__all__ = ["ChargerEvent", "charger_events", "connector_state"]

BOOT_AT_S = 3 * HOUR_S  # weekly maintenance reboot, local standard time
# Event kinds in the order they are sent when they share a second.
ORDER = {"boot": 0, "state": 1, "sample": 2, "heartbeat": 3}


@dataclass(frozen=True, slots=True)
class ChargerEvent:
    """``kind`` is ``boot``, ``heartbeat``, ``state`` (``state`` names the connector's new
    state: plugged, charging, suspended, finishing, available, faulted) or ``sample``."""

    time_s: int
    kind: str
    connector: ConnectorSpec | None = None
    state: str | None = None
    session: Session | None = None
    outage: Outage | None = None


def charger_events(cp: ChargePoint, start_s: int, end_s: int | None) -> Iterator[ChargerEvent]:
    """Events of ``cp`` in ``[start_s, end_s)`` (``end_s`` None: forever), in time order."""
    day = cp.city_time.day_index(start_s)
    while end_s is None or cp.city_time.day_start_s(day) < end_s:
        for event in _day_events(cp, day):
            if event.time_s < start_s:
                continue
            if end_s is not None and event.time_s >= end_s:
                return
            yield event
        day += 1


def connector_state(cp: ChargePoint, connector: ConnectorSpec, time_s: int) -> str:
    """The state of ``connector`` at ``time_s`` (``available`` when nothing happens)."""
    plan = connector_day(cp, connector, cp.city_time.day_index(time_s))
    if plan.outage and plan.outage.start_s <= time_s < plan.outage.end_s:
        return "faulted"
    for session in plan.sessions:
        for state, since_s, until_s in _lifecycle(session):
            if since_s <= time_s < until_s:
                return state
    return "available"


def _lifecycle(session: Session) -> list[tuple[str, int, int]]:
    return [
        ("plugged", session.plug_s, session.charge_start_s),
        ("charging", session.charge_start_s, session.charge_end_s),
        ("suspended", session.charge_end_s, session.unplug_s),
        ("finishing", session.unplug_s, session.free_s),
    ]


def _day_events(cp: ChargePoint, day: int) -> list[ChargerEvent]:
    day_s = cp.city_time.day_start_s(day)
    events = [
        ChargerEvent(time_s, "heartbeat")
        for time_s in range(day_s + cp.phase_s % cp.heartbeat_s, day_s + DAY_S, cp.heartbeat_s)
    ]
    if int(unit(cp.seed, cp.cp_id, "boot-weekday") * 7) == day % 7:
        boot_s = day_s + BOOT_AT_S + cp.phase_s
        events.append(ChargerEvent(boot_s, "boot"))
        for connector in cp.connectors:
            state = connector_state(cp, connector, boot_s + 1)
            events.append(ChargerEvent(boot_s + 1, "state", connector, state))
    for connector in cp.connectors:
        events += _connector_events(cp, connector, day, day_s)
    events.sort(key=lambda e: (e.time_s, ORDER[e.kind]))
    return events


def _connector_events(
    cp: ChargePoint, connector: ConnectorSpec, day: int, day_s: int
) -> list[ChargerEvent]:
    plan = connector_day(cp, connector, day)
    events = []
    if plan.outage:
        outage = plan.outage
        events.append(ChargerEvent(outage.start_s, "state", connector, "faulted", outage=outage))
        events.append(ChargerEvent(outage.end_s, "state", connector, "available"))
    for session in plan.sessions:
        for state, since_s, _ in _lifecycle(session):
            events.append(ChargerEvent(since_s, "state", connector, state, session))
        events.append(ChargerEvent(session.free_s, "state", connector, "available", session))
    sessions = iter(plan.sessions)
    current = next(sessions, None)
    for time_s in range(day_s + cp.phase_s % cp.sample_s, day_s + DAY_S, cp.sample_s):
        while current is not None and time_s >= current.unplug_s:
            current = next(sessions, None)
        if current is not None and current.charge_start_s <= time_s:
            events.append(ChargerEvent(time_s, "sample", connector, session=current))
        elif (time_s - day_s - cp.phase_s) % cp.idle_sample_s == 0 and not (
            plan.outage and plan.outage.start_s <= time_s < plan.outage.end_s
        ):
            events.append(ChargerEvent(time_s, "sample", connector))
    return events
