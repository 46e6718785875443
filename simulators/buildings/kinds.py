"""Building kinds: how much power a square metre draws, hour by hour (a declarative table).

Power of a building (W) = area × (base + peak × occupancy(hour) + HVAC), where HVAC is
``heating_w_per_m2_k`` per kelvin below :data:`HEATING_BELOW_C` and ``cooling_w_per_m2_k``
per kelvin above :data:`COOLING_ABOVE_C`, running at ``hvac_idle`` of full strength when the
building is empty. Occupancy curves are fractions 0..1 per local hour (0 = midnight).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COOLING_ABOVE_C", "HEATING_BELOW_C", "KINDS", "BuildingKind"]

HEATING_BELOW_C = 16.0
COOLING_ABOVE_C = 22.0


@dataclass(frozen=True, slots=True)
class BuildingKind:
    name: str
    area_m2: tuple[float, float]  # range of floor areas
    base_w_per_m2: float  # always on: servers, fridges, standby, lighting of corridors
    peak_w_per_m2: float  # added at full occupancy
    weekday: tuple[float, ...]  # occupancy per local hour, Monday to Friday
    weekend: tuple[float, ...]  # occupancy per local hour, Saturday and Sunday
    heating_w_per_m2_k: float  # electric share of heating (heat pumps, fans, pumps)
    cooling_w_per_m2_k: float
    hvac_idle: float  # fraction of HVAC running when unoccupied
    power_factor: tuple[float, float]


def _percent(morning: str, afternoon: str) -> tuple[float, ...]:
    """24 hourly fractions from two rows of 12 percentages (00-11 h, 12-23 h)."""
    values = tuple(int(p) / 100 for p in f"{morning} {afternoon}".split())
    assert len(values) == 24
    return values


# Occupancy per local hour, in percent.
_OFFICE_DAY = _percent(
    "  0   0   0   0   0   0   5  30  75  95 100 100",
    " 90  95 100  95  80  50  20   8   4   0   0   0",
)
_OFFICE_END = _percent(
    "  0   0   0   0   0   0   0   0   3   6   8   8",
    "  8   8   6   5   3   0   0   0   0   0   0   0",
)
_HOME_DAY = _percent(
    " 25  20  20  20  20  30  65  80  45  25  20  20",
    " 25  20  20  25  40  65  90 100  95  80  55  35",
)
_HOME_END = _percent(
    " 30  25  20  20  20  20  30  50  70  75  70  65",
    " 70  60  55  55  60  75  90 100  95  85  65  40",
)
_SCHOOL_DAY = _percent(
    "  0   0   0   0   0   0   5  50 100 100 100 100",
    " 90  85  70  40  20  10   5   0   0   0   0   0",
)
_HOSPITAL_DAY = _percent(
    " 60  55  55  55  55  60  70  85 100 100 100 100",
    " 95  95 100  95  90  85  80  75  70  65  65  60",
)
_HOSPITAL_END = _percent(
    " 60  55  55  55  55  55  60  70  80  80  80  80",
    " 80  80  80  80  75  75  70  70  65  65  60  60",
)
_SCHOOL_END = (0.0,) * 24

KINDS: dict[str, BuildingKind] = {
    "office": BuildingKind(
        "office", (1500, 12000), 4.0, 18.0, _OFFICE_DAY, _OFFICE_END, 0.6, 1.1, 0.25, (0.9, 0.97)
    ),
    "residential": BuildingKind(
        "residential", (600, 6000), 2.0, 7.0, _HOME_DAY, _HOME_END, 0.5, 0.3, 0.7, (0.92, 0.99)
    ),
    "school": BuildingKind(
        "school", (2000, 9000), 1.5, 14.0, _SCHOOL_DAY, _SCHOOL_END, 0.5, 0.6, 0.15, (0.88, 0.96)
    ),
    "hospital": BuildingKind(
        "hospital",
        (8000, 30000),
        22.0,
        14.0,
        _HOSPITAL_DAY,
        _HOSPITAL_END,
        0.7,
        1.4,
        0.8,
        (0.9, 0.95),
    ),
}
