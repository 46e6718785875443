"""The operator answers' domain logic without HTTP: session pairing, status runs and
utilization, charger energy per station, carbon arithmetic, raw events through ``aggregate``,
and the registry's persistence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.devices import DeviceRegistry
from hub.errors import Rejected
from hub.insights.carbon import CarbonFactors, DayActivity, carbon_day
from hub.insights.energy import charger_energy_wh
from hub.insights.events import Event, TooMuchData, read_events
from hub.insights.sessions import pair_sessions
from hub.insights.status import status_runs, utilization, with_charging_states
from hub.points import Point
from hub.stores.duckdb import DuckDBStore

S = 1_000_000_000
T0 = 1_715_644_800 * S  # 2024-05-14T00:00:00Z


def session_event(time_s: int, connector: str, **fields: object) -> Event:
    tags = {"device": "cp-1", "site": "s-1", "connector": connector}
    return Event(tags, T0 + time_s * S, dict(fields))  # type: ignore[arg-type]


def test_a_stop_goes_to_the_start_whose_meter_it_can_follow() -> None:
    start1 = T0 // S + 100
    start2 = T0 // S + 200
    events = [
        session_event(100, "1", session_id=f"cp-1-1-{start1}", event="started", meter_wh=90000.0),
        session_event(200, "2", session_id=f"cp-1-2-{start2}", event="started", meter_wh=1000.0),
        # no idTag; first-in-first-out would take connector 1's, whose meter is above 5000
        session_event(300, "", session_id="7", event="ended", meter_wh=5000.0),
    ]
    [first, second] = pair_sessions(events)
    assert (first.connector, first.transaction_id, first.end_ns) == ("1", None, None)
    assert (second.connector, second.transaction_id, second.energy_kwh) == ("2", "7", 4.0)
    assert second.duration_s == 100.0


def test_ocpp201_sessions_group_by_transaction_id_and_lone_stops_stay() -> None:
    events = [
        session_event(0, "1", session_id="tx-a", event="started", meter_wh=38000.0),
        session_event(60, "", session_id="tx-a", event="updated", meter_wh=40000.0),
        session_event(120, "", session_id="tx-a", event="ended", meter_wh=46750.0,
                      stop_reason="EVDisconnected"),
        session_event(130, "", session_id="4711", event="ended", meter_wh=100.0),
    ]  # fmt: skip
    [whole, lone] = pair_sessions(events)
    assert (whole.session_id, whole.transaction_id, whole.connector) == ("tx-a", "tx-a", "1")
    assert (whole.energy_kwh, whole.duration_s, whole.stop_reason) == (
        8.75,
        120.0,
        "EVDisconnected",
    )
    assert (lone.start_ns, lone.transaction_id, lone.energy_kwh) == (None, "4711", None)
    assert lone.overlaps(T0, T0 + 200 * S) and not lone.overlaps(T0 + 200 * S, T0 + 300 * S)


def test_a_meter_replaced_during_a_session_counts_from_zero() -> None:
    events = [
        session_event(0, "1", session_id=f"cp-1-1-{T0 // S}", event="started", meter_wh=9000.0),
        session_event(60, "", session_id="8", event="ended", meter_wh=500.0),
    ]
    assert pair_sessions(events)[0].energy_kwh == 0.5


def status_event(time_s: int, status: str) -> Event:
    return Event({"device": "cp-1", "connector": "1"}, T0 + time_s * S, {"status": status})


def test_runs_merge_repeated_reports_and_utilization_splits_windows() -> None:
    runs = status_runs(
        [
            status_event(600, "Available"),
            status_event(1200, "Available"),  # re-sent: same run
            status_event(3000, "Charging"),
            status_event(4500, "SuspendedEV"),
            status_event(5400, "Available"),
        ]
    )
    assert [(r.status, r.start_ns, r.end_ns) for r in runs] == [
        ("Available", T0 + 600 * S, T0 + 3000 * S),
        ("Charging", T0 + 3000 * S, T0 + 4500 * S),
        ("SuspendedEV", T0 + 4500 * S, T0 + 5400 * S),
        ("Available", T0 + 5400 * S, None),
    ]
    windows = utilization([runs], T0, T0 + 7200 * S, 3600 * S)
    assert [(w.observed_s, w.charging_s, w.occupied_s, w.connectors) for w in windows] == [
        (3000.0, 600.0, 600.0, 1),  # known from 00:10; charging 00:50-01:00
        (3600.0, 900.0, 1800.0, 1),  # charging to 01:15, suspended to 01:30
    ]
    assert windows[1].charging_share == 0.25 and windows[1].occupied_share == 0.5


def test_ocpp201_charging_states_make_occupied_time_charging() -> None:
    """A 2.0.1 connector is Occupied from 00:10 to 01:40; its transaction says it charged
    00:20-01:00 (EVConnected, then Charging, then SuspendedEV): the Updated events name no
    EVSE and are matched through their session id."""
    status = [
        status_event(600, "Occupied"),
        status_event(6000, "Available"),
    ]
    sessions = [
        session_event(600, "1", session_id="tx-1", event="started", charging_state="EVConnected"),
        Event({"device": "cp-1", "site": "s-1"}, T0 + 1200 * S,
              {"session_id": "tx-1", "event": "updated", "charging_state": "Charging"}),
        Event({"device": "cp-1", "site": "s-1"}, T0 + 3600 * S,
              {"session_id": "tx-1", "event": "updated", "charging_state": "SuspendedEV"}),
        Event({"device": "cp-1", "site": "s-1"}, T0 + 6000 * S,
              {"session_id": "tx-1", "event": "ended", "charging_state": "Idle"}),
        Event({"device": "cp-1", "site": "s-1"}, T0 + 1200 * S,  # another station's session
              {"session_id": "tx-9", "event": "updated", "charging_state": "Charging"}),
    ]  # fmt: skip
    runs = status_runs(with_charging_states(status, sessions))
    assert [(r.status, (r.start_ns - T0) // S) for r in runs] == [
        ("Occupied", 600),
        ("Charging", 1200),
        ("SuspendedEV", 3600),
        ("Available", 6000),
    ]
    [window] = utilization([runs], T0, T0 + 7200 * S, 7200 * S)
    assert (window.charging_s, window.occupied_s) == (2400.0, 5400.0)


def test_carbon_arithmetic() -> None:
    day = DayActivity(T0, 100.0, 20.0, {"electric": 30.0, "diesel": 10.0, "unknown": 5.0})
    numbers = carbon_day(day, CarbonFactors(250.0, 1300.0, 1.2))
    assert numbers["electricity_co2_kg"] == pytest.approx(120 * 0.25)
    assert numbers["bus_co2_kg"] == pytest.approx(30 * 1.2 * 0.25 + 15 * 1.3)
    assert numbers["electric_share"] == pytest.approx(0.75)
    assert numbers["unknown_propulsion_bus_km"] == 5.0
    assert carbon_day(DayActivity(T0), CarbonFactors(250.0, 1300.0, 1.2))["electric_share"] is None


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    return DuckDBStore(tmp_path / "insights.duckdb")


def meter_point(device: str, connector: str | None, time_s: int, wh: float) -> Point:
    tags = {"device": device, "site": "s-9"} | ({"connector": connector} if connector else {})
    return Point("charger_meter", tags, {"energy_import_wh": wh}, T0 + time_s * S)


def test_a_station_with_only_a_main_meter_counts_it_and_others_their_connectors(
    store: DuckDBStore,
) -> None:
    store.write(
        [
            meter_point("cp-main", "0", 0, 1000.0), meter_point("cp-main", "0", 60, 3000.0),
            meter_point("cp-two", "0", 0, 0.0), meter_point("cp-two", "0", 60, 900.0),
            meter_point("cp-two", "1", 0, 0.0), meter_point("cp-two", "1", 60, 400.0),
            meter_point("cp-two", "2", 0, 0.0), meter_point("cp-two", "2", 60, 500.0),
            meter_point("cp-two", None, 0, 0.0), meter_point("cp-two", None, 60, 400.0),
        ]
    )  # fmt: skip
    assert charger_energy_wh(store, {}, T0, T0 + 3600 * S, None) == {"s-9": {T0: 2000.0 + 900.0}}


def test_events_are_read_as_exact_points_and_limited(store: DuckDBStore) -> None:
    store.write(
        [
            Point("charger_status", {"device": "cp-1", "connector": "1"}, {"status": s}, T0 + t)
            for t, s in [(0, "Available"), (S // 2, "Charging"), (S // 2 + 1, "Faulted")]
        ]
        + [Point("charger_status", {"device": "cp-1", "connector": "1"}, {"info": "x"}, T0 + 9 * S)]
    )
    events = read_events(
        store,
        "charger_status",
        ("status", "info"),
        start_ns=T0,
        end_ns=T0 + 60 * S,
        group_by=("device", "connector", "site"),
        max_points=4,
    )
    assert [(e.time_ns - T0, e.fields) for e in events] == [
        (0, {"status": "Available"}),
        (S // 2, {"status": "Charging"}),  # three events in one second, at their exact times
        (S // 2 + 1, {"status": "Faulted"}),
    ]  # the event without the first field (status) is not one, but it was read
    assert events[0].tags == {"device": "cp-1", "connector": "1", "site": ""}
    with pytest.raises(
        TooMuchData,
        match="more than the limit of 3 charger_status points in the range: shorten the range",
    ):
        read_events(
            store, "charger_status", ("status", "info"), start_ns=T0, end_ns=T0 + 60 * S,
            group_by=("device",), max_points=3,
        )  # fmt: skip
    assert len(read_events(
        store, "charger_status", ("status",), start_ns=T0, end_ns=T0 + 60 * S,
        group_by=("device",), max_points=3,
    )) == 3  # fmt: skip


def test_registry_changes_are_written_atomically_and_survive_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"devices": {"m-1": {"building": "b-1"}}}))
    registry = DeviceRegistry.from_file(path)
    assert registry.put("m-2", {"building": "b-2"}) is True
    assert registry.put("m-2", {"building": "b-3"}) is False
    assert registry.remove("m-1") is True and registry.remove("m-1") is False
    assert DeviceRegistry.from_file(path).as_dict() == {"m-2": {"building": "b-3"}}
    # no temporary file left behind; the writers' lock file stays (see hub.devices)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.json", "registry.json.lock"]
    with pytest.raises(Rejected):
        registry.put("m 3", {})
    registry.path = tmp_path / "gone" / "registry.json"  # a folder that does not exist
    with pytest.raises(OSError):
        registry.put("m-4", {"building": "b-4"})
    assert "m-4" not in registry  # nothing changed when the file could not be written
    assert DeviceRegistry({"m-5": {}}).put("m-6", {}) is True  # no file: memory only


def test_a_start_that_knows_its_transaction_id_takes_the_stop_of_that_id() -> None:
    """The gateway's CALLRESULT gave the second start id 8: the guessing rules (idTag, meter,
    first in) would have given the stop to the first start."""
    start1 = T0 // S + 100
    start2 = T0 // S + 200
    events = [
        session_event(100, "1", session_id=f"cp-1-1-{start1}", event="started", meter_wh=100.0,
                      transaction_id="7"),
        session_event(200, "2", session_id=f"cp-1-2-{start2}", event="started", meter_wh=200.0,
                      transaction_id="8"),
        session_event(300, "", session_id="8", event="ended", meter_wh=5200.0),
    ]  # fmt: skip
    [first, second] = pair_sessions(events)
    assert (first.connector, first.transaction_id, first.end_ns) == ("1", "7", None)
    assert (second.connector, second.transaction_id, second.energy_kwh) == ("2", "8", 5.0)
