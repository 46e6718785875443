"""The path statistics of :mod:`hub.rollups.path` in DuckDB's rollup SQL
(:func:`hub.stores.duckdb_rollups.compose_sql` adds these pieces when the measurement has
both coordinates): each element's fixes and path within, the previous element's last fix
(a window ``lag`` over the elements in time order, as the counter's), and the sums.

The great-circle distance is :func:`hub.geo.haversine_m` written in SQL, operation
for operation, so a rollup's path and the raw rule's differ by the order of additions only.
"""

from __future__ import annotations

from hub.geo import EARTH_RADIUS_M
from hub.rollups.path import LATITUDE, LONGITUDE, PATH_FIXES, PATH_M_WITHIN
from hub.rollups.plan import rollup_field
from hub.stores.duckdb_sql import quote as _q

__all__ = ["aggregates", "haversine_sql", "lag", "raw_element", "row_element"]

_PREVIOUS_FIX = '"prev_path_fix"'


def haversine_sql(lat1: str, lon1: str, lat2: str, lon2: str) -> str:
    """Metres between two points given in degrees; none may be ``NULL`` (``least`` ignores a
    ``NULL``: the answer would be half the Earth's circumference)."""
    phi1, phi2 = f"radians({lat1})", f"radians({lat2})"
    a = (
        f"pow(sin(({phi2} - {phi1}) / 2), 2) + cos({phi1}) * cos({phi2}) * "
        f"pow(sin(radians({lon2} - {lon1}) / 2), 2)"
    )
    return f"2 * {EARTH_RADIUS_M!r} * asin(least(1.0, sqrt({a})))"


def raw_element() -> str:
    """A raw point's columns: one fix if it has both coordinates, no path within."""
    fix = f"{_q(LATITUDE)} IS NOT NULL AND {_q(LONGITUDE)} IS NOT NULL"
    return f"CASE WHEN {fix} THEN 1.0 ELSE 0.0 END AS {_q(PATH_FIXES)}, 0.0 AS {_q(PATH_M_WITHIN)}"


def row_element(alias: str) -> str:
    """A rollup row's columns, as they are stored."""
    return f"{alias}.{_q(PATH_FIXES)}, {alias}.{_q(PATH_M_WITHIN)}"


def lag() -> str:
    """The last fix of the element before (``[latitude, longitude]``), over the window ``w``
    of the elements of one (series, interval) in time order."""
    last = [_q(rollup_field(axis, "last")) for axis in (LATITUDE, LONGITUDE)]
    return (
        f", lag(CASE WHEN {_q(PATH_FIXES)} > 0 THEN [{last[0]}, {last[1]}] END "
        f"IGNORE NULLS) OVER w AS {_PREVIOUS_FIX}"
    )


def aggregates() -> list[str]:
    """The interval's statistics from its elements: the elements' own paths, plus the step
    from each one's predecessor's last fix to its first."""
    first = [_q(rollup_field(axis, "first")) for axis in (LATITUDE, LONGITUDE)]
    step = haversine_sql(f"{_PREVIOUS_FIX}[1]", f"{_PREVIOUS_FIX}[2]", *first)
    return [
        f"sum({_q(PATH_FIXES)}) AS {_q(PATH_FIXES)}",
        f"sum({_q(PATH_M_WITHIN)}) + COALESCE(sum(CASE WHEN {_q(PATH_FIXES)} > 0 "
        f"AND {_PREVIOUS_FIX} IS NOT NULL THEN {step} END), 0) AS {_q(PATH_M_WITHIN)}",
    ]
