"""The city: districts, buildings with meters, charging sites, bus routes; its messages.

Everything is drawn from the seed, so ``City.build(seed=7)`` is the same city in every run,
and ``city.messages(start, end)`` the same messages.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from random import Random

from simulators.buildings.emit import REPORT_INTERVAL_S, meter_messages
from simulators.buildings.kinds import KINDS
from simulators.buildings.loadcurve import load_curve
from simulators.buildings.meter import Building, Meter
from simulators.charging.emit import charger_messages
from simulators.charging.model import HARDWARE, ChargePoint, ConnectorSpec
from simulators.faults import FaultPlan, inject
from simulators.seeding import hex_id, rng
from simulators.simtime import CityTime, to_seconds
from simulators.transit.emit import bus_messages
from simulators.transit.hfp import hfp_vehicle_id
from simulators.transit.motion import Bus
from simulators.transit.network import Route, Stop
from simulators.truth import SimMessage

__all__ = ["DISTRICTS", "City"]

DISTRICTS = ("old-town", "harbour", "riverside", "northgate", "university", "westpark")
# Share of each kind among buildings, and of each wire format among meters.
KIND_WEIGHTS = {"office": 4, "residential": 5, "school": 2, "hospital": 1}
WIRE_WEIGHTS = {"senml": 2, "tasmota": 1, "shelly": 1}
# With mapped devices (--mapped-devices), a Shelly building in two has a Pro 3EM instead and a
# Tasmota building a Zigbee2MQTT plug: the draws stay the same, so the rest of the city does.
MAPPED_WIRES = {"shelly": "shelly-pro-3em", "tasmota": "zigbee2mqtt"}
FEEDS = {"feed": "metro", "entity": "metro-avl", "json": "regio"}  # encoding → feed name


@dataclass(frozen=True, eq=False)  # an entity: equal only to itself, cheap to hash
class City:
    """A simulated city. Build it with :meth:`build`."""

    seed: int
    city_time: CityTime
    districts: tuple[str, ...]
    buildings: tuple[Building, ...]
    meters: tuple[Meter, ...]
    charge_points: tuple[ChargePoint, ...]
    routes: tuple[Route, ...]
    buses: tuple[Bus, ...]

    @classmethod
    def build(
        cls,
        seed: int = 42,
        buildings: int = 20,
        charge_points: int = 6,
        buses: int = 8,
        *,
        timezone: str = "UTC",
        bus_format: str = "gtfsrt",
        mapped_devices: bool = False,
    ) -> City:
        """A city of ``buildings`` metered buildings, ``charge_points`` charging stations
        and ``buses`` buses, drawn from ``seed``. ``timezone`` (IANA) is where the city is:
        load curves follow its local time and Tasmota prints it (the hub's
        ``CITYHUB_INGEST__TIMEZONE`` must be the same). ``bus_format`` ``hfp`` has the buses
        publish HFP instead of GTFS-RT; ``mapped_devices`` puts meters in the city that the
        hub reads through its shipped mappings (Zigbee2MQTT plugs, Shelly Pro 3EM)."""
        if bus_format not in ("gtfsrt", "hfp"):
            raise ValueError(f"bus format {bus_format!r} is not gtfsrt or hfp")
        city_time = CityTime(timezone)
        draw = rng(seed, "city")
        districts = DISTRICTS[: max(2, min(len(DISTRICTS), 2 + buildings // 8))]
        building_list = [_building(draw, i, districts) for i in range(buildings)]
        meters = [_meter(draw, seed, b, city_time, mapped_devices) for b in building_list]
        cps = [_charge_point(draw, seed, i, districts, city_time) for i in range(charge_points)]
        routes = [_route(draw, i) for i in range(max(1, math.ceil(buses / 3)))]
        bus_list = [_bus(draw, seed, i, routes, city_time, bus_format) for i in range(buses)]
        return cls(
            seed,
            city_time,
            districts,
            tuple(building_list),
            tuple(meters),
            tuple(cps),
            tuple(routes),
            tuple(bus_list),
        )

    def registry(self) -> dict[str, dict[str, dict[str, str]]]:
        """The device registry document the hub reads: ``{"devices": {id: tags}}``."""
        devices: dict[str, dict[str, str]] = {}
        for meter in self.meters:
            building = meter.building
            devices[meter.meter_id] = {
                "building": building.building_id,
                "district": building.district,
                "kind": building.kind,
            }
        for cp in self.charge_points:
            devices[cp.cp_id] = {"site": cp.site, "district": cp.district}
        for bus in self.buses:
            devices[bus.vehicle_id] = {"propulsion": bus.propulsion}
        return {"devices": devices}

    def device_ids(self) -> set[str]:
        return set(self.registry()["devices"])

    def nominal_rate_per_s(self) -> float:
        """About how many messages the city sends per simulated second."""
        meters = sum(1 / (m.interval_s * (5 if "batch5" in m.style else 1)) for m in self.meters)
        chargers = sum(1 / cp.heartbeat_s + len(cp.connectors) / 300 for cp in self.charge_points)
        buses = sum(18 / 24 / bus.report_s for bus in self.buses)  # in service 18 h a day
        return meters + chargers + buses

    def messages(
        self,
        start: datetime | int,
        end: datetime | int | None = None,
        *,
        faults: FaultPlan | None = None,
    ) -> Iterator[SimMessage]:
        """Every message sent in ``[start, end)`` in send order (``end`` None: forever).
        ``start``/``end`` are aware datetimes or UTC epoch nanoseconds. With ``faults``, the
        plan's faults are injected (and reported on the messages)."""
        start_s = to_seconds(start)
        end_s = None if end is None else to_seconds(end)
        streams = [
            *(meter_messages(m, start_s, end_s) for m in self.meters),
            *(charger_messages(cp, start_s, end_s) for cp in self.charge_points),
            *(bus_messages(b, start_s, end_s) for b in self.buses),
        ]
        merged = heapq.merge(*streams, key=lambda message: message.send_ns)
        if faults is None or not faults.active:
            return merged
        return inject(merged, faults, self.seed)


