"""The same seed gives the same city and the same bytes; another seed another city."""

from __future__ import annotations

from hypothesis import given, settings

from simulators.scenario import City
from tests.simulators.conftest import MONDAY_NS, NS
from tests.simulators.strategies import moments_ns, seeds


def _window(city: City, start_ns: int) -> list[tuple[str, bytes, int]]:
    return [(m.topic, m.payload, m.send_ns) for m in city.messages(start_ns, start_ns + 600 * NS)]


@settings(max_examples=10, deadline=None)
@given(seed=seeds, start_ns=moments_ns)
def test_same_seed_same_messages(seed: int, start_ns: int) -> None:
    first = City.build(seed, buildings=4, charge_points=2, buses=2)
    second = City.build(seed, buildings=4, charge_points=2, buses=2)
    assert first.registry() == second.registry()
    assert _window(first, start_ns) == _window(second, start_ns)


def test_other_seed_other_city() -> None:
    assert City.build(1).registry() != City.build(2).registry()
    noon = MONDAY_NS + 12 * 3600 * NS
    assert _window(City.build(1), noon) != _window(City.build(2), noon)


def test_a_window_is_the_union_of_its_halves(city: City) -> None:
    start = MONDAY_NS + 8 * 3600 * NS
    whole = list(city.messages(start, start + 1200 * NS))
    halves = [
        *city.messages(start, start + 600 * NS),
        *city.messages(start + 600 * NS, start + 1200 * NS),
    ]
    assert sorted((m.send_ns, m.topic, m.payload) for m in whole) == sorted(
        (m.send_ns, m.topic, m.payload) for m in halves
    )


def test_messages_are_in_send_order_and_in_the_window(city: City) -> None:
    start = MONDAY_NS + 7 * 3600 * NS
    sent = [m.send_ns for m in city.messages(start, start + 900 * NS)]
    assert sent == sorted(sent)
    assert sent and start <= sent[0] and sent[-1] < start + 900 * NS
