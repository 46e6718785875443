"""Buildings and their meters: instantaneous readings and the cumulative energy register.

A meter's register counts from the anchor, except that now and then it restarts: a
*counter reset* (to 0 Wh) or a *meter replacement* (a new meter with a few Wh on it). Each
:data:`RESET_PERIOD_S` period holds at most one such event, with probability
:data:`RESET_PROBABILITY`, so the register at any time is found by looking back a bounded
number of periods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from simulators.buildings.kinds import KINDS
from simulators.buildings.loadcurve import LoadCurve
from simulators.seeding import rng, unit
from simulators.simtime import ANCHOR_S, DAY_S, CityTime
from simulators.weather import outdoor_temperature_c

__all__ = ["Building", "Meter", "MeterReading", "RegisterEvent"]

RESET_PERIOD_S = 28 * DAY_S
RESET_PROBABILITY = 0.08
LOOKBACK_PERIODS = 60  # about 4.5 years; older events no longer matter
POWER_NOISE = 0.04  # relative spread of a reading around the hourly mean
NOMINAL_VOLTAGE_V = 230.0


@dataclass(frozen=True, slots=True)
class Building:
    building_id: str
    kind: str
    district: str
    area_m2: float
    efficiency: float  # multiplies the kind's power density (older buildings draw more)


@dataclass(frozen=True, slots=True)
class RegisterEvent:
    """The register restarted at ``time_s`` from ``start_wh``."""

    time_s: int
    kind: str  # "counter_reset" or "meter_replacement"
    start_wh: float


@dataclass(frozen=True, slots=True)
class MeterReading:
    """What a meter measures at ``time_s``: power (W), register (Wh), energy since local
    midnight (Wh), voltage (V), current (A), power factor (0..1), device temperature (°C)."""

    time_s: int
    power_w: float
    register_wh: float
    today_wh: float
    voltage_v: float
    current_a: float
    power_factor: float
    temperature_c: float


@dataclass(frozen=True, eq=False)  # an entity: equal only to itself, cheap to hash
class Meter:
    """A building's main meter. ``wire`` is its format (``senml``, ``tasmota``, ``shelly``);
    it reports every ``interval_s`` seconds at ``phase_s`` past the interval grid."""

    meter_id: str
    wire: str
    building: Building
    curve: LoadCurve
    city_time: CityTime
    seed: int
    interval_s: int
    phase_s: int
    initial_wh: float  # register at the anchor
    style: str  # wire variant: SenML "Wh" / "kWh" units, batch size in "batch5"

    @property
    def scale_m2(self) -> float:
        return self.building.area_m2 * self.building.efficiency

    def mean_power_w(self, time_s: int) -> float:
        """The hourly mean power (W) the register integrates."""
        return self.scale_m2 * self.curve.power_w_per_m2(time_s)

    def power_w(self, time_s: int) -> float:
        """The instantaneous power (W): the hourly mean with a little noise."""
        noise = (unit(self.seed, self.meter_id, "power", time_s) - 0.5) * 2 * POWER_NOISE
        return self.mean_power_w(time_s) * (1 + noise)

    def consumed_wh(self, time_s: int) -> float:
        """Energy (Wh) the building used from the anchor to ``time_s``."""
        return self.scale_m2 * self.curve.energy_wh_per_m2(time_s)

    def event_in_period(self, period: int) -> RegisterEvent | None:
        return _event_in_period(self.seed, self.meter_id, period)

    def register_events(self, start_s: int, end_s: int) -> list[RegisterEvent]:
        """Resets and replacements in ``[start_s, end_s)``."""
        first, last = _period(start_s), _period(end_s)
        events = (self.event_in_period(p) for p in range(first, last + 1))
        return [e for e in events if e is not None and start_s <= e.time_s < end_s]

    def register_wh(self, time_s: int) -> float:
        """The energy register (Wh) at ``time_s``."""
        period = _period(time_s)
        for back in range(LOOKBACK_PERIODS):
            event = self.event_in_period(period - back)
            if event is not None and event.time_s <= time_s:
                return event.start_wh + self.consumed_wh(time_s) - self.consumed_wh(event.time_s)
        return self.initial_wh + self.consumed_wh(time_s)

    def reading(self, time_s: int) -> MeterReading:
        """Everything the meter measures at ``time_s``."""
        power_w = self.power_w(time_s)
        low, high = _power_factor_range(self.building.kind)
        factor = low + (high - low) * unit(self.seed, self.meter_id, "pf", time_s // 3600)
        voltage_v = NOMINAL_VOLTAGE_V + 4 * (unit(self.seed, self.meter_id, "v", time_s) - 0.5)
        midnight_s = self.city_time.local_midnight_s(time_s)
        offset_s = self.city_time.standard_offset_s
        return MeterReading(
            time_s=time_s,
            power_w=power_w,
            register_wh=self.register_wh(time_s),
            today_wh=self.consumed_wh(time_s) - self.consumed_wh(midnight_s),
            voltage_v=voltage_v,
            current_a=power_w / (voltage_v * factor),
            power_factor=factor,
            temperature_c=outdoor_temperature_c(time_s, offset_s) * 0.3 + 22 + power_w / 5e4,
        )


def _period(time_s: int) -> int:
    return (time_s - ANCHOR_S) // RESET_PERIOD_S


def _power_factor_range(kind: str) -> tuple[float, float]:
    return KINDS[kind].power_factor


@lru_cache(maxsize=200_000)
def _event_in_period(seed: int, meter_id: str, period: int) -> RegisterEvent | None:
    draw = rng(seed, meter_id, "register-event", period)
    if draw.random() >= RESET_PROBABILITY:
        return None
    # On a minute, so that minute-stamped formats (Shelly) show the drop at a clear time.
    time_s = ANCHOR_S + period * RESET_PERIOD_S + draw.randrange(RESET_PERIOD_S // 60) * 60
    if draw.random() < 0.5:
        return RegisterEvent(time_s, "counter_reset", 0.0)
    return RegisterEvent(time_s, "meter_replacement", float(math.floor(draw.uniform(0, 5000))))
