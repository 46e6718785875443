"""The city's headline numbers now: buildings, chargers, buses and devices."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import BaseModel

from hub.insights.buses import latest_fixes
from hub.insights.chargers import connector_board
from hub.insights.context import NS_PER_S, Context, utc
from hub.insights.energy import charger_energy_wh, consumption_wh
from hub.insights.inventory import known_values
from hub.precision import Kwh, W
from hub.query import LatestQuery

__all__ = ["Overview", "overview"]


class BuildingsNow(BaseModel):
    buildings: int
    meters: int
    meters_reporting: int
    power_w: W
    energy_today_kwh: Kwh


class ChargersNow(BaseModel):
    charge_points: int
    connectors: int
    by_status: dict[str, int]
    charging: int
    faulted: int
    energy_today_kwh: Kwh


class BusesNow(BaseModel):
    vehicles: int
    reporting: int
    stale: int
    routes: int


class DevicesNow(BaseModel):
    registered: int
    seen: int
    stale: int


class Overview(BaseModel):
    time: datetime
    day_start: datetime
    buildings: BuildingsNow
    chargers: ChargersNow
    buses: BusesNow
    devices: DevicesNow


def overview(ctx: Context) -> Overview:
    """``power_w`` sums the latest power of the meters that reported within the device
    staleness limit (``meters_reporting``); "today" is the UTC day. Buses ``reporting`` had a
    fix within the bus staleness limit. Devices are ``stale`` when registered or seen but
    silent for longer than the device staleness limit."""
    now, day_start = ctx.now_ns, ctx.day_start_ns
    device_stale_ns = ctx.config.device_stale_s * NS_PER_S
    meters = ctx.store.latest(LatestQuery("building_energy", ("power_w", "energy_import_wh")))
    fresh = [m for m in meters if now - m.time_ns <= device_stale_ns]
    connectors = connector_board(ctx, {})
    by_status = Counter(str(row.status) for row in connectors)
    fixes = latest_fixes(ctx.store.latest(LatestQuery("bus_position")))
    bus_stale_ns = ctx.config.bus_stale_s * NS_PER_S
    reporting = sum(1 for row in fixes.values() if now - row.time_ns <= bus_stale_ns)
    last_seen: dict[str, int] = {}
    for device in ctx.store.catalog().devices:
        last_seen[device.device] = max(last_seen.get(device.device, 0), device.last_seen_ns)
    registered = ctx.registry.as_dict()
    charging_today = charger_energy_wh(ctx.store, {}, day_start, now + 1, None)
    return Overview(
        time=utc(now),
        day_start=utc(day_start),
        buildings=BuildingsNow(
            buildings=len(known_values(ctx, ("building_energy",), "building")),
            meters=len(
                {m.tags.get("device") for m in meters}
                | {d for d, tags in registered.items() if "building" in tags}
            ),
            meters_reporting=len({m.tags.get("device") for m in fresh}),
            power_w=sum(float(m.fields.get("power_w", 0.0)) for m in fresh),  # type: ignore[arg-type]
            energy_today_kwh=sum(consumption_wh(ctx.store, {}, day_start, now + 1, None).values())
            / 1000,
        ),
        chargers=ChargersNow(
            charge_points=len({row.device for row in connectors}),
            connectors=len(connectors),
            by_status=dict(sorted(by_status.items())),
            charging=by_status.get("Charging", 0),
            faulted=by_status.get("Faulted", 0),
            energy_today_kwh=sum(sum(w.values()) for w in charging_today.values()) / 1000,
        ),
        buses=BusesNow(
            vehicles=len(fixes),
            reporting=reporting,
            stale=len(fixes) - reporting,
            routes=len({row.tags["route"] for row in fixes.values() if row.tags.get("route")}),
        ),
        devices=DevicesNow(
            registered=len(registered),
            seen=len(last_seen),
            stale=sum(
                1
                for device in set(registered) | set(last_seen)
                if device not in last_seen or now - last_seen[device] > device_stale_ns
            ),
        ),
    )
