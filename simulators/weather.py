"""A deterministic outdoor temperature (°C): season, day and passing weather fronts.

The model repeats every :data:`CYCLE_DAYS` days (52 weeks) so that every cumulative quantity
built on it (a building's energy register) has a closed form. Tuned to a central-European
city: about 1 °C in late January, 20 °C in late July, ±4 °C between night and afternoon.
"""

from __future__ import annotations

import math

from simulators.simtime import ANCHOR_S, DAY_S

__all__ = ["CYCLE_DAYS", "outdoor_temperature_c"]

CYCLE_DAYS = 364  # 52 weeks: the weather year, aligned with weekdays
MEAN_C = 10.5
SEASON_AMPLITUDE_C = 9.5
COLDEST_DAY = 14  # days after the anchor (6 January) with the lowest mean
DAY_AMPLITUDE_C = 4.0
WARMEST_HOUR = 15.0  # local standard time
# Weather fronts: (amplitude °C, period in days, phase rad); periods divide nothing in the
# cycle, so the fronts wander across weekdays.
FRONTS: tuple[tuple[float, float, float], ...] = ((2.5, 3.7, 0.0), (1.5, 9.1, 1.0))


def outdoor_temperature_c(time_s: int, standard_offset_s: int = 0) -> float:
    """Outdoor air temperature in °C at epoch second ``time_s``."""
    local_s = time_s + standard_offset_s - ANCHOR_S
    day = (local_s / DAY_S) % CYCLE_DAYS
    season = MEAN_C - SEASON_AMPLITUDE_C * math.cos(2 * math.pi * (day - COLDEST_DAY) / 365.25)
    hour = (local_s % DAY_S) / 3600
    diurnal = DAY_AMPLITUDE_C * math.cos(2 * math.pi * (hour - WARMEST_HOUR) / 24)
    fronts = sum(a * math.sin(2 * math.pi * day / period + phase) for a, period, phase in FRONTS)
    return season + diurnal + fronts
