"""Publishing a city over MQTT: a backfill of history as fast as the broker takes it, then
live traffic on a simulated clock (optionally accelerated), with a rate cap and faults.

Usable from a thread: ``run(city, host, port, stop_event=event, ...)`` returns when
``stop_event`` is set, the duration is over, or (``backfill_only``) the backfill is done.

Time: live traffic starts at ``start_ns`` (default: now, or ``replay_s`` ago when
accelerated) and follows a :class:`SimClock`. Unless the caller passes a clock that the hub
also reads, simulated time never passes the wall clock, so the hub never sees future
timestamps: an accelerated run replays the recent past, then continues in real time.
Heartbeats and BootNotifications carry no time (the hub stamps them on receipt), so the
backfill leaves them out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from simulators.clock import SimClock
from simulators.faults import FaultPlan
from simulators.mqtt import FlowControlledClient
from simulators.progress import ProgressLine
from simulators.scenario import City
from simulators.simtime import DAY_S, NS_PER_S
from simulators.truth import SimMessage

__all__ = ["PublishStats", "RateLimiter", "run"]

log = logging.getLogger("cityhub.simulators")


@dataclass(slots=True)
class PublishStats:
    backfilled: int = 0  # messages published by the backfill
    live: int = 0  # messages published live
    faults: int = 0  # of them, carrying an injected fault
    skipped: int = 0  # time-less messages left out of the backfill
    connected: bool = False  # whether the broker ever accepted the connection
    refused: int = 0  # publishes the broker refused (MQTT v5 PUBACK reason, e.g. the ACL)


class RateLimiter:
    """Token bucket: ``rate_per_s`` messages a second on average, bursts of 0.1 s."""

    def __init__(self, rate_per_s: float) -> None:
        self.rate_per_s = rate_per_s
        self._capacity = max(1.0, rate_per_s * 0.1)
        self._tokens = self._capacity
        self._last = time.monotonic()

    def wait(self, stop: threading.Event) -> None:
        if self.rate_per_s <= 0:
            return
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self.rate_per_s)
        self._last = now
        if self._tokens < 1:
            stop.wait((1 - self._tokens) / self.rate_per_s)
            self._tokens = 1.0
            self._last = time.monotonic()
        self._tokens -= 1


def run(
    city: City,
    host: str,
    port: int,
    *,
    rate: float = 0.0,
    speed: float | None = 1.0,
    stop_event: threading.Event,
    backfill_s: float = 0.0,
    faults: FaultPlan | float | str | None = 0.0,
    backfill_only: bool = False,
    duration_s: float = 0.0,
    start_ns: int | None = None,
    replay_s: float | None = None,
    clock: SimClock | None = None,
    qos: int = 1,
    username: str | None = None,
    password: str | None = None,
    client_id: str = "",
    protocol: str = "5",
    window: int = 1000,
    progress: bool | None = None,
    on_message: Callable[[SimMessage], None] | None = None,
    ocpp_ws: str | None = None,
    ocpp_password: str | None = None,
) -> PublishStats:
    """Publish ``city`` to the broker at ``host:port``.

    ``rate``: cap on live messages per second (0: none). ``speed``: simulated seconds per
    wall second (None: chosen so the city's natural rate meets ``rate``). ``backfill_s``:
    seconds of history published first, without pacing. ``faults``: a :class:`FaultPlan`
    or its text (``0.01``, ``nan,late``). ``duration_s``: wall seconds of live publishing
    (0: until ``stop_event``). ``on_message`` sees every published message (ground truth).
    ``ocpp_ws``: the hub's OCPP gateway (``ws://host:9000``); the chargers then speak OCPP-J
    to it over WebSocket instead of publishing their frames (see :mod:`simulators.ocpp_ws`).
    """
    plan = faults if isinstance(faults, FaultPlan) else FaultPlan.parse(faults or None)
    if speed is None or speed <= 0:
        speed = max(1.0, rate / city.nominal_rate_per_s()) if rate > 0 else 1.0
    if clock is None:
        wall_ns = time.time_ns()
        replay = replay_s if replay_s is not None else (DAY_S if speed > 1 else 0.0)
        live_start_ns = start_ns if start_ns is not None else wall_ns - int(replay * NS_PER_S)
        clock = SimClock(live_start_ns, speed)
    else:
        live_start_ns = start_ns if start_ns is not None else clock.now_ns()
    stats = PublishStats()
    client = FlowControlledClient(
        host,
        port,
        qos=qos,
        client_id=client_id,
        username=username,
        password=password,
        window=window,
        protocol=protocol,
    )
    if not client.connect(stop_event):
        log.error("could not connect to the MQTT broker at %s:%s", host, port)
        return stats
    stats.connected = True
    log.info(
        "publishing %d devices to %s:%s (speed %gx, rate cap %s, faults %s)",
        len(city.device_ids()),
        host,
        port,
        speed,
        rate or "none",
        plan.kinds or "none",
    )

    relay = None
    if ocpp_ws:
        from simulators.ocpp_ws import OcppWebSocketRelay

        relay = OcppWebSocketRelay(ocpp_ws, ocpp_password)

    def send(message: SimMessage) -> bool:
        if relay is not None and message.topic.startswith("ocpp/cp/"):
            if not relay.send(message, stop_event):
                return False
        elif not client.publish(message.topic, message.payload, stop_event):
            return False
        if message.fault is not None:
            stats.faults += 1
        if on_message is not None:
            on_message(message)
        return True

    try:
        if backfill_s > 0:
            _backfill(city, live_start_ns, backfill_s, plan, send, stats, stop_event, progress)
        if not backfill_only and not stop_event.is_set():
            _live(
                city,
                live_start_ns,
                clock,
                rate,
                duration_s,
                plan,
                send,
                stats,
                stop_event,
                progress,
            )
        client.drain()
    finally:
        client.close()
        if relay is not None:
            relay.close()
    stats.refused = client.refused + (relay.refused if relay is not None else 0)
    return stats


def _backfill(
    city: City,
    end_ns: int,
    backfill_s: float,
    plan: FaultPlan,
    send: Callable[[SimMessage], bool],
    stats: PublishStats,
    stop: threading.Event,
    progress: bool | None,
) -> None:
    start_ns = end_ns - int(backfill_s * NS_PER_S)
    line = ProgressLine("backfill", force=bool(progress)) if progress is not False else None
    span = max(end_ns - start_ns, 1)
    for message in city.messages(start_ns, end_ns, faults=plan):
        if stop.is_set():
            break
        if any(expected.clock_time for expected in message.truth):
            stats.skipped += 1
            continue
        if not send(message):
            break
        stats.backfilled += 1
        if line:
            line.update(
                stats.backfilled, message.send_ns, max(0, message.send_ns - start_ns) / span
            )
    if line:
        line.done(end_ns)


def _live(
    city: City,
    start_ns: int,
    clock: SimClock,
    rate: float,
    duration_s: float,
    plan: FaultPlan,
    send: Callable[[SimMessage], bool],
    stats: PublishStats,
    stop: threading.Event,
    progress: bool | None,
) -> None:
    limiter = RateLimiter(rate)
    deadline = time.monotonic() + duration_s if duration_s > 0 else None
    line = ProgressLine("live", force=bool(progress)) if progress is not False else None
    for message in city.messages(start_ns, None, faults=plan):
        while not message.burst:
            wait_s = clock.wall_seconds_until(message.send_ns)
            if wait_s <= 0 or stop.is_set():
                break
            stop.wait(min(wait_s, 0.25))
            if deadline is not None and time.monotonic() >= deadline:
                break
        if stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
            break
        if not message.burst:
            limiter.wait(stop)
        if not send(message):
            break
        stats.live += 1
        if line:
            line.update(stats.live, message.send_ns)
    if line:
        line.done(clock.now_ns())
