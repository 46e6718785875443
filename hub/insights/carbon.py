"""The carbon estimate's arithmetic: electricity times grid intensity, bus-km times factors.

Per day: building and charging kWh times the grid intensity (gCO2/kWh); electric bus-km times
the electric bus's consumption (kWh/km) times the grid intensity; diesel bus-km times the
diesel bus's factor (gCO2/km). Bus-km of unknown propulsion are counted as diesel, so the
estimate errs high rather than low. The electric share is of the bus-km whose propulsion is
known. Depot charging of electric buses that also shows up in the chargers' energy is counted
twice; the estimate cannot tell those chargers apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import ClassVar

from pydantic import BaseModel

from hub.insights.buses import bus_km
from hub.insights.context import DAY_NS, Context, utc
from hub.insights.energy import charger_energy_wh, consumption_wh
from hub.precision import Kg, Km, Kwh, Share

__all__ = ["Carbon", "CarbonFactors", "DayActivity", "carbon_day", "carbon_days"]


@dataclass(frozen=True)
class CarbonFactors:
    grid_g_per_kwh: float
    diesel_bus_g_per_km: float
    electric_bus_kwh_per_km: float


@dataclass
class DayActivity:
    day_ns: int
    building_kwh: float = 0.0
    charging_kwh: float = 0.0
    bus_km: dict[str, float] = field(default_factory=dict)  # propulsion -> km ("unknown")


def carbon_day(activity: DayActivity, factors: CarbonFactors) -> dict[str, float | None]:
    """The day's numbers: kWh, km, kg CO2 and the electric share (0..1) of known bus-km."""
    electric_km = activity.bus_km.get("electric", 0.0)
    diesel_km = activity.bus_km.get("diesel", 0.0)
    other_km = sum(km for kind, km in activity.bus_km.items() if kind not in ("electric",))
    known_km = electric_km + diesel_km
    electricity_kwh = activity.building_kwh + activity.charging_kwh
    electricity_kg = electricity_kwh * factors.grid_g_per_kwh / 1000
    electric_bus_kg = electric_km * factors.electric_bus_kwh_per_km * factors.grid_g_per_kwh / 1000
    diesel_bus_kg = other_km * factors.diesel_bus_g_per_km / 1000
    return {
        "building_kwh": activity.building_kwh,
        "charging_kwh": activity.charging_kwh,
        "electricity_kwh": electricity_kwh,
        "electricity_co2_kg": electricity_kg,
        "bus_km": sum(activity.bus_km.values()),
        "electric_bus_km": electric_km,
        "diesel_bus_km": diesel_km,
        "unknown_propulsion_bus_km": other_km - diesel_km,
        "electric_share": electric_km / known_km if known_km else None,
        "bus_co2_kg": electric_bus_kg + diesel_bus_kg,
        "total_co2_kg": electricity_kg + electric_bus_kg + diesel_bus_kg,
    }


# -- the per-day answer ----------------------------------------------------------------------


class CarbonDay(BaseModel):
    day: date
    building_kwh: Kwh
    charging_kwh: Kwh
    electricity_kwh: Kwh
    electricity_co2_kg: Kg
    bus_km: Km
    electric_bus_km: Km
    diesel_bus_km: Km
    unknown_propulsion_bus_km: Km
    electric_share: Share | None
    bus_co2_kg: Kg
    total_co2_kg: Kg


class FactorsUsed(BaseModel):
    grid_g_per_kwh: float
    diesel_bus_g_per_km: float
    electric_bus_kwh_per_km: float


class Carbon(BaseModel):
    rows_field: ClassVar[str] = "days"
    start: datetime
    end: datetime
    factors: FactorsUsed
    days: list[CarbonDay]


def carbon_days(ctx: Context, factors: CarbonFactors, start_ns: int, end_ns: int) -> Carbon:
    """Per UTC day: building and charging kWh, bus-km by propulsion, and their CO2."""
    days: dict[int, DayActivity] = {}

    def day(time_ns: int) -> DayActivity:
        return days.setdefault(time_ns, DayActivity(time_ns))

    for time_ns, wh in consumption_wh(ctx.store, {}, start_ns, end_ns, DAY_NS).items():
        day(time_ns).building_kwh += wh / 1000
    for per_window in charger_energy_wh(ctx.store, {}, start_ns, end_ns, DAY_NS).values():
        for time_ns, wh in per_window.items():
            day(time_ns).charging_kwh += wh / 1000
    for time_ns, kinds in bus_km(
        ctx.store, start_ns, end_ns, DAY_NS, ctx.max_points, ctx.rollups
    ).items():
        for kind, km in kinds.items():
            activity = day(time_ns)
            activity.bus_km[kind] = activity.bus_km.get(kind, 0.0) + km
    return Carbon(
        start=utc(start_ns),
        end=utc(end_ns),
        factors=FactorsUsed(**vars(factors)),
        days=[
            CarbonDay(day=utc(time_ns).date(), **carbon_day(activity, factors))  # type: ignore[arg-type]
            for time_ns, activity in sorted(days.items())
        ],
    )
