"""The city: headline numbers now, and a carbon estimate per day."""

from __future__ import annotations

import time
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response

from hub.api.chargers import connector_board
from hub.api.deps import HubDep, ReadDep, SettingsDep, format_time
from hub.api.inventory import known_values
from hub.api.params import DAY_NS, OutputDep, PeriodDep, tabular_doc
from hub.insights.buses import bus_km, latest_fixes
from hub.insights.carbon import CarbonFactors, DayActivity, carbon_day
from hub.insights.energy import charger_energy_wh, consumption_wh
from hub.insights.events import NS_PER_S
from hub.query import LatestQuery

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/city", tags=["city"], dependencies=[ReadDep])

OVERVIEW_EXAMPLE = {
    "time": "2024-05-14T10:00:00Z",
    "day_start": "2024-05-14T00:00:00Z",
    "buildings": {
        "buildings": 120,
        "meters": 130,
        "meters_reporting": 128,
        "power_w": 5_230_000.0,
        "energy_today_kwh": 52_300.0,
    },
    "chargers": {
        "charge_points": 40,
        "connectors": 80,
        "by_status": {"Available": 50, "Charging": 25, "Faulted": 5},
        "charging": 25,
        "faulted": 5,
        "energy_today_kwh": 1_250.0,
    },
    "buses": {"vehicles": 60, "reporting": 58, "stale": 2, "routes": 12},
    "devices": {"registered": 240, "seen": 238, "stale": 3},
}


@router.get(
    "/overview",
    summary="Headline numbers: power now, energy today, chargers, buses, devices",
    responses={200: {"content": {"application/json": {"example": OVERVIEW_EXAMPLE}}}},
)
def overview(hub: HubDep, settings: SettingsDep) -> dict[str, Any]:
    """`power_w` sums the latest power of the meters that reported within
    `CITYHUB_INSIGHTS__DEVICE_STALE_S` (`meters_reporting`); "today" is the UTC day. Buses
    `reporting` had a fix within `CITYHUB_INSIGHTS__BUS_STALE_S`. Devices are `stale` when
    registered or seen but silent for longer than `CITYHUB_INSIGHTS__DEVICE_STALE_S`."""
    now = time.time_ns()
    day_start = now - now % DAY_NS
    device_stale_ns = settings.insights.device_stale_s * NS_PER_S
    meters = hub.store.latest(LatestQuery("building_energy", ("power_w", "energy_import_wh")))
    fresh = [m for m in meters if now - m.time_ns <= device_stale_ns]
    connectors = connector_board(hub, settings, {})
    by_status = Counter(str(row["status"]) for row in connectors)
    fixes = latest_fixes(hub.store.latest(LatestQuery("bus_position")))
    bus_stale_ns = settings.insights.bus_stale_s * NS_PER_S
    reporting = sum(1 for row in fixes.values() if now - row.time_ns <= bus_stale_ns)
    last_seen: dict[str, int] = {}
    for device in hub.store.catalog().devices:
        last_seen[device.device] = max(last_seen.get(device.device, 0), device.last_seen_ns)
    registered = hub.devices.as_dict()
    known = set(registered) | set(last_seen)
    charging_today = charger_energy_wh(hub.store, {}, day_start, now + 1, None)
    return {
        "time": format_time(now),
        "day_start": format_time(day_start),
        "buildings": {
            "buildings": len(known_values(hub, ("building_energy",), "building")),
            "meters": len(
                {m.tags.get("device") for m in meters}
                | {d for d, tags in registered.items() if "building" in tags}
            ),
            "meters_reporting": len({m.tags.get("device") for m in fresh}),
            "power_w": sum(float(m.fields.get("power_w", 0.0)) for m in fresh),  # type: ignore[arg-type]
            "energy_today_kwh": sum(
                consumption_wh(hub.store, {}, day_start, now + 1, None).values()
            )
            / 1000,
        },
        "chargers": {
            "charge_points": len({row["device"] for row in connectors}),
            "connectors": len(connectors),
            "by_status": dict(sorted(by_status.items())),
            "charging": by_status.get("Charging", 0),
            "faulted": by_status.get("Faulted", 0),
            "energy_today_kwh": sum(sum(w.values()) for w in charging_today.values()) / 1000,
        },
        "buses": {
            "vehicles": len(fixes),
            "reporting": reporting,
            "stale": len(fixes) - reporting,
            "routes": len({row.tags["route"] for row in fixes.values() if row.tags.get("route")}),
        },
        "devices": {
            "registered": len(registered),
            "seen": len(last_seen),
            "stale": sum(
                1
                for device in known
                if device not in last_seen or now - last_seen[device] > device_stale_ns
            ),
        },
    }