def _weighted(draw: Random, weights: dict[str, int]) -> str:
    return draw.choices(list(weights), weights=list(weights.values()))[0]


def _building(draw: Random, index: int, districts: tuple[str, ...]) -> Building:
    kind = _weighted(draw, KIND_WEIGHTS)
    low, high = KINDS[kind].area_m2
    return Building(
        building_id=f"b-{index + 1:03d}",
        kind=kind,
        district=districts[index % len(districts)],
        area_m2=round(draw.uniform(low, high), -1),
        efficiency=round(draw.uniform(0.8, 1.25), 3),
    )


def _meter(
    draw: Random, seed: int, building: Building, city_time: CityTime, mapped: bool = False
) -> Meter:
    wire = _weighted(draw, WIRE_WEIGHTS)
    number = building.building_id.removeprefix("b-")
    serial = hex_id(seed, building.building_id, "serial", length=6).upper()
    if mapped and wire in MAPPED_WIRES and int(number) % 2 == 0:
        wire = MAPPED_WIRES[wire]
    meter_id = {
        "senml": f"meter-{number}",
        "tasmota": f"tasmota_{serial}",
        "shelly": f"shellypro1pm-{serial.lower()}{number}",
        "zigbee2mqtt": f"plug_{serial.lower()}",
        "shelly-pro-3em": f"shellypro3em-{serial.lower()}{number}",
    }[wire]
    style = ""
    if wire == "senml":
        style = " ".join(
            (draw.choice(("Wh", "Wh", "kWh")), draw.choice(("batch1", "batch1", "batch5")))
        )
    interval_s = REPORT_INTERVAL_S[wire]
    return Meter(
        meter_id=meter_id,
        wire=wire,
        building=building,
        curve=load_curve(KINDS[building.kind], city_time.standard_offset_s),
        city_time=city_time,
        seed=seed,
        interval_s=interval_s,
        # the phase is drawn as for the format drawn, so the draws after it stay the same
        phase_s=0
        if _drawn(wire) == "shelly"
        else draw.randrange(REPORT_INTERVAL_S[_drawn(wire)]) % interval_s,
        initial_wh=round(draw.uniform(1e6, 5e8), 1),
        style=style,
    )


def _charge_point(
    draw: Random, seed: int, index: int, districts: tuple[str, ...], city_time: CityTime
) -> ChargePoint:
    district = districts[index % len(districts)]
    hardware = draw.choice(HARDWARE)
    connectors = tuple(
        ConnectorSpec(n, hardware.current, hardware.max_power_w, round(draw.uniform(1e5, 5e7)))
        for n in range(1, hardware.connectors + 1)
    )
    return ChargePoint(
        cp_id=f"CP-{district[:4].upper()}-{index + 1:03d}",
        site=f"site-{district}-{index // 3 + 1}",
        district=district,
        ocpp=draw.choice(("1.6", "2.0.1")),
        hardware=hardware,
        firmware=f"{draw.randint(1, 5)}.{draw.randint(0, 9)}.{draw.randint(0, 30)}",
        serial=hex_id(seed, "cp", index, length=10).upper(),
        connectors=connectors,
        city_time=city_time,
        seed=seed,
        busyness=round(draw.uniform(0.6, 1.5), 2),
        phase_s=draw.randrange(60),
        power_unit=draw.choice(("W", "kW")),
        energy_unit=draw.choice(("Wh", "Wh", "kWh")),
        clock=draw.choice(("Z", "ms", "offset")),
        omit_defaults=draw.random() < 0.3,
    )


def _route(draw: Random, index: int) -> Route:
    angle = draw.uniform(0, 2 * math.pi)
    east, north = draw.uniform(-3000, 3000), draw.uniform(-3000, 3000)
    route_id = str([12, 47, 100, 142, 200, 241, 300, 347][index % 8] + 1000 * (index // 8))
    stops = []
    for number in range(draw.randint(10, 18)):
        stops.append(Stop(f"{route_id}-{number + 1:02d}", round(east, 1), round(north, 1)))
        angle += draw.uniform(-0.45, 0.45)
        step_m = draw.uniform(300, 650)
        east, north = east + step_m * math.sin(angle), north + step_m * math.cos(angle)
    return Route(route_id, tuple(stops))


def _drawn(wire: str) -> str:
    """The wire format a mapped device replaced (the draws follow it)."""
    return next((drawn for drawn, mapped in MAPPED_WIRES.items() if mapped == wire), wire)


def _bus(
    draw: Random,
    seed: int,
    index: int,
    routes: list[Route],
    city_time: CityTime,
    bus_format: str = "gtfsrt",
) -> Bus:
    route = routes[index % len(routes)]
    encoding = draw.choice(tuple(FEEDS))
    hfp = bus_format == "hfp"
    return Bus(
        vehicle_id=hfp_vehicle_id(index) if hfp else f"bus-{1001 + index}",
        route=route,
        propulsion=draw.choice(("electric", "electric", "diesel")),
        feed="hfp" if hfp else FEEDS[encoding],
        encoding="hfp" if hfp else encoding,
        city_time=city_time,
        seed=seed,
        offset_s=draw.randrange(0, 1800, 30),
        first_direction=index % 2,
        capacity=draw.choice((70, 90, 110)),
        base_odometer_m=round(draw.uniform(0, 2e8), 1),
        phase_s=draw.randrange(15),
    )
