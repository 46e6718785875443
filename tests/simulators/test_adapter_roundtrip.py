"""Every simulated message, run through the hub's own adapter for its topic (found through
the ``cityhub.adapters`` entry points and the hub's topic routing), gives exactly the
canonical values the simulator says it encodes."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings

from adapters.senml import SenMLAdapter
from simulators.charging.timeline import charger_events
from simulators.scenario import City
from simulators.truth import SimMessage
from tests.simulators.conftest import MONDAY_NS, NS, Hub, assert_reproduces
from tests.simulators.strategies import moments_ns, seeds, windows_ns

WIRES = {"senml", "tasmota", "shelly", "ocpp1.6", "ocpp2.0.1", "gtfsrt-protobuf", "gtfsrt-json"}


def test_every_wire_format_round_trips(hub: Hub, day_of_messages: list[SimMessage]) -> None:
    seen: Counter[str] = Counter()
    for message in day_of_messages:
        assert_reproduces(hub, message)
        seen[message.wire] += 1
    assert set(seen) == WIRES


def test_every_ocpp_action_occurs(day_of_messages: list[SimMessage]) -> None:
    import json

    actions = {
        (m.wire, json.loads(m.payload)[2]) for m in day_of_messages if m.wire.startswith("ocpp")
    }
    for wire in ("ocpp1.6", "ocpp2.0.1"):
        for action in ("Heartbeat", "StatusNotification", "MeterValues"):
            assert (wire, action) in actions
    assert {("ocpp1.6", "StartTransaction"), ("ocpp1.6", "StopTransaction")} <= actions
    assert ("ocpp2.0.1", "TransactionEvent") in actions


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=seeds, start_ns=moments_ns, window_ns=windows_ns)
def test_senml_adapter_gives_exactly_the_truth(seed: int, start_ns: int, window_ns: int) -> None:
    city = City.build(seed, buildings=6, charge_points=0, buses=0)
    hub = Hub(city)
    messages = [m for m in city.messages(start_ns, start_ns + window_ns) if m.wire == "senml"]
    for message in messages:
        assert isinstance(hub.adapter_for(message), SenMLAdapter)
        points = hub.parse(message)
        got = sorted((p.time_ns, p.tags["device"], p.fields) for p in points)
        want = sorted((e.time_ns, e.device, e.fields) for e in message.truth)
        assert got == want  # exactly: same points, same floats


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=seeds, start_ns=moments_ns, window_ns=windows_ns)
def test_all_adapters_reproduce_the_truth(seed: int, start_ns: int, window_ns: int) -> None:
    city = City.build(seed, buildings=5, charge_points=3, buses=3, timezone="Europe/Berlin")
    hub = Hub(city, zone="Europe/Berlin")
    for message in city.messages(start_ns, start_ns + window_ns):
        if message.wire == "tasmota" and _repeated_local_hour(message.send_ns // NS - 5):
            continue  # a naive local time in the hour clocks go back is ambiguous by nature
        assert_reproduces(hub, message)


def _repeated_local_hour(time_s: int) -> bool:
    zone = ZoneInfo("Europe/Berlin")
    local = datetime.fromtimestamp(time_s, tz=zone).replace(tzinfo=None)
    return (
        local.replace(fold=0, tzinfo=zone).utcoffset()
        != local.replace(fold=1, tzinfo=zone).utcoffset()
    )


def test_weekly_boot_notifications_round_trip(city: City, hub: Hub) -> None:
    week_s = MONDAY_NS // NS
    for cp in city.charge_points:
        boots = [e for e in charger_events(cp, week_s, week_s + 7 * 86400) if e.kind == "boot"]
        assert len(boots) == 1
        boot_ns = boots[0].time_s * NS
        messages = [m for m in city.messages(boot_ns, boot_ns + 2 * NS) if m.device == cp.cp_id]
        assert b'"BootNotification"' in messages[0].payload
        for message in messages:  # the boot, then each connector's status
            assert_reproduces(hub, message)
