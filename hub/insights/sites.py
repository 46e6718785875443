"""Charging site answers: peak demand and week-on-week comparison, in the same shapes as a
building's (:class:`~hub.insights.buildings.Peak`, :class:`~hub.insights.buildings.Comparison`).

Both come from the energy the site's connectors delivered, by the charger energy rule of
:func:`hub.insights.energy.charger_energy_wh` (a station's connectors ``1..n``, its connector
``0`` only when it reports no other: connector 0 meters the whole station, so adding it to
its connectors would count every session twice). A site's **demand** is the energy of a
window divided by the window's length, as a utility's demand meter integrates it: a charger
reports its register every minute or so, and power samples would need the same connector rule
a second time. A register read less often than once a window puts the energy of its whole
interval into the window of the reading after it (the demand of that window is then too high).
"""

from __future__ import annotations

from hub.insights.buildings import WEEK_NS, Comparison, Peak, comparison_of, peak_of
from hub.insights.chargers import charger_filter
from hub.insights.context import Context
from hub.insights.energy import charger_energy_wh

__all__ = ["site_comparison", "site_peak"]

HOUR_NS = 3600 * 1_000_000_000


def site_peak(
    ctx: Context, site: str, start_ns: int, end_ns: int, window_ns: int, window: str
) -> Peak:
    """The window of highest demand (W: the window's Wh per hour), earliest on a tie."""
    where = charger_filter(ctx, site, None)
    per_window = charger_energy_wh(ctx.store, where, start_ns, end_ns, window_ns).get(site, {})
    found = None
    if per_window:
        time_ns, wh = max(sorted(per_window.items()), key=lambda item: item[1])
        found = (time_ns, wh * HOUR_NS / window_ns)
    return peak_of("site", site, start_ns, end_ns, window_ns, window, found)


def site_comparison(ctx: Context, site: str, start_ns: int, end_ns: int) -> Comparison:
    """kWh delivered in the period and in the same period 7 days earlier; ``None`` without
    readings."""
    where = charger_filter(ctx, site, None)

    def delivered_kwh(start: int, end: int) -> float | None:
        per_window = charger_energy_wh(ctx.store, where, start, end, None).get(site)
        return sum(per_window.values()) / 1000 if per_window else None

    return comparison_of(
        "site",
        site,
        start_ns,
        end_ns,
        delivered_kwh(start_ns, end_ns),
        delivered_kwh(start_ns - WEEK_NS, end_ns - WEEK_NS),
    )
