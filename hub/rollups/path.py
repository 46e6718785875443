"""The path a series travels inside each rollup interval: for measurements whose points carry
``latitude`` and ``longitude`` (degrees), and only those, a rollup row holds two more fields:

================ =====================================================================
``path_fixes``   the points carrying both coordinates (*fixes*) in the interval
``path_m_within`` the great-circle length in metres of the path through them, in time
                 order (the first fix counts nothing: the step from the fix before the
                 interval is added at query time, from the previous row's
                 ``latitude_last``/``longitude_last``, as ``increase_within`` leaves the
                 counter step to the query, so late data in one interval never changes
                 another's row)
================ =====================================================================

The path's ends are the generic statistics' ``latitude_first``/``longitude_first`` and
``..._last`` with their times. They are the first and last *fix* only when every point with
one coordinate has the other: ``path_fixes == latitude_count == longitude_count``, which a
reader checks (:func:`ends_are_fixes`) before chaining rows, and reads raw points otherwise.

Composition is exact, as for the generic statistics: the elements of an interval (raw fixes,
or a finer rollup's rows) in time order give ``path_fixes`` (summed) and ``path_m_within``
(their own, plus the step from each element's predecessor's last fix to its first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub.geo import haversine_m
from hub.points import FieldValue
from hub.rollups.plan import rollup_field

__all__ = [
    "LATITUDE",
    "LONGITUDE",
    "PATH_FIELDS",
    "PATH_FIXES",
    "PATH_M_WITHIN",
    "Leg",
    "combine_legs",
    "ends_are_fixes",
    "has_path",
    "leg_of_fix",
    "leg_of_row",
    "path_fields",
]

LATITUDE, LONGITUDE = "latitude", "longitude"
PATH_FIXES = "path_fixes"
PATH_M_WITHIN = "path_m_within"
PATH_FIELDS = (PATH_FIXES, PATH_M_WITHIN)


def has_path(fields: Sequence[str]) -> bool:
    """Whether a measurement with these numeric fields gets the path statistics."""
    return LATITUDE in fields and LONGITUDE in fields


@dataclass(frozen=True, slots=True)
class Leg:
    """The fixes of one stretch of time: how many, the path through them (m), its ends
    ``(latitude, longitude)`` (``None`` without fixes)."""

    fixes: float
    within_m: float
    first: tuple[float, float] | None
    last: tuple[float, float] | None


def leg_of_fix(values: Mapping[str, object]) -> Leg | None:
    """A raw point as a leg: ``None`` unless it carries both coordinates."""
    latitude, longitude = values.get(LATITUDE), values.get(LONGITUDE)
    if latitude is None or longitude is None:
        return None
    here = (float(latitude), float(longitude))  # type: ignore[arg-type]
    return Leg(1.0, 0.0, here, here)


def leg_of_row(values: Mapping[str, object]) -> Leg | None:
    """A rollup row as a leg: ``None`` when it holds no fix."""
    fixes = values.get(PATH_FIXES)
    if not fixes:
        return None

    def at(end: str) -> tuple[float, float]:
        return (
            float(values[rollup_field(LATITUDE, end)]),  # type: ignore[arg-type]
            float(values[rollup_field(LONGITUDE, end)]),  # type: ignore[arg-type]
        )

    return Leg(float(fixes), float(values[PATH_M_WITHIN]), at("first"), at("last"))  # type: ignore[arg-type]


def combine_legs(legs: Sequence[Leg]) -> Leg:
    """The legs (in time order, not overlapping) as one."""
    within = 0.0
    before: tuple[float, float] | None = None
    for leg in legs:
        if before is not None and leg.first is not None:
            within += haversine_m(*before, *leg.first)
        within += leg.within_m
        before = leg.last or before
    return Leg(
        sum((leg.fixes for leg in legs), 0.0),
        within,
        next((leg.first for leg in legs if leg.first), None),
        before,
    )


def path_fields(leg: Leg) -> dict[str, FieldValue]:
    """The fields of a rollup row holding ``leg``."""
    return {PATH_FIXES: leg.fixes, PATH_M_WITHIN: leg.within_m}


def ends_are_fixes(values: Mapping[str, object]) -> bool:
    """Whether a rollup row's coordinate ends are its first and last fix (every point with
    one coordinate had the other), so rows may be chained into a path."""
    fixes = values.get(PATH_FIXES)
    return fixes is not None and all(
        (values.get(rollup_field(axis, "count")) or 0.0) == fixes for axis in (LATITUDE, LONGITUDE)
    )
