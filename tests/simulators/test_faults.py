"""Injected faults: each bad message is refused by the hub's adapter with the reason the
simulator reports; each awkward valid one (duplicate, late, burst) is still ingested."""

from __future__ import annotations

from collections import Counter

import pytest

from hub.errors import Rejected
from simulators.faults import FAULT_KINDS, PAYLOAD_FAULTS, FaultPlan
from simulators.scenario import City
from simulators.truth import SimMessage
from tests.simulators.conftest import MONDAY_NS, NS, Hub, assert_reproduces


@pytest.fixture(scope="module")
def faulty(city: City) -> list[SimMessage]:
    start = MONDAY_NS + 6 * 3600 * NS
    return list(city.messages(start, start + 3 * 3600 * NS, faults=FaultPlan(0.1, FAULT_KINDS)))


def test_every_kind_is_injected_and_reported(faulty: list[SimMessage]) -> None:
    kinds = Counter(m.fault.kind for m in faulty if m.fault)
    assert set(kinds) == set(FAULT_KINDS)
    share = sum(kinds.values()) / len(faulty)
    assert 0.05 < share < 0.35  # bursts mark every message they hold


def test_bad_messages_are_rejected_with_the_reported_reason(
    hub: Hub, faulty: list[SimMessage]
) -> None:
    checked: Counter[str] = Counter()
    for message in faulty:
        if message.fault is None or message.fault.reason is None:
            continue
        assert message.truth == []
        with pytest.raises(Rejected) as rejected:
            hub.parse(message)
        assert rejected.value.reason == message.fault.reason, (message.fault, message.payload[:200])
        checked[message.fault.kind] += 1
    assert set(checked) == set(PAYLOAD_FAULTS)


def test_valid_faults_are_ingested_as_the_truth_says(hub: Hub, faulty: list[SimMessage]) -> None:
    valid = [m for m in faulty if m.fault and m.fault.reason is None]
    assert valid
    for message in valid:
        assert message.truth
        assert_reproduces(hub, message)


def test_duplicates_repeat_the_message_and_delays_keep_send_order(faulty: list[SimMessage]) -> None:
    sent = [m.send_ns for m in faulty]
    assert sent == sorted(sent)
    for index, message in enumerate(faulty):
        if message.fault and message.fault.kind == "duplicate":
            original = faulty[index - 1]
            assert (original.topic, original.payload) == (message.topic, message.payload)
        if message.fault and message.fault.kind in ("out_of_order", "late"):
            assert message.send_ns > max(e.time_ns for e in message.truth) + 59 * NS


def test_without_faults_nothing_is_marked(day_of_messages: list[SimMessage]) -> None:
    assert all(m.fault is None and m.truth for m in day_of_messages)


def test_every_message_of_the_clean_stream_survives_with_faults_on(city: City) -> None:
    start = MONDAY_NS + 8 * 3600 * NS
    clean = list(city.messages(start, start + 1800 * NS))
    faulty = list(
        city.messages(
            start, start + 1800 * NS, faults=FaultPlan(0.05, ("late", "burst", "out_of_order"))
        )
    )
    assert Counter((m.topic, m.payload) for m in clean) == Counter(
        (m.topic, m.payload) for m in faulty
    )


@pytest.mark.parametrize(
    ("text", "plan"),
    [
        ("", FaultPlan()),
        ("0", FaultPlan(0.0, FAULT_KINDS)),
        ("0.01", FaultPlan(0.01, FAULT_KINDS)),
        ("nan,late", FaultPlan(0.01, ("nan", "late"))),
        ("0.2, duplicate", FaultPlan(0.2, ("duplicate",))),
    ],
)
def test_fault_plan_parses_probability_and_kinds(text: str, plan: FaultPlan) -> None:
    assert FaultPlan.parse(text) == plan


@pytest.mark.parametrize("text", ["teleport", "1.5", "nan,teleport"])
def test_fault_plan_refuses_what_it_does_not_know(text: str) -> None:
    with pytest.raises(ValueError):
        FaultPlan.parse(text)
