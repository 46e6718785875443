"""Building answers: the list with power now and energy today, and the energy per window,
peak demand and week-on-week comparison of a scope (a building, a district or the whole
city). The arithmetic is in :mod:`hub.insights.energy`; :class:`Peak` and
:class:`Comparison` also shape a charging site's answers (:mod:`hub.insights.sites`)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel

from hub.insights.context import DAY_NS, NS_PER_S, Context, utc
from hub.insights.energy import consumption_by_wh, consumption_wh, peak_demand_w
from hub.insights.inventory import check_known, known_values
from hub.precision import Kw, Kwh, W
from hub.query import LatestQuery

__all__ = [
    "BuildingList",
    "Comparison",
    "EnergySeries",
    "Peak",
    "Scope",
    "building_list",
    "comparison",
    "comparison_of",
    "energy_windows",
    "peak",
    "peak_of",
    "scope_ids",
]

WEEK_NS = 7 * DAY_NS
Scope = Literal["building", "district", "city"]  # what building energy is asked about
AnswerScope = Literal["building", "district", "site", "city"]  # what an answer is about


class BuildingNow(BaseModel):
    building: str
    district: str | None
    meters: int
    power_w: W | None
    as_of: datetime | None
    stale: bool
    energy_today_kwh: Kwh


class BuildingList(BaseModel):
    rows_field: ClassVar[str] = "buildings"
    day_start: datetime
    buildings: list[BuildingNow]


def building_list(ctx: Context) -> BuildingList:
    """``power_w`` sums the latest power of each meter (channel) of the building; ``as_of`` is
    the oldest of those readings, ``stale`` says it is older than the staleness limit;
    ``energy_today_kwh`` is the register increase since 00:00 UTC."""
    now, day_start = ctx.now_ns, ctx.day_start_ns
    districts: dict[str, str] = {}
    meters: dict[str, set[str]] = defaultdict(set)
    for device, tags in ctx.registry.as_dict().items():
        if "building" in tags:
            meters[tags["building"]].add(device)
            districts.setdefault(tags["building"], tags.get("district", ""))
    power: dict[str, float] = defaultdict(float)
    as_of: dict[str, int] = {}
    for row in ctx.store.latest(LatestQuery("building_energy", ("power_w",))):
        building = row.tags.get("building", "")
        meters[building].add(row.tags.get("device", ""))
        districts.setdefault(building, row.tags.get("district", ""))
        power[building] += float(row.fields["power_w"])  # type: ignore[arg-type]
        as_of[building] = min(as_of.get(building, row.time_ns), row.time_ns)
    today = consumption_by_wh(ctx.store, "building", day_start, now)
    stale_ns = ctx.config.device_stale_s * NS_PER_S
    rows = [
        BuildingNow(
            building=building,
            district=districts.get(building) or None,
            meters=len(meters[building] - {""}),
            power_w=power.get(building),
            as_of=utc(as_of[building]) if building in as_of else None,
            stale=building not in as_of or now - as_of[building] > stale_ns,
            energy_today_kwh=today.get(building, 0.0) / 1000,
        )
        for building in sorted(meters)
        if building
    ]
    return BuildingList(day_start=utc(day_start), buildings=rows)


def scope_ids(ctx: Context, scope: Literal["building", "district"]) -> list[str]:
    """The buildings or districts known to the registry or the store, sorted."""
    return sorted(known_values(ctx, ("building_energy",), scope))


def _where(ctx: Context, scope: Scope, scope_id: str | None) -> dict[str, tuple[str, ...]]:
    if scope == "city" or scope_id is None:
        return {}
    check_known(ctx, ("building_energy",), scope, scope_id)
    return {scope: (scope_id,)}


class EnergyWindow(BaseModel):
    time: datetime
    energy_kwh: Kwh


class EnergySeries(BaseModel):
    rows_field: ClassVar[str] = "windows"
    scope: Scope
    id: str | None
    every: str
    start: datetime
    end: datetime
    total_kwh: Kwh
    windows: list[EnergyWindow]


def energy_windows(
    ctx: Context,
    scope: Scope,
    scope_id: str | None,
    start_ns: int,
    end_ns: int,
    every_ns: int,
    every: str,
) -> EnergySeries:
    """Register increase per window, summed over the meters (a reset counts from zero)."""
    wh = consumption_wh(ctx.store, _where(ctx, scope, scope_id), start_ns, end_ns, every_ns)
    return EnergySeries(
        scope=scope,
        id=scope_id,
        every=every,
        start=utc(start_ns),
        end=utc(end_ns),
        total_kwh=sum(wh.values()) / 1000,
        windows=[EnergyWindow(time=utc(t), energy_kwh=v / 1000) for t, v in wh.items()],
    )


class Peak(BaseModel):
    scope: AnswerScope
    id: str | None
    start: datetime
    end: datetime
    window: str
    peak_w: W | None
    peak_kw: Kw | None
    time: datetime | None
    window_end: datetime | None


def peak(
    ctx: Context,
    scope: Scope,
    scope_id: str | None,
    start_ns: int,
    end_ns: int,
    window_ns: int,
    window: str,
) -> Peak:
    """The highest mean power of one window, summed over the meters (earliest on a tie)."""
    found = peak_demand_w(ctx.store, _where(ctx, scope, scope_id), start_ns, end_ns, window_ns)
    return peak_of(scope, scope_id, start_ns, end_ns, window_ns, window, found)


def peak_of(
    scope: AnswerScope,
    scope_id: str | None,
    start_ns: int,
    end_ns: int,
    window_ns: int,
    window: str,
    found: tuple[int, float] | None,
) -> Peak:
    """The answer for ``found``: the peak window's start and its demand in W (or ``None``)."""
    return Peak(
        scope=scope,
        id=scope_id,
        start=utc(start_ns),
        end=utc(end_ns),
        window=window,
        peak_w=found[1] if found else None,
        peak_kw=found[1] / 1000 if found else None,
        time=utc(found[0]) if found else None,
        window_end=utc(found[0] + window_ns) if found else None,
    )


