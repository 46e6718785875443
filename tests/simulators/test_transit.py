"""Buses: realistic speeds, positions on the route, dwell at stops, monotonic odometers."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

from simulators.scenario import City
from simulators.transit.network import to_metres
from simulators.truth import SimMessage

MAX_CITY_SPEED_MPS = 16.7  # 60 km/h, above any urban bus line's limit
MAX_GPS_ERROR_M = 15.0


def _positions(messages: list[SimMessage]) -> list[SimMessage]:
    return [m for m in messages if m.wire.startswith("gtfsrt")]


def test_speeds_are_realistic(day_of_messages: list[SimMessage]) -> None:
    speeds = [e.fields["speed_mps"] for m in _positions(day_of_messages) for e in m.truth]
    assert len(speeds) > 1000
    assert all(0 <= s <= MAX_CITY_SPEED_MPS for s in speeds)
    moving = [s for s in speeds if s > 0]
    assert 5 < sum(moving) / len(moving) < 12  # typical urban bus between stops
    assert speeds.count(0.0) > 0.1 * len(speeds)  # dwell at stops and terminals


def test_positions_stay_near_the_route(city: City, day_of_messages: list[SimMessage]) -> None:
    routes = {bus.vehicle_id: bus.route for bus in city.buses}
    for message in _positions(day_of_messages):
        for expected in message.truth:
            east, north = to_metres(expected.fields["latitude"], expected.fields["longitude"])
            assert routes[expected.device].distance_to_m(east, north) < MAX_GPS_ERROR_M
            assert expected.tags["route"] == routes[expected.device].route_id


def test_stopped_buses_are_at_their_stop(day_of_messages: list[SimMessage]) -> None:
    stopped = [
        e.fields
        for m in _positions(day_of_messages)
        for e in m.truth
        if e.fields["current_status"] == "STOPPED_AT"
    ]
    assert stopped and all(fields["speed_mps"] == 0.0 for fields in stopped)


def test_odometers_only_grow(day_of_messages: list[SimMessage]) -> None:
    tracks: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for message in _positions(day_of_messages):
        for e in message.truth:
            tracks[e.device].append((e.time_ns, e.fields["odometer_m"]))
    assert tracks
    for points in tracks.values():
        odometer = [value for _, value in sorted(points)]
        assert all(a <= b for a, b in pairwise(odometer))


def test_all_encodings_and_occupancy_levels_occur(day_of_messages: list[SimMessage]) -> None:
    positions = _positions(day_of_messages)
    assert {m.topic.split("/")[1] for m in positions} == {"metro", "metro-avl", "regio"}
    occupancy = {e.fields["occupancy_status"] for m in positions for e in m.truth}
    assert {"MANY_SEATS_AVAILABLE", "FEW_SEATS_AVAILABLE"} <= occupancy
