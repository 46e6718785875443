"""Where a bus is: timetabled trips, trapezoidal speed profiles between stops, dwell times.

Each bus runs trips back and forth along its route from :data:`SERVICE_START_S` to
:data:`SERVICE_END_S` (local standard time), one trip per timetable slot; a slot is long
enough for the slowest possible trip plus a layover at the terminal, so trips never overlap.
Between stops the bus accelerates at :data:`ACCEL_MPS2`, cruises, and brakes at
:data:`DECEL_MPS2`; the cruise speed of each segment and the dwell at each stop are drawn
from the seed. The odometer counts every trip plus a depot run each day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

from simulators.seeding import rng
from simulators.simtime import HOUR_S, CityTime
from simulators.transit.network import Route, Stop

__all__ = ["Bus", "BusState", "Trip", "bus_state"]

SERVICE_START_S, SERVICE_END_S = 5 * HOUR_S, 23 * HOUR_S
ACCEL_MPS2, DECEL_MPS2 = 1.0, 1.2
CRUISE_MPS = (7.0, 13.0)  # 25..47 km/h between stops
DWELL_S = (12, 45)
LAYOVER_S = 240
DEPOT_RUN_M = 6_000.0  # to and from the depot, every day


@dataclass(frozen=True, eq=False)  # an entity: equal only to itself, cheap to hash
class Bus:
    vehicle_id: str
    route: Route
    propulsion: str  # "electric" or "diesel"
    feed: str  # GTFS-RT feed name (topic level)
    encoding: str  # GTFS-RT "feed" (FeedMessage), "entity" (FeedEntity) or "json"; or "hfp"
    city_time: CityTime
    seed: int
    offset_s: int  # first departure after service start
    first_direction: int
    capacity: int
    base_odometer_m: float
    phase_s: int
    report_s: int = 15

    @cached_property
    def slot_s(self) -> int:
        """Timetable slot: slowest trip (cruise at the minimum, longest dwells) + layover."""
        slowest_s = sum(_travel_s(length, CRUISE_MPS[0]) for length in self.route.segment_lengths_m)
        return math.ceil(slowest_s + DWELL_S[1] * len(self.route.stops) + LAYOVER_S)

    @cached_property
    def trips_per_day(self) -> int:
        return (SERVICE_END_S - SERVICE_START_S - self.offset_s) // self.slot_s

    @cached_property
    def daily_distance_m(self) -> float:
        return self.trips_per_day * self.route.length_m + DEPOT_RUN_M


@dataclass(frozen=True, slots=True)
class Leg:
    """Drive from stop ``index`` to ``index + 1`` (trip order), then dwell at the next stop."""

    depart_s: float  # since the trip's start
    length_m: float
    cruise_mps: float
    drive_s: float
    dwell_s: float


@dataclass(frozen=True, slots=True)
class Trip:
    day: int
    number: int
    direction: int
    start_s: int  # epoch seconds
    legs: tuple[Leg, ...]
    load: tuple[float, ...]  # occupancy fraction on each leg

    @property
    def end_s(self) -> float:
        last = self.legs[-1]
        return self.start_s + last.depart_s + last.drive_s


@dataclass(frozen=True, slots=True)
class BusState:
    """A bus at a moment: position (local metres), speed (m/s), bearing (degrees), odometer
    (m), the trip, the stop it is at or heading to, and its occupancy (0..1+)."""

    east_m: float
    north_m: float
    speed_mps: float
    bearing_deg: float
    odometer_m: float
    trip: Trip
    stop: Stop
    stop_sequence: int  # 1-based, along the trip
    status: str  # STOPPED_AT, INCOMING_AT, IN_TRANSIT_TO
    load: float


def _travel_s(length_m: float, cruise_mps: float) -> float:
    ramp_m = cruise_mps**2 / 2 * (1 / ACCEL_MPS2 + 1 / DECEL_MPS2)
    if length_m >= ramp_m:
        return cruise_mps / ACCEL_MPS2 + cruise_mps / DECEL_MPS2 + (length_m - ramp_m) / cruise_mps
    peak = math.sqrt(2 * length_m * ACCEL_MPS2 * DECEL_MPS2 / (ACCEL_MPS2 + DECEL_MPS2))
    return peak / ACCEL_MPS2 + peak / DECEL_MPS2


def _along(length_m: float, cruise_mps: float, elapsed_s: float) -> tuple[float, float]:
    """(distance m, speed m/s) ``elapsed_s`` into a leg with a trapezoidal speed profile."""
    ramp_m = cruise_mps**2 / 2 * (1 / ACCEL_MPS2 + 1 / DECEL_MPS2)
    peak = cruise_mps
    if length_m < ramp_m:
        peak = math.sqrt(2 * length_m * ACCEL_MPS2 * DECEL_MPS2 / (ACCEL_MPS2 + DECEL_MPS2))
    accel_s = peak / ACCEL_MPS2
    total_s = _travel_s(length_m, cruise_mps)
    brake_from_s = total_s - peak / DECEL_MPS2
    if elapsed_s <= accel_s:
        return ACCEL_MPS2 * elapsed_s**2 / 2, ACCEL_MPS2 * elapsed_s
    if elapsed_s <= brake_from_s:
        return peak**2 / (2 * ACCEL_MPS2) + peak * (elapsed_s - accel_s), peak
    left_s = max(0.0, total_s - elapsed_s)
    return length_m - DECEL_MPS2 * left_s**2 / 2, DECEL_MPS2 * left_s


@lru_cache(maxsize=4096)
def trip(bus: Bus, day: int, number: int) -> Trip:
    """Trip ``number`` (0-based) of ``bus`` on local day ``day``."""
    draw = rng(bus.seed, bus.vehicle_id, "trip", day, number)
    direction = (bus.first_direction + number) % 2
    lengths = bus.route.segment_lengths_m
    lengths = lengths if direction == 0 else lengths[::-1]
    start_s = bus.city_time.day_start_s(day) + SERVICE_START_S + bus.offset_s + number * bus.slot_s
    hour = (SERVICE_START_S + bus.offset_s + number * bus.slot_s) / HOUR_S
    rush = 1.0 if 7 <= hour < 9.5 or 16 <= hour < 18.5 else 0.0
    legs, clock_s, loads = [], float(draw.randint(*DWELL_S)), []
    load = _demand(hour) * draw.uniform(0.6, 1.2)
    for length_m in lengths:
        cruise = draw.uniform(*CRUISE_MPS) * (0.8 if rush else 1.0)
        drive_s = _travel_s(length_m, cruise)
        dwell_s = float(draw.randint(*DWELL_S)) * (1.3 if rush else 1.0)
        legs.append(Leg(clock_s, length_m, cruise, drive_s, dwell_s))
        loads.append(load)
        load = max(0.0, load + draw.uniform(-0.15, 0.15))
        clock_s += drive_s + dwell_s
    return Trip(day, number, direction, start_s, tuple(legs), tuple(loads))


def _demand(hour: float) -> float:
    """Typical occupancy (fraction of capacity) by local hour."""
    peak = math.exp(-(((hour - 8) / 1.2) ** 2)) + 0.9 * math.exp(-(((hour - 17) / 1.5) ** 2))
    return 0.12 + 0.75 * peak


def bus_state(bus: Bus, time_s: int) -> BusState | None:
    """Where ``bus`` is at ``time_s``; None outside service (at the depot, GPS off)."""
    day = bus.city_time.day_index(time_s)
    into_day_s = time_s - bus.city_time.day_start_s(day) - SERVICE_START_S - bus.offset_s
    number = into_day_s // bus.slot_s
    if into_day_s < 0 or number >= bus.trips_per_day:
        return None
    current = trip(bus, day, number)
    stops = bus.route.stops_in(current.direction)
    odometer_m = bus.base_odometer_m + day * bus.daily_distance_m + DEPOT_RUN_M / 2
    odometer_m += number * bus.route.length_m
    elapsed_s = time_s - current.start_s
    travelled_m = 0.0
    for index, leg in enumerate(current.legs):
        if elapsed_s < leg.depart_s:  # dwelling at stop ``index`` (or laying over at the first)
            return _at_stop(current, stops, index, odometer_m + travelled_m)
        if elapsed_s < leg.depart_s + leg.drive_s:
            along_m, speed = _along(leg.length_m, leg.cruise_mps, elapsed_s - leg.depart_s)
            a, b = stops[index], stops[index + 1]
            share = along_m / leg.length_m if leg.length_m else 1.0
            left_m = leg.length_m - along_m
            return BusState(
                a.east_m + share * (b.east_m - a.east_m),
                a.north_m + share * (b.north_m - a.north_m),
                speed,
                _bearing_deg(a, b),
                odometer_m + travelled_m + along_m,
                current,
                b,
                index + 2,
                "INCOMING_AT" if left_m < 100 else "IN_TRANSIT_TO",
                current.load[index],
            )
        travelled_m += leg.length_m
    return _at_stop(current, stops, len(stops) - 1, odometer_m + travelled_m)


def _at_stop(current: Trip, stops: tuple[Stop, ...], index: int, odometer_m: float) -> BusState:
    """Standing at stop ``index`` of the trip (the first one also during the layover)."""
    stop = stops[index]
    heading_to = stops[index + 1] if index + 1 < len(stops) else None
    bearing = _bearing_deg(stop, heading_to) if heading_to else _bearing_deg(stops[-2], stop)
    load = current.load[min(index, len(current.load) - 1)]
    return BusState(
        stop.east_m,
        stop.north_m,
        0.0,
        bearing,
        odometer_m,
        current,
        stop,
        index + 1,
        "STOPPED_AT",
        load,
    )


def _bearing_deg(a: Stop, b: Stop) -> float:
    """Compass bearing (degrees clockwise from north) from ``a`` to ``b``."""
    return math.degrees(math.atan2(b.east_m - a.east_m, b.north_m - a.north_m)) % 360