class Comparison(BaseModel):
    scope: AnswerScope
    id: str | None
    start: datetime
    end: datetime
    current_kwh: Kwh | None
    previous_start: datetime
    previous_end: datetime
    previous_kwh: Kwh | None
    change_kwh: Kwh | None
    change_pct: float | None


def comparison(
    ctx: Context, scope: Scope, scope_id: str | None, start_ns: int, end_ns: int
) -> Comparison:
    """kWh of the period and of the same period 7 days earlier; ``None`` without readings."""
    where = _where(ctx, scope, scope_id)
    current = consumption_wh(ctx.store, where, start_ns, end_ns, None)
    before = consumption_wh(ctx.store, where, start_ns - WEEK_NS, end_ns - WEEK_NS, None)
    current_kwh = sum(current.values()) / 1000 if current else None
    previous_kwh = sum(before.values()) / 1000 if before else None
    return comparison_of(scope, scope_id, start_ns, end_ns, current_kwh, previous_kwh)


def comparison_of(
    scope: AnswerScope,
    scope_id: str | None,
    start_ns: int,
    end_ns: int,
    current_kwh: float | None,
    previous_kwh: float | None,
) -> Comparison:
    """The answer for the kWh of ``[start_ns, end_ns)`` and of the same period a week
    earlier (``WEEK_NS`` before); ``None`` where there were no readings."""
    change = (
        current_kwh - previous_kwh if current_kwh is not None and previous_kwh is not None else None
    )
    return Comparison(
        scope=scope,
        id=scope_id,
        start=utc(start_ns),
        end=utc(end_ns),
        current_kwh=current_kwh,
        previous_start=utc(start_ns - WEEK_NS),
        previous_end=utc(end_ns - WEEK_NS),
        previous_kwh=previous_kwh,
        change_kwh=change,
        change_pct=round(100 * change / previous_kwh, 3)
        if change is not None and previous_kwh
        else None,
    )
