"""Energy answers: building consumption and demand, charger energy per site.

Consumption comes from the cumulative registers (``energy_import_wh``) through ``increase``,
so counter resets and meter replacements are handled by the primitive. **Demand** is the mean
power of a window (15 minutes by default, as utilities bill peak demand); a building or
district with several meters (or channels) demands the sum of their means.

A charge point reports a register per connector and sometimes one for the whole station
(connector ``0``). Summing them all would count a session twice, so a station's energy is the
sum of its connectors ``1..n`` when it reports any, else its connector ``0``. Readings that
name no connector (1.6 ``StopTransaction.transactionData``, 2.0.1 transaction events after the
first) are in ``charger_transaction_meter`` and not counted here: the connector's own register
already holds that energy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from hub.contracts import Store
from hub.query import AggregateQuery, SumOfMeansQuery

__all__ = [
    "DEMAND_SERIES",
    "charger_energy_wh",
    "consumption_by_wh",
    "consumption_wh",
    "peak_demand_w",
]

Where = Mapping[str, tuple[str, ...]]
# What one meter is: its power is averaged over a window apart from the other meters'.
DEMAND_SERIES = ("device", "channel")


def consumption_wh(
    store: Store, where: Where, start_ns: int, end_ns: int, every_ns: int | None
) -> dict[int, float]:
    """Building energy (Wh) per window start, summed over the meters matching ``where``."""
    query = AggregateQuery(
        "building_energy",
        "energy_import_wh",
        "increase",
        start_ns,
        end_ns,
        every_ns=every_ns,
        where=dict(where),
    )
    windows: dict[int, float] = defaultdict(float)
    for series in store.aggregate(query):
        for bucket in series.buckets:
            windows[bucket.time_ns] += float(bucket.value or 0.0)
    return dict(sorted(windows.items()))


def peak_demand_w(
    store: Store, where: Where, start_ns: int, end_ns: int, window_ns: int
) -> tuple[int, float] | None:
    """The window (start) of highest demand and the demand in W, or ``None`` without data.
    Ties go to the earliest window. The store sums the meters' means (one row per window
    comes back, not one per meter and window)."""
    query = SumOfMeansQuery(
        "building_energy", "power_w", start_ns, end_ns, window_ns, DEMAND_SERIES, dict(where)
    )
    demand = [(bucket.time_ns, float(bucket.value or 0.0)) for bucket in store.sum_of_means(query)]
    if not demand:
        return None
    return max(sorted(demand), key=lambda item: item[1])


def charger_energy_wh(
    store: Store, where: Where, start_ns: int, end_ns: int, every_ns: int | None
) -> dict[str, dict[int, float]]:
    """Energy delivered (Wh) per site and window start (see the module docstring)."""
    query = AggregateQuery(
        "charger_meter",
        "energy_import_wh",
        "increase",
        start_ns,
        end_ns,
        every_ns=every_ns,
        group_by=("site", "device", "connector"),
        where=dict(where),
    )
    per_station: dict[tuple[str, str], dict[str, dict[int, float]]] = defaultdict(dict)
    for series in store.aggregate(query):
        connector = series.tags["connector"]
        if connector == "":
            continue  # a station that names no connector: nothing to attribute it to
        station = (series.tags["site"], series.tags["device"])
        windows = per_station[station].setdefault(connector, {})
        for bucket in series.buckets:
            windows[bucket.time_ns] = windows.get(bucket.time_ns, 0.0) + float(bucket.value or 0)
    sites: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for (site, _device), connectors in per_station.items():
        outlets = {c: w for c, w in connectors.items() if c != "0"} or connectors
        for windows in outlets.values():
            for time_ns, wh in windows.items():
                sites[site][time_ns] += wh
    return {site: dict(sorted(w.items())) for site, w in sorted(sites.items())}


def consumption_by_wh(store: Store, tag: str, start_ns: int, end_ns: int) -> dict[str, float]:
    """Building energy (Wh) in ``[start_ns, end_ns)`` per value of ``tag``."""
    query = AggregateQuery(
        "building_energy", "energy_import_wh", "increase", start_ns, end_ns, group_by=(tag,)
    )
    return {
        series.tags[tag]: sum(float(b.value or 0) for b in series.buckets)
        for series in store.aggregate(query)
    }
