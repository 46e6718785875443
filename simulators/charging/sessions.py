"""Charging sessions and each connector's day: arrivals, tapering power, outages, register.

Power stays at the session's maximum until the state of charge passes the ``knee``, then
falls linearly with SoC to zero at 100 %, which makes SoC approach 100 % exponentially in
time: ``1 - soc(t) = (1 - soc_knee) · exp(-P·t / (C·(1 - knee)))``. So the SoC, the power and
the delivered energy are closed-form functions of time, and a day's sessions are planned from
the seed alone. Plans repeat every :data:`PLAN_CYCLE_DAYS` days, which keeps the connector's
register (energy since the anchor) a closed form too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from random import Random

from simulators.charging.model import ChargePoint, ConnectorSpec
from simulators.seeding import hex_id, rng
from simulators.simtime import HOUR_S

__all__ = ["ConnectorDay", "Outage", "Session", "connector_day", "register_wh"]

PLAN_CYCLE_DAYS = 28
OPEN_S, CLOSE_S = 6 * HOUR_S, 23 * HOUR_S  # first arrival, last departure (local standard)
ERROR_CODES = (
    "GroundFailure",
    "PowerMeterFailure",
    "ConnectorLockFailure",
    "OverCurrentFailure",
    "InternalError",
    "EVCommunicationError",
)
# Arrivals per hour at an average connector, by local hour.
ARRIVALS_PER_H = (
    0,
    0,
    0,
    0,
    0,
    0,
    0.3,
    0.5,
    0.6,
    0.5,
    0.35,
    0.35,
    0.45,
    0.4,
    0.35,
    0.4,
    0.55,
    0.6,
    0.5,
    0.4,
    0.3,
    0.25,
    0.15,
    0.05,
)


@dataclass(frozen=True, slots=True)
class Session:
    """One vehicle at one connector. Times are epoch seconds: plugged in, charging starts
    (authorised), battery reaches its target, unplugged, connector free again."""

    connector_id: int
    plug_s: int
    charge_start_s: int
    charge_end_s: int
    unplug_s: int
    free_s: int
    capacity_wh: float
    soc_start: float  # fraction 0..1
    soc_target: float
    max_power_w: float
    knee: float  # SoC where tapering begins
    id_tag: str
    transaction_number: int  # OCPP 1.6 transactionId (assigned by the central system)
    transaction_uuid: str  # OCPP 2.0.1 transactionId (assigned by the station)

    def _knee_s(self) -> float:
        """Seconds from charge start until the SoC reaches the knee (0 if it starts above)."""
        return max(0.0, self.knee - self.soc_start) * self.capacity_wh / self.max_power_w * 3600

    def _taper_tau_s(self) -> float:
        return self.capacity_wh * (1 - self.knee) / self.max_power_w * 3600

    def soc_at(self, time_s: float) -> float:
        """State of charge (fraction) at ``time_s``."""
        elapsed_s = min(max(time_s, self.charge_start_s), self.charge_end_s) - self.charge_start_s
        knee_s = self._knee_s()
        if elapsed_s <= knee_s:
            return self.soc_start + elapsed_s * self.max_power_w / 3600 / self.capacity_wh
        above = max(self.soc_start, self.knee)
        return 1 - (1 - above) * math.exp(-(elapsed_s - knee_s) / self._taper_tau_s())

    def power_w(self, time_s: float) -> float:
        """Power delivered (W) at ``time_s``: 0 outside charging."""
        if not self.charge_start_s <= time_s < self.charge_end_s:
            return 0.0
        soc = self.soc_at(time_s)
        if soc < self.knee:
            return self.max_power_w
        return self.max_power_w * (1 - soc) / (1 - self.knee)

    def energy_wh(self, time_s: float) -> float:
        """Energy delivered (Wh) from the charge start until ``time_s``."""
        return (self.soc_at(time_s) - self.soc_start) * self.capacity_wh

    @property
    def total_wh(self) -> float:
        """Energy (Wh) of the whole session (the SoC at the end is the target, to a second)."""
        return self.energy_wh(self.charge_end_s)


def charge_duration_s(
    capacity_wh: float, soc_start: float, soc_target: float, max_power_w: float, knee: float
) -> float:
    """Seconds to charge from ``soc_start`` to ``soc_target`` (fractions)."""
    linear_to = min(knee, soc_target)
    linear_s = max(0.0, linear_to - soc_start) * capacity_wh / max_power_w * 3600
    if soc_target <= knee:
        return linear_s
    above = max(soc_start, knee)
    tau_s = capacity_wh * (1 - knee) / max_power_w * 3600
    return linear_s + tau_s * math.log((1 - above) / (1 - soc_target))


@dataclass(frozen=True, slots=True)
class Outage:
    """The connector is Faulted in ``[start_s, end_s)`` with ``error_code``."""

    start_s: int
    end_s: int
    error_code: str


@dataclass(frozen=True, slots=True)
class ConnectorDay:
    day: int
    sessions: tuple[Session, ...]
    outage: Outage | None

    @property
    def energy_wh(self) -> float:
        return sum(session.total_wh for session in self.sessions)


@lru_cache(maxsize=65_536)
def connector_day(cp: ChargePoint, connector: ConnectorSpec, day: int) -> ConnectorDay:
    """The plan of ``connector`` on local day ``day`` (a function of the seed and the day's
    place in the plan cycle)."""
    draw = rng(cp.seed, cp.cp_id, connector.connector_id, "day", day % PLAN_CYCLE_DAYS)
    day_s = cp.city_time.day_start_s(day)
    outage = None
    if draw.random() < 0.05:
        start_s = day_s + draw.randrange(0, 20 * HOUR_S, 60)
        end_s = min(start_s + draw.randrange(HOUR_S // 2, 6 * HOUR_S, 60), day_s + CLOSE_S)
        outage = Outage(start_s, end_s, draw.choice(ERROR_CODES))
    sessions: list[Session] = []
    clock_s = float(OPEN_S)
    while True:
        rate_per_s = max(ARRIVALS_PER_H[int(clock_s // HOUR_S) % 24], 0.05) * cp.busyness / HOUR_S
        clock_s += draw.expovariate(rate_per_s)
        if clock_s > CLOSE_S - HOUR_S:
            break
        session = _session(cp, connector, day, len(sessions), day_s + int(clock_s), draw)
        if outage and session.plug_s < outage.end_s and session.free_s > outage.start_s:
            clock_s = float(outage.end_s - day_s)
            continue
        if session.free_s > day_s + CLOSE_S:
            break
        sessions.append(session)
        clock_s = float(session.free_s - day_s + 60)
    return ConnectorDay(day, tuple(sessions), outage)


def _session(
    cp: ChargePoint, connector: ConnectorSpec, day: int, number: int, plug_s: int, draw: Random
) -> Session:
    """A session plugged in at ``plug_s``: the vehicle (battery, SoC, power limit) is drawn."""
    if connector.current == "DC":
        capacity_wh = draw.choice((58_000, 64_000, 77_000, 82_000, 100_000))
        vehicle_max_w = draw.choice((50_000, 100_000, 135_000, 170_000))
        knee = draw.uniform(0.5, 0.7)
        soc_start, soc_target = draw.uniform(0.08, 0.45), draw.uniform(0.78, 0.9)
    else:
        capacity_wh = draw.choice((40_000, 52_000, 58_000, 77_000))
        vehicle_max_w = draw.choice((7_400, 11_000, 11_000, 22_000))
        knee = draw.uniform(0.85, 0.92)
        soc_start, soc_target = draw.uniform(0.2, 0.7), draw.uniform(0.8, 0.97)
    soc_target = max(soc_target, soc_start + 0.05)
    max_power_w = float(min(connector.max_power_w, vehicle_max_w))
    charge_start_s = plug_s + draw.randrange(20, 120)
    duration_s = charge_duration_s(capacity_wh, soc_start, soc_target, max_power_w, knee)
    charge_end_s = charge_start_s + max(60, math.ceil(duration_s))
    unplug_s = charge_end_s + int(draw.expovariate(1 / 1200))
    key = (cp.seed, cp.cp_id, connector.connector_id, day, number)
    return Session(
        connector_id=connector.connector_id,
        plug_s=plug_s,
        charge_start_s=charge_start_s,
        charge_end_s=charge_end_s,
        unplug_s=unplug_s,
        free_s=unplug_s + draw.randrange(10, 40),
        capacity_wh=float(capacity_wh),
        soc_start=soc_start,
        soc_target=soc_target,
        max_power_w=max_power_w,
        knee=knee,
        id_tag=f"04{draw.randrange(16**12):012X}"[:14],
        transaction_number=int(hex_id(*key, "tx", length=7), 16) + 1,
        transaction_uuid=_uuid(hex_id(*key, "uuid", length=32)),
    )


def _uuid(digits: str) -> str:
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-a{digits[17:20]}-{digits[20:32]}"


@lru_cache(maxsize=16_384)
def _cycle_prefix_wh(cp: ChargePoint, connector: ConnectorSpec) -> tuple[float, ...]:
    energies = (connector_day(cp, connector, day).energy_wh for day in range(PLAN_CYCLE_DAYS))
    return (0.0, *accumulate(energies))


def register_wh(cp: ChargePoint, connector: ConnectorSpec, time_s: int) -> float:
    """The connector's Energy.Active.Import.Register (Wh) at ``time_s``."""
    day = cp.city_time.day_index(time_s)
    prefix = _cycle_prefix_wh(cp, connector)
    cycles, day_in_cycle = divmod(day, PLAN_CYCLE_DAYS)
    today = connector_day(cp, connector, day)
    delivered = sum(s.energy_wh(time_s) for s in today.sessions if s.charge_start_s <= time_s)
    # Summed so that a day's end and the next day's start add the same floats, and floored to
    # whole Wh as a meter counts: every message then carries the same register whatever unit
    # or rounding it is published in, so it never appears to dip.
    return float(
        math.floor(
            connector.initial_wh + (cycles * prefix[-1] + (prefix[day_in_cycle] + delivered))
        )
    )
