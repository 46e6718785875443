"""Bus answers: the latest fix per vehicle, and bus-km per day and propulsion.

``route`` is a tag, so a vehicle that changes route has one series per route; its latest fix
is the newest of them. Bus-km come from the odometer (``increase`` of ``odometer_m``, which
handles an odometer reset) for every vehicle that reports one in the range, else from the
great-circle distance between consecutive fixes, attributed to the window of the later fix:
from the rollups' paths where they answer it exactly (:mod:`hub.insights.bus_path`), else from
the raw fixes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from hub.contracts import Store
from hub.geo import haversine_m
from hub.insights.bus_path import Km, fix_km_from_rollups
from hub.insights.events import read_events
from hub.query import AggregateQuery, LatestQuery, LatestRow
from hub.rollups import RollupPlan

__all__ = ["bus_km", "latest_fixes"]


def latest_fixes(rows: Iterable[LatestRow]) -> dict[str, LatestRow]:
    """The newest ``bus_position`` row per vehicle (``device``)."""
    newest: dict[str, LatestRow] = {}
    for row in rows:
        device = row.tags.get("device", "")
        if "latitude" not in row.fields or "longitude" not in row.fields:
            continue
        if device not in newest or row.time_ns > newest[device].time_ns:
            newest[device] = row
    return newest


def bus_km(
    store: Store,
    start_ns: int,
    end_ns: int,
    every_ns: int,
    max_points: int,
    rollups: RollupPlan | None = None,
) -> dict[int, dict[str, float]]:
    """Kilometres per window start and propulsion (``unknown`` when the registry has none);
    ``rollups`` is the plan the store keeps (none: raw fixes only)."""
    km: Km = defaultdict(lambda: defaultdict(float))
    odometer = AggregateQuery(
        "bus_position",
        "odometer_m",
        "increase",
        start_ns,
        end_ns,
        every_ns=every_ns,
        group_by=("device", "propulsion"),
    )
    with_odometer: set[str] = set()
    for series in store.aggregate(odometer):
        with_odometer.add(series.tags["device"])
        for bucket in series.buckets:
            km[bucket.time_ns][series.tags["propulsion"] or "unknown"] += (
                float(bucket.value or 0) / 1000
            )
    vehicles = {row.tags.get("device", "") for row in store.latest(LatestQuery("bus_position"))}
    without = tuple(sorted(vehicles - with_odometer - {""}))
    if without:
        fix_km = fix_km_from_rollups(
            store, rollups or RollupPlan({}), without, start_ns, end_ns, every_ns, max_points
        )
        if fix_km is None:
            fix_km = _fix_km(store, without, start_ns, end_ns, every_ns, max_points)
        for window, kinds in fix_km.items():
            for kind, value in kinds.items():
                km[window][kind] += value
    return {window: dict(kinds) for window, kinds in sorted(km.items())}


def _fix_km(
    store: Store,
    devices: tuple[str, ...],
    start_ns: int,
    end_ns: int,
    every_ns: int,
    max_points: int,
) -> Km:
    """The raw rule: km between consecutive fixes of each of ``devices``, per window and
    propulsion of the later fix."""
    km: Km = defaultdict(lambda: defaultdict(float))
    fixes = read_events(
        store,
        "bus_position",
        ("latitude", "longitude"),
        start_ns=start_ns,
        end_ns=end_ns,
        group_by=("device", "propulsion"),
        where={"device": devices},
        max_points=max_points,
    )
    previous: dict[str, tuple[float, float]] = {}
    for fix in fixes:
        if "longitude" not in fix.fields:
            continue
        here = (float(fix.fields["latitude"]), float(fix.fields["longitude"]))
        device = fix.tags["device"]
        if device in previous:
            window = fix.time_ns - fix.time_ns % every_ns
            km[window][fix.tags["propulsion"] or "unknown"] += (
                haversine_m(*previous[device], *here) / 1000
            )
        previous[device] = here
    return km
