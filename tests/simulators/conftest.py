"""Shared fixtures: a small city, and the hub's real adapters wired as the hub wires them
(entry points + topic routing), with a clock the test sets to each message's send time."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from hub.contracts import Adapter, AdapterEnv
from hub.devices import DeviceRegistry
from hub.plugins import load_adapters
from hub.points import Point
from hub.timestamps import Clock, TimePolicy
from hub.topics import TopicRouter
from simulators.scenario import City
from simulators.truth import Expected, SimMessage

NS = 1_000_000_000
MONDAY_NS = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp()) * NS  # a Monday, 00:00 UTC


class SettableClock(Clock):
    """The hub's clock, set by the test to the moment a message is received."""

    def __init__(self) -> None:
        self.now = 0

    def now_ns(self) -> int:
        return self.now


class Hub:
    """The hub's parsing stage: route a topic to its adapter and parse at the send time."""

    def __init__(self, city: City, zone: str = "UTC") -> None:
        from zoneinfo import ZoneInfo

        self.clock = SettableClock()
        registry = DeviceRegistry(city.registry()["devices"])
        self.env = AdapterEnv(TimePolicy(zone=ZoneInfo(zone), clock=self.clock), registry)
        self.adapters = load_adapters(None, {}, self.env)
        self.router: TopicRouter[Adapter] = TopicRouter((a.topics, a) for a in self.adapters)

    def adapter_for(self, message: SimMessage) -> Adapter:
        adapter = self.router.route(message.topic)
        assert adapter is not None, f"no adapter routes {message.topic}"
        return adapter

    def parse(self, message: SimMessage) -> list[Point]:
        self.clock.now = message.send_ns
        return self.adapter_for(message).parse(message.topic, message.payload)


def same_value(expected: object, got: object, rel_tol: float = 1e-12) -> bool:
    if isinstance(expected, float) and not isinstance(expected, bool):
        return isinstance(got, float) and math.isclose(got, expected, rel_tol=rel_tol, abs_tol=1e-9)
    return got == expected


def matching_point(expected: Expected, points: list[Point], clock_ns: int) -> Point | None:
    """The point that carries ``expected`` (same measurement, device, wire tags, time)."""
    time_ns = clock_ns if expected.clock_time else expected.time_ns
    for point in points:
        if (
            point.measurement == expected.measurement
            and point.tags.get("device") == expected.device
            and point.time_ns == time_ns
            and all(point.tags.get(k) == v for k, v in expected.tags.items())
        ):
            return point
    return None


def assert_reproduces(hub: Hub, message: SimMessage, rel_tol: float = 1e-12) -> None:
    """The adapter turns ``message`` into points holding every expected field exactly."""
    points = hub.parse(message)
    for expected in message.truth:
        point = matching_point(expected, points, message.send_ns)
        assert point is not None, (message.topic, message.payload[:300], expected, points)
        for name, value in expected.fields.items():
            got = point.fields.get(name)
            assert same_value(value, got, rel_tol), (
                message.wire,
                name,
                value,
                got,
                message.payload[:300],
            )
        assert point.tags["device"] == expected.device


@pytest.fixture(scope="session")
def city() -> City:
    return City.build(seed=42)


@pytest.fixture(scope="session")
def hub(city: City) -> Hub:
    return Hub(city)


@pytest.fixture(scope="session")
def day_of_messages(city: City) -> list[SimMessage]:
    """Six hours of a Monday (05:00 to 11:00 UTC): every family, sessions, buses in service."""
    return list(city.messages(MONDAY_NS + 5 * 3600 * NS, MONDAY_NS + 11 * 3600 * NS))
