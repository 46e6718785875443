"""Buildings: the list with latest power and energy today, and energy, peak demand and a
week-on-week comparison for one building, one district or the whole city."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response

from hub.api.deps import HubDep, ReadDep, SettingsDep, format_time
from hub.api.inventory import known_values
from hub.api.params import (
    DAY_NS,
    OutputDep,
    PeriodDep,
    WindowsDep,
    tabular_doc,
)
from hub.insights.energy import consumption_by_wh, consumption_wh, peak_demand_w
from hub.query import LatestQuery, parse_duration_ns
from hub.service import Hub

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["buildings"], dependencies=[ReadDep])

WEEK_NS = 7 * DAY_NS
Where = dict[str, tuple[str, ...]]

LIST_EXAMPLE = {
    "day_start": "2024-05-14T00:00:00Z",
    "buildings": [
        {
            "building": "b-001",
            "district": "harbour",
            "meters": 2,
            "power_w": 5230.0,
            "as_of": "2024-05-14T10:14:50Z",
            "stale": False,
            "energy_today_kwh": 41.25,
        }
    ],
}
LIST_COLUMNS = [
    "building", "district", "meters", "power_w", "as_of", "stale", "energy_today_kwh"
]  # fmt: skip
ENERGY_EXAMPLE = {
    "scope": "building",
    "id": "b-001",
    "every": "1h",
    "start": "2024-05-14T00:00:00Z",
    "end": "2024-05-14T03:00:00Z",
    "total_kwh": 12.5,
    "windows": [
        {"time": "2024-05-14T00:00:00Z", "energy_kwh": 4.0},
        {"time": "2024-05-14T01:00:00Z", "energy_kwh": 3.5},
        {"time": "2024-05-14T02:00:00Z", "energy_kwh": 5.0},
    ],
}


@router.get(
    "/buildings",
    summary="Buildings with their latest power and energy used today (UTC day)",
    response_class=Response,
    responses=tabular_doc(
        LIST_EXAMPLE,
        "building,district,meters,power_w,as_of,stale,energy_today_kwh\n"
        "b-001,harbour,2,5230.0,2024-05-14T10:14:50Z,False,41.25\n",
    ),
)
def list_buildings(hub: HubDep, settings: SettingsDep, output: OutputDep) -> Response:
    """`power_w` sums the latest power reading of each meter (channel) of the building;
    `as_of` is the oldest of those readings and `stale` says it is older than
    `CITYHUB_INSIGHTS__DEVICE_STALE_S`. `energy_today_kwh` is the register increase since
    00:00 UTC (days are UTC, as every window of the API is aligned to the Unix epoch)."""
    now = time.time_ns()
    day_start = now - now % DAY_NS
    districts: dict[str, str] = {}
    meters: dict[str, set[str]] = defaultdict(set)
    for device, tags in hub.devices.as_dict().items():
        if "building" in tags:
            meters[tags["building"]].add(device)
            districts.setdefault(tags["building"], tags.get("district", ""))
    power: dict[str, float] = defaultdict(float)
    as_of: dict[str, int] = {}
    for row in hub.store.latest(LatestQuery("building_energy", ("power_w",))):
        building = row.tags.get("building", "")
        meters[building].add(row.tags.get("device", ""))
        districts.setdefault(building, row.tags.get("district", ""))
        power[building] += float(row.fields["power_w"])  # type: ignore[arg-type]
        as_of[building] = min(as_of.get(building, row.time_ns), row.time_ns)
    today = consumption_by_wh(hub.store, "building", day_start, now)
    stale_ns = settings.insights.device_stale_s * 1e9
    rows = [
        {
            "building": building,
            "district": districts.get(building) or None,
            "meters": len(meters[building] - {""}),
            "power_w": power.get(building),
            "as_of": format_time(as_of[building]) if building in as_of else None,
            "stale": building not in as_of or now - as_of[building] > stale_ns,
            "energy_today_kwh": today.get(building, 0.0) / 1000,
        }
        for building in sorted(meters)
        if building
    ]
    return output.render(
        {"day_start": format_time(day_start), "buildings": rows}, rows, LIST_COLUMNS
    )


def _scope_where(hub: Hub, scope: str, scope_id: str | None) -> Where:
    """The tag filter of a scope, or 404 when the building or district is unknown."""
    if scope == "city" or scope_id is None:
        return {}
    if scope_id not in known_values(hub, ("building_energy",), scope):
        raise HTTPException(404, f"unknown {scope} {scope_id!r}")
    return {scope: (scope_id,)}


def _energy(
    hub: HubDep, windows: WindowsDep, output: OutputDep, scope: str, scope_id: str | None
) -> Response:
    where = _scope_where(hub, scope, scope_id)
    wh = consumption_wh(hub.store, where, windows.start_ns, windows.end_ns, windows.every_ns)
    rows = [{"time": format_time(t), "energy_kwh": v / 1000} for t, v in wh.items()]
    payload = {
        "scope": scope,
        "id": scope_id,
        "every": windows.every,
        "start": format_time(windows.start_ns),
        "end": format_time(windows.end_ns),
        "total_kwh": sum(wh.values()) / 1000,
        "windows": rows,
    }
    return output.render(payload, rows, ["time", "energy_kwh"])


def _peak(
    hub: HubDep,
    settings: SettingsDep,
    period: PeriodDep,
    window: str,
    scope: str,
    scope_id: str | None,
) -> dict[str, Any]:
    where = _scope_where(hub, scope, scope_id)
    try:
        window_ns = parse_duration_ns(window)
    except ValueError as error:
        raise HTTPException(400, f"window: {error}") from None
    count = (period.end_ns - period.start_ns) // window_ns
    if count > settings.api.max_buckets:
        raise HTTPException(
            400,
            f"{count} windows of {window} is more than the limit of {settings.api.max_buckets}: "
            "shorten the range or widen window",
        )
    peak = peak_demand_w(hub.store, where, period.start_ns, period.end_ns, window_ns)
    return {
        "scope": scope,
        "id": scope_id,
        "start": format_time(period.start_ns),
        "end": format_time(period.end_ns),
        "window": window,
        "peak_w": peak[1] if peak else None,
        "peak_kw": peak[1] / 1000 if peak else None,
        "time": format_time(peak[0]) if peak else None,
        "window_end": format_time(peak[0] + window_ns) if peak else None,
    }


def _comparison(hub: HubDep, period: PeriodDep, scope: str, scope_id: str | None) -> dict[str, Any]:
    where = _scope_where(hub, scope, scope_id)
    span = period.end_ns - period.start_ns
    current = consumption_wh(hub.store, where, period.start_ns, period.end_ns, None)
    before = consumption_wh(
        hub.store, where, period.start_ns - WEEK_NS, period.end_ns - WEEK_NS, None
    )
    current_kwh = sum(current.values()) / 1000 if current else None
    previous_kwh = sum(before.values()) / 1000 if before else None
    change = (
        current_kwh - previous_kwh if current_kwh is not None and previous_kwh is not None else None
    )
    return {
        "scope": scope,
        "id": scope_id,
        "start": format_time(period.start_ns),
        "end": format_time(period.end_ns),
        "current_kwh": current_kwh,
        "previous_start": format_time(period.start_ns - WEEK_NS),
        "previous_end": format_time(period.start_ns - WEEK_NS + span),
        "previous_kwh": previous_kwh,
        "change_kwh": change,
        "change_pct": 100 * change / previous_kwh if change is not None and previous_kwh else None,
    }


PEAK_EXAMPLE = {
    "scope": "district",
    "id": "harbour",
    "start": "2024-05-13T00:00:00Z",
    "end": "2024-05-14T00:00:00Z",
    "window": "15m",
    "peak_w": 68000.0,
    "peak_kw": 68.0,
    "time": "2024-05-13T17:00:00Z",
    "window_end": "2024-05-13T17:15:00Z",
}
COMPARISON_EXAMPLE = {
    "scope": "building",
    "id": "b-001",
    "start": "2024-05-13T00:00:00Z",
    "end": "2024-05-14T00:00:00Z",
    "current_kwh": 21.5,
    "previous_start": "2024-05-06T00:00:00Z",
    "previous_end": "2024-05-07T00:00:00Z",
    "previous_kwh": 10.0,
    "change_kwh": 11.5,
    "change_pct": 115.0,
}
WindowParam = Annotated[
    str,
    Query(description="Demand window: the peak is the highest mean power of one", examples=["15m"]),
]
BuildingId = Annotated[str, Path(description="A building id", examples=["b-001"])]
DistrictId = Annotated[str, Path(description="A district id", examples=["harbour"])]

ENERGY_DOC: dict[str, Any] = {
    "response_class": Response,
    "responses": tabular_doc(ENERGY_EXAMPLE, "time,energy_kwh\n2024-05-14T00:00:00Z,4.0\n"),
    "description": "Register increase per window, summed over the meters (a counter reset or "
    "meter replacement counts from zero, as `increase`); windows without readings are left "
    "out. Windows are aligned to the Unix epoch (days are UTC days).",
}
PEAK_DOC: dict[str, Any] = {
    "responses": {200: {"content": {"application/json": {"example": PEAK_EXAMPLE}}}},
    "description": "Demand is the mean power of a window (default 15m), summed over the "
    "meters (and channels); the peak is the highest, with its window (earliest on a tie).",
}
COMPARISON_DOC: dict[str, Any] = {
    "responses": {200: {"content": {"application/json": {"example": COMPARISON_EXAMPLE}}}},
    "description": "kWh of the period and of the same period 7 days earlier; `null` where "
    "there is no reading.",
}


@router.get(
    "/buildings/{building_id}/energy", summary="Energy per window of a building", **ENERGY_DOC
)
def building_energy(
    hub: HubDep, windows: WindowsDep, output: OutputDep, building_id: BuildingId
) -> Response:
    return _energy(hub, windows, output, "building", building_id)


@router.get(
    "/districts/{district_id}/energy", summary="Energy per window of a district", **ENERGY_DOC
)
def district_energy(
    hub: HubDep, windows: WindowsDep, output: OutputDep, district_id: DistrictId
) -> Response:
    return _energy(hub, windows, output, "district", district_id)


@router.get("/city/energy", summary="Energy per window of the whole city's buildings", **ENERGY_DOC)
def city_energy(hub: HubDep, windows: WindowsDep, output: OutputDep) -> Response:
    return _energy(hub, windows, output, "city", None)


@router.get("/buildings/{building_id}/peak", summary="Peak demand of a building", **PEAK_DOC)
def building_peak(
    hub: HubDep,
    settings: SettingsDep,
    period: PeriodDep,
    building_id: BuildingId,
    window: WindowParam = "15m",
) -> dict[str, Any]:
    return _peak(hub, settings, period, window, "building", building_id)


@router.get("/districts/{district_id}/peak", summary="Peak demand of a district", **PEAK_DOC)
def district_peak(
    hub: HubDep,
    settings: SettingsDep,
    period: PeriodDep,
    district_id: DistrictId,
    window: WindowParam = "15m",
) -> dict[str, Any]:
    return _peak(hub, settings, period, window, "district", district_id)


@router.get("/city/peak", summary="Peak demand of the whole city's buildings", **PEAK_DOC)
def city_peak(
    hub: HubDep, settings: SettingsDep, period: PeriodDep, window: WindowParam = "15m"
) -> dict[str, Any]:
    return _peak(hub, settings, period, window, "city", None)


@router.get(
    "/buildings/{building_id}/comparison",
    summary="A building's energy against a week earlier",
    **COMPARISON_DOC,
)
def building_comparison(hub: HubDep, period: PeriodDep, building_id: BuildingId) -> dict[str, Any]:
    return _comparison(hub, period, "building", building_id)


@router.get(
    "/districts/{district_id}/comparison",
    summary="A district's energy against a week earlier",
    **COMPARISON_DOC,
)
def district_comparison(hub: HubDep, period: PeriodDep, district_id: DistrictId) -> dict[str, Any]:
    return _comparison(hub, period, "district", district_id)


@router.get(
    "/city/comparison",
    summary="The city's building energy against a week earlier",
    **COMPARISON_DOC,
)
def city_comparison(hub: HubDep, period: PeriodDep) -> dict[str, Any]:
    return _comparison(hub, period, "city", None)