CARBON_COLUMNS = [
    "day", "building_kwh", "charging_kwh", "electricity_kwh", "electricity_co2_kg", "bus_km",
    "electric_bus_km", "diesel_bus_km", "unknown_propulsion_bus_km", "electric_share",
    "bus_co2_kg", "total_co2_kg",
]  # fmt: skip
CARBON_EXAMPLE_DAY = {
    "day": "2024-05-13",
    "building_kwh": 26.5,
    "charging_kwh": 15.0,
    "electricity_kwh": 41.5,
    "electricity_co2_kg": 10.375,
    "bus_km": 50.0,
    "electric_bus_km": 40.0,
    "diesel_bus_km": 10.0,
    "unknown_propulsion_bus_km": 0.0,
    "electric_share": 0.8,
    "bus_co2_kg": 25.0,
    "total_co2_kg": 35.375,
}


@router.get(
    "/carbon",
    summary="Carbon estimate per (UTC) day: electricity and bus-km",
    response_class=Response,
    responses=tabular_doc(
        {
            "start": "2024-05-13T00:00:00Z",
            "end": "2024-05-14T00:00:00Z",
            "factors": {
                "grid_g_per_kwh": 250.0,
                "diesel_bus_g_per_km": 1300.0,
                "electric_bus_kwh_per_km": 1.2,
            },
            "days": [CARBON_EXAMPLE_DAY],
        },
        ",".join(CARBON_COLUMNS)
        + "\n"
        + ",".join(str(CARBON_EXAMPLE_DAY[c]) for c in CARBON_COLUMNS)
        + "\n",
    ),
)
def carbon(
    hub: HubDep,
    settings: SettingsDep,
    period: PeriodDep,
    output: OutputDep,
    grid_g_per_kwh: Annotated[
        float | None,
        Query(
            ge=0, description="Grid intensity; default CITYHUB_INSIGHTS__GRID_INTENSITY_G_PER_KWH"
        ),
    ] = None,
) -> Response:
    """Per UTC day: building and charging kWh (register increases) times the grid intensity;
    bus-km from the odometer's increase, or from the distance between fixes for a vehicle
    without one, split by the registry's `propulsion` tag (electric | diesel). Electric
    bus-km cost `CITYHUB_INSIGHTS__ELECTRIC_BUS_KWH_PER_KM` at the grid intensity, diesel and
    unknown ones `CITYHUB_INSIGHTS__DIESEL_BUS_G_PER_KM`. `electric_share` is of the bus-km
    whose propulsion is known (0..1)."""
    insights = settings.insights
    factors = CarbonFactors(
        grid_g_per_kwh=grid_g_per_kwh
        if grid_g_per_kwh is not None
        else insights.grid_intensity_g_per_kwh,
        diesel_bus_g_per_km=insights.diesel_bus_g_per_km,
        electric_bus_kwh_per_km=insights.electric_bus_kwh_per_km,
    )
    days_count = -(-(period.end_ns - (period.start_ns - period.start_ns % DAY_NS)) // DAY_NS)
    if days_count > settings.api.max_buckets:
        raise HTTPException(
            400, f"{days_count} days is more than the limit of {settings.api.max_buckets}"
        )
    start, end = period.start_ns, period.end_ns
    days: dict[int, DayActivity] = {}

    def day(time_ns: int) -> DayActivity:
        return days.setdefault(time_ns, DayActivity(time_ns))

    for time_ns, wh in consumption_wh(hub.store, {}, start, end, DAY_NS).items():
        day(time_ns).building_kwh += wh / 1000
    for per_window in charger_energy_wh(hub.store, {}, start, end, DAY_NS).values():
        for time_ns, wh in per_window.items():
            day(time_ns).charging_kwh += wh / 1000
    for time_ns, kinds in bus_km(hub.store, start, end, DAY_NS, settings.api.max_points).items():
        for kind, km in kinds.items():
            activity = day(time_ns)
            activity.bus_km[kind] = activity.bus_km.get(kind, 0.0) + km
    rows = [
        {"day": format_time(time_ns)[:10], **carbon_day(activity, factors)}
        for time_ns, activity in sorted(days.items())
    ]
    payload = {
        "start": format_time(start),
        "end": format_time(end),
        "factors": vars(factors),
        "days": rows,
    }
    return output.render(payload, rows, CARBON_COLUMNS)
