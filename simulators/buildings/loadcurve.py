"""A kind's load curve over the weather year, with its cumulative energy in closed form.

Power per m² is constant within each hour (its hourly mean). The table covers one weather
cycle (52 weeks of hours) from the anchor, so the energy used since the anchor at any time is
``cycles × cycle energy + prefix sum of the hours + the part of the current hour``: an energy
register is a pure function of time, for any time, in O(1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from simulators.buildings.kinds import COOLING_ABOVE_C, HEATING_BELOW_C, BuildingKind
from simulators.simtime import ANCHOR_S, HOUR_S
from simulators.weather import CYCLE_DAYS, outdoor_temperature_c

__all__ = ["CYCLE_HOURS", "LoadCurve", "load_curve"]

CYCLE_HOURS = CYCLE_DAYS * 24


@dataclass(frozen=True, eq=False)
class LoadCurve:
    """Hourly mean power (W/m²) of one kind over the cycle, indexed by UTC hour since the
    anchor, and its prefix sums (Wh/m²)."""

    kind: BuildingKind
    hourly_w_per_m2: tuple[float, ...]
    prefix_wh_per_m2: tuple[float, ...]  # energy before hour i; the last item is the cycle

    def power_w_per_m2(self, time_s: int) -> float:
        """Hourly mean power density (W/m²) at ``time_s``."""
        return self.hourly_w_per_m2[((time_s - ANCHOR_S) // HOUR_S) % CYCLE_HOURS]

    def energy_wh_per_m2(self, time_s: int) -> float:
        """Energy density (Wh/m²) used from the anchor to ``time_s``."""
        hours, into_hour_s = divmod(time_s - ANCHOR_S, HOUR_S)
        cycles, hour = divmod(hours, CYCLE_HOURS)
        return (
            cycles * self.prefix_wh_per_m2[-1]
            + self.prefix_wh_per_m2[hour]
            + self.hourly_w_per_m2[hour] * into_hour_s / HOUR_S
        )


def kind_power_w_per_m2(kind: BuildingKind, time_s: int, standard_offset_s: int) -> float:
    """Mean power density (W/m²) of ``kind`` in the hour starting at ``time_s``."""
    local_s = time_s + standard_offset_s - ANCHOR_S
    hour = (local_s // HOUR_S) % 24
    weekday = (local_s // 86_400) % 7
    occupancy = (kind.weekday if weekday < 5 else kind.weekend)[hour]
    outdoor_c = outdoor_temperature_c(time_s + HOUR_S // 2, standard_offset_s)
    heating = kind.heating_w_per_m2_k * max(0.0, HEATING_BELOW_C - outdoor_c)
    cooling = kind.cooling_w_per_m2_k * max(0.0, outdoor_c - COOLING_ABOVE_C)
    hvac_share = kind.hvac_idle + (1 - kind.hvac_idle) * occupancy
    return kind.base_w_per_m2 + kind.peak_w_per_m2 * occupancy + (heating + cooling) * hvac_share


@lru_cache(maxsize=64)
def load_curve(kind: BuildingKind, standard_offset_s: int) -> LoadCurve:
    """The (cached) load curve of ``kind`` for a city at ``standard_offset_s`` from UTC."""
    hourly = tuple(
        kind_power_w_per_m2(kind, ANCHOR_S + hour * HOUR_S, standard_offset_s)
        for hour in range(CYCLE_HOURS)
    )
    return LoadCurve(kind, hourly, (0.0, *accumulate(hourly)))
