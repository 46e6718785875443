"""Kilometres between consecutive bus fixes per window, from the hourly or daily rollups of
``bus_position`` (their ``path_m_within`` and coordinate ends, :mod:`hub.rollups.path`)
instead of every raw fix: the same answer as the raw rule of
:func:`hub.insights.buses.bus_km`, or ``None`` where the rollups cannot give it exactly, and
the caller reads the raw fixes.

The raw rule, and how the rollups meet it:

* consecutive fixes are a *vehicle's* (``device``), across its series: ``route`` (and
  ``propulsion``) are tags, so a vehicle changing route mid-hour has two rows in that hour.
  Its rows of one interval are chained in the order of their first fix; if they interleave
  (A, B, A within one interval), or touch at one nanosecond (the raw order then depends on
  the series keys), the path cannot be told from the rows: the next finer rollup is tried
  (days, then hours), then ``None``;
* only fixes inside the range count (the first fix of the range has no predecessor), so,
  unlike ``increase``, nothing is anchored before the range;
* a step belongs to the window and propulsion of its later fix: a row's path within, and the
  step from the previous row's last fix to its first, to the row's window and propulsion;
* the windows must be whole rollup intervals and the rollup must hold the range: the same
  rule as for an aggregate (:func:`hub.rollups.rollup_for`);
* a row whose coordinate ends are not fixes (a point with one coordinate only) gives ``None``
  (:func:`hub.rollups.path.ends_are_fixes`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from hub.contracts import Store
from hub.geo import haversine_m
from hub.query import AggregateQuery, PointRow, PointsQuery
from hub.rollups import Rollup, RollupPlan, rollup_field, rollup_for
from hub.rollups.path import LATITUDE, LONGITUDE, PATH_FIELDS, ends_are_fixes, leg_of_row

__all__ = ["MEASUREMENT", "fix_km_from_rollups"]

MEASUREMENT = "bus_position"
_FIELDS = (
    *PATH_FIELDS,
    *(rollup_field(axis, stat) for axis in (LATITUDE, LONGITUDE) for stat in ("first", "last")),
    *(rollup_field(axis, "count") for axis in (LATITUDE, LONGITUDE)),
    rollup_field(LATITUDE, "first_offset_ns"),
    rollup_field(LATITUDE, "last_offset_ns"),
)
Km = dict[int, dict[str, float]]  # window start -> propulsion -> km


def fix_km_from_rollups(
    store: Store,
    plan: RollupPlan,
    devices: tuple[str, ...],
    start_ns: int,
    end_ns: int,
    every_ns: int,
    max_rows: int,
) -> Km | None:
    """Km between the consecutive fixes of ``devices`` in ``[start_ns, end_ns)`` per window
    of ``every_ns`` and propulsion, or ``None``: read the raw fixes. Each rollup that fits
    is tried, coarsest first: a bus alternating routes within a day interleaves its daily
    rows, rarely its hourly ones. More than ``max_rows`` rollup rows is ``None`` too (the raw
    read then says how much is too much)."""
    coverage: Mapping[str, int] = getattr(store, "rollup_coverage", None) or {}
    shape = AggregateQuery(MEASUREMENT, LATITUDE, "count", start_ns, end_ns, every_ns=every_ns)
    for rollup in reversed(plan.of(MEASUREMENT)):
        if rollup_for(shape, RollupPlan({MEASUREMENT: (rollup,)}), coverage) is None:
            continue
        km = _km_from(store, rollup, devices, start_ns, end_ns, every_ns, max_rows)
        if km is not None:
            return km
    return None


def _km_from(
    store: Store,
    rollup: Rollup,
    devices: tuple[str, ...],
    start_ns: int,
    end_ns: int,
    every_ns: int,
    max_rows: int,
) -> Km | None:
    """:func:`fix_km_from_rollups` from ``rollup``'s rows, or ``None``."""
    rows = store.points(
        PointsQuery(
            rollup.name,
            start_ns,
            end_ns,
            fields=_FIELDS,
            where={"device": devices},
            limit=max_rows + 1,
        )
    )
    if len(rows) > max_rows:
        return None
    by_device: dict[str, list[PointRow]] = defaultdict(list)
    for row in rows:
        if not ends_are_fixes(row.fields):
            return None
        by_device[row.tags.get("device", "")].append(row)
    km: Km = defaultdict(lambda: defaultdict(float))
    for device_rows in by_device.values():
        if not _chain(device_rows, every_ns, km):
            return None
    return {window: dict(kinds) for window, kinds in km.items()}


def _at(row: PointRow, end: str) -> int:
    return row.time_ns + int(float(row.fields[rollup_field(LATITUDE, f"{end}_offset_ns")]))  # type: ignore[arg-type]


def _chain(rows: list[PointRow], every_ns: int, km: Km) -> bool:
    """Add one vehicle's rows to ``km``; ``False`` when its series interleave in time."""
    legs = sorted(
        ((_at(row, "first"), row, leg) for row in rows if (leg := leg_of_row(row.fields))),
        key=lambda item: item[0],
    )
    last_ns: int | None = None
    last_fix: tuple[float, float] | None = None
    for first_ns, row, leg in legs:
        if last_ns is not None and first_ns <= last_ns:
            return False
        steps = leg.fixes - (0 if last_fix else 1)  # the raw rule counts one per step
        if steps:
            assert leg.first is not None  # a row with fixes has its ends
            step_m = haversine_m(*last_fix, *leg.first) if last_fix else 0.0
            kind = row.tags.get("propulsion") or "unknown"
            window = row.time_ns - row.time_ns % every_ns
            km[window][kind] += (step_m + leg.within_m) / 1000
        last_ns, last_fix = _at(row, "last"), leg.last
    return True
