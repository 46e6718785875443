"""Punctuality per route: how late the departures were, per route and window.

A departure is a ``bus_stop_event`` point with tag ``event=DEP`` and a ``delay_s`` field
(seconds behind schedule, GTFS-RT's sign: positive is late): HFP ``DEP`` events give them, and
so does any feed a mapping writes that way (a GTFS-RT VehiclePosition carries no delay). For
each route and window (aligned on the epoch like the aggregates):

- ``mean_delay_s``: the mean delay;
- ``p90_delay_s``: the 90th percentile, nearest rank (the value at rank ``floor(n*0.9+0.5)``
  of the sorted delays), as the store's ``percentile`` aggregate computes it;
- ``on_time_share``: the share of departures strictly within (−1, +3) minutes of schedule
  (more than a minute early or three minutes late or more is not on time), the band
  transport authorities report.

The delays are read as raw points (:func:`~hub.insights.events.read_events`), so every figure
is exact; a range holding more than ``max_points`` departures is refused (``TooMuchData``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel

from hub.contracts import Store
from hub.insights.context import Context, utc
from hub.insights.events import read_events
from hub.precision import S, Share

__all__ = [
    "EARLY_S",
    "LATE_S",
    "Punctuality",
    "RoutePunctuality",
    "punctuality",
    "route_punctuality",
]

EARLY_S = -60.0  # on time: strictly later than a minute early...
LATE_S = 180.0  # ...and strictly earlier than three minutes late


@dataclass(frozen=True)
class RoutePunctuality:
    route: str
    window_ns: int  # start of the window
    departures: int
    mean_delay_s: float
    p90_delay_s: float
    on_time_share: float  # 0..1


def punctuality(
    store: Store,
    start_ns: int,
    end_ns: int,
    every_ns: int,
    max_points: int,
    route: str | None = None,
) -> list[RoutePunctuality]:
    """The punctuality of each route with departures in ``[start_ns, end_ns)``, per window,
    sorted by route and window. Departures without a route tag are left out."""
    where = {"event": ("DEP",)} | ({"route": (route,)} if route else {})
    departures = read_events(
        store,
        "bus_stop_event",
        ("delay_s",),
        start_ns=start_ns,
        end_ns=end_ns,
        group_by=("route",),
        where=where,
        max_points=max_points,
    )
    delays: dict[tuple[str, int], list[float]] = defaultdict(list)
    for departure in departures:
        if departure.tags["route"]:
            window = departure.time_ns - departure.time_ns % every_ns
            delays[(departure.tags["route"], window)].append(float(departure.fields["delay_s"]))
    return [
        RoutePunctuality(
            route=route_id,
            window_ns=window,
            departures=len(values),
            mean_delay_s=sum(values) / len(values),
            p90_delay_s=nearest_rank(values, 90.0),
            on_time_share=sum(EARLY_S < v < LATE_S for v in values) / len(values),
        )
        for (route_id, window), values in sorted(delays.items())
    ]


def nearest_rank(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.floor(len(ordered) * percent / 100 + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


class PunctualityWindow(BaseModel):
    route: str
    time: datetime  # start of the window
    departures: int
    mean_delay_s: S
    p90_delay_s: S
    on_time_share: Share  # 0..1


class Punctuality(BaseModel):
    rows_field: ClassVar[str] = "windows"
    every: str
    start: datetime
    end: datetime
    windows: list[PunctualityWindow]


def route_punctuality(
    ctx: Context, route: str | None, start_ns: int, end_ns: int, every_ns: int, every: str
) -> Punctuality:
    """:func:`punctuality` as the API's answer (windows without departures are absent)."""
    rows = [
        PunctualityWindow(
            route=r.route,
            time=utc(r.window_ns),
            departures=r.departures,
            mean_delay_s=r.mean_delay_s,
            p90_delay_s=r.p90_delay_s,
            on_time_share=r.on_time_share,
        )
        for r in punctuality(ctx.store, start_ns, end_ns, every_ns, ctx.max_points, route)
    ]
    return Punctuality(every=every, start=utc(start_ns), end=utc(end_ns), windows=rows)
