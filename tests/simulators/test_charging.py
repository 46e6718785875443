"""Charging sessions: tapering power, registers, the OCPP lifecycle, outages."""

from __future__ import annotations

import json
from itertools import pairwise

from simulators.charging.sessions import connector_day, register_wh
from simulators.charging.timeline import charger_events
from simulators.scenario import City
from simulators.simtime import DAY_S
from tests.simulators.conftest import MONDAY_NS, NS

MONDAY_S = MONDAY_NS // NS


def _sessions(city: City, days: int = 14):  # type: ignore[no-untyped-def]
    for cp in city.charge_points:
        for connector in cp.connectors:
            for day in range(days):
                plan = connector_day(cp, connector, cp.city_time.day_index(MONDAY_S) + day)
                for session in plan.sessions:
                    yield cp, connector, session


def test_there_are_sessions_and_they_taper(city: City) -> None:
    tapered = 0
    sessions = list(_sessions(city))
    assert len(sessions) > 50
    for _, _, session in sessions:
        times = range(session.charge_start_s, session.charge_end_s, 30)
        powers = [session.power_w(t) for t in times]
        assert all(a >= b - 1e-9 for a, b in pairwise(powers))
        assert powers[0] <= session.max_power_w
        if session.soc_target > session.knee + 0.05:
            assert powers[-1] < 0.8 * powers[0]
            tapered += 1
        assert abs(session.soc_at(session.charge_end_s) - session.soc_target) < 0.01
        assert session.plug_s < session.charge_start_s < session.charge_end_s <= session.unplug_s
    assert tapered > 10


def test_register_counts_the_delivered_energy(city: City) -> None:
    for cp, connector, session in list(_sessions(city, days=3)):
        delivered = register_wh(cp, connector, session.unplug_s) - register_wh(
            cp, connector, session.plug_s
        )
        assert abs(delivered - session.total_wh) < 0.01 * session.total_wh + 1


def test_register_is_monotonic_across_days_and_plan_cycles(city: City) -> None:
    cp = city.charge_points[0]
    connector = cp.connectors[0]
    readings = [register_wh(cp, connector, MONDAY_S + h * 600) for h in range(6 * 24 * 60)]
    # a day's end and the next day's start may differ by a rounding of the float sum
    assert all(a <= b + 1e-6 for a, b in pairwise(readings))


def test_sessions_do_not_overlap_and_outages_have_no_sessions(city: City) -> None:
    for cp in city.charge_points:
        for connector in cp.connectors:
            for day in range(28):
                plan = connector_day(cp, connector, cp.city_time.day_index(MONDAY_S) + day)
                for a, b in pairwise(plan.sessions):
                    assert a.free_s < b.plug_s
                if plan.outage:
                    for session in plan.sessions:
                        assert session.free_s <= plan.outage.start_s or (
                            session.plug_s >= plan.outage.end_s
                        )


def test_lifecycle_follows_ocpp_order(city: City) -> None:
    cp = city.charge_points[0]
    states = [
        e.state
        for e in charger_events(cp, MONDAY_S, MONDAY_S + DAY_S)
        if e.kind == "state" and e.connector == cp.connectors[0] and e.session
    ]
    cycle = ["plugged", "charging", "suspended", "finishing", "available"]
    assert states and states == cycle * (len(states) // len(cycle))


def test_both_ocpp_versions_and_faults_occur() -> None:
    city = City.build(seed=5, charge_points=12)
    assert {cp.ocpp for cp in city.charge_points} == {"1.6", "2.0.1"}
    outages = [
        plan.outage
        for cp in city.charge_points
        for connector in cp.connectors
        for day in range(28)
        if (plan := connector_day(cp, connector, day)).outage
    ]
    assert outages


def test_ocpp16_mixes_kw_power_with_wh_energy_in_one_message() -> None:
    city = City.build(seed=11, charge_points=20)
    mixed = {
        cp.cp_id
        for cp in city.charge_points
        if cp.ocpp == "1.6" and (cp.power_unit, cp.energy_unit) == ("kW", "Wh")
    }
    assert mixed
    found = False
    for message in city.messages(MONDAY_NS, MONDAY_NS + DAY_S * NS):
        frame = json.loads(message.payload) if message.device in mixed else None
        if not frame or frame[2] != "MeterValues" or "transactionId" not in frame[3]:
            continue
        values = frame[3]["meterValue"][0]["sampledValue"]
        assert all(isinstance(v["value"], str) for v in values)
        units = {
            v.get("measurand", "Energy.Active.Import.Register"): v.get("unit", "Wh") for v in values
        }
        assert units["Power.Active.Import"] == "kW"
        assert units["Energy.Active.Import.Register"] == "Wh"
        found = True
        break
    assert found


def test_published_registers_never_dip(city: City) -> None:
    """Every message's register, in whatever unit and rounding it is published, is the same
    whole-Wh count: read back in time order per connector it never decreases (a rounding dip
    would look like a meter reset to the hub)."""
    last: dict[tuple[str, str], tuple[int, float]] = {}
    for message in city.messages(MONDAY_NS, MONDAY_NS + 2 * DAY_S * NS):
        for truth in message.truth:
            wh = truth.fields.get("energy_import_wh", truth.fields.get("meter_wh"))
            connector = truth.tags.get("connector")
            if not truth.measurement.startswith("charger") or wh is None or connector is None:
                continue
            key = (truth.device, connector)
            if key in last and truth.time_ns >= last[key][0]:
                assert wh >= last[key][1], (key, truth.time_ns, wh, last[key])
            if key not in last or truth.time_ns >= last[key][0]:
                last[key] = (truth.time_ns, float(wh))
    assert len(last) >= 6
