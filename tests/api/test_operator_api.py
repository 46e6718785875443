"""The operator endpoints end to end: a small city published in the devices' own formats
(SenML, OCPP-J 1.6, GTFS-Realtime JSON) over a private Mosquitto to the real hub (ingest and
API, served over HTTP by uvicorn in the test process, the API's clock pinned to the
scenario's instant, so no test races midnight), then asked over HTTP. Every expected number
is derived in :mod:`tests.api.scenario`; ``cityhub run`` as a process is tested in
:mod:`tests.ingest.test_end_to_end`."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from hub.api.examples import example_of
from hub.broker import Mosquitto
from hub.devices import DeviceRegistry
from hub.geo import EARTH_RADIUS_M
from hub.insights.buildings import Peak
from hub.settings import Settings
from hub.timestamps import FixedClock
from tests.api.scenario import DAY, MIN, POINTS, REGISTRY, H, Scenario, gtfs, senml, status, z
from tests.api.served import ServedHub
from tests.conftest import ADMIN_KEY, READ_KEY, Publisher, wait_until, write_registry

approx = pytest.approx


@dataclass
class City:
    hub: ServedHub
    publisher: Publisher
    s: Scenario
    registry: Path


BAD_MESSAGES = [
    ("senml/m-1", '[{"n": "power", "v": 1'),  # invalid_json
    ("ocpp/cp/cp-9", status(1, int(time.time()) - 60, "Available")),  # unknown_device
    ("gtfsrt/city/vehicle_positions", gtfs("bus-1", "12", int(time.time()) - 60, 200.0, 13.0)),
]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    tmp = tmp_path_factory.mktemp("city")
    broker = Mosquitto(tmp / "broker").start()
    registry = write_registry(tmp / "registry.json", REGISTRY)
    scenario = Scenario.build()
    settings = Settings(
        mode="test",
        data_dir=tmp / "hub-data",
        mqtt={"port": broker.port},
        ingest={
            "registry_file": registry,
            "adapters": ["senml", "ocpp", "gtfsrt"],
            "batch_max_age_ms": 20,
        },
        insights={
            "device_stale_s": 60 * H,
            "grid_intensity_g_per_kwh": 200,
            "diesel_bus_g_per_km": 1000,
            "electric_bus_kwh_per_km": 1.0,
        },
        api={"read_keys": [READ_KEY], "admin_keys": [ADMIN_KEY], "max_points": 16},
    )
    hub = ServedHub(settings, FixedClock(scenario.now * 1_000_000_000))
    publisher: Publisher | None = None
    try:
        hub.start()
        publisher = Publisher(broker.port)
        publisher.publish_all([*scenario.messages, *BAD_MESSAGES, scenario.fresh_fix()])
        expected = {**POINTS, "bus_position": POINTS["bus_position"] + 1}

        def stored() -> bool:
            with hub.client() as client:
                catalog = client.get("/api/v1/catalog").json()
            stored = {m["name"]: m["points"] for m in catalog["measurements"]}
            # the hub's own rollups (building_energy_1h, bus_position_1h, charger_status_1h...)
            # are measurements too
            rollups = settings.rollups.plan().names
            return (
                rollups <= set(stored)
                and {name: points for name, points in stored.items() if name not in rollups}
                == expected
            )

        wait_until(stored, message=f"the store does not hold {expected}")
        yield City(hub, publisher, scenario, registry)
    finally:
        if publisher is not None:
            publisher.close()
        hub.stop()
        broker.stop()


def get(city: City, path: str, key: str = READ_KEY, **params: Any) -> Any:
    with city.hub.client(key) as client:
        response = client.get(path, params=params)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def get_csv(city: City, path: str, **params: Any) -> list[dict[str, str]]:
    with city.hub.client() as client:
        response = client.get(path, params=params, headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["vary"] == "Accept"
    return list(csv.DictReader(io.StringIO(response.text)))


# -- buildings ------------------------------------------------------------------------------


def test_buildings_list_latest_power_and_energy_today(city: City) -> None:
    s = city.s
    answer = get(city, "/api/v1/buildings")
    assert answer["day_start"] == z(s.M)
    assert answer["buildings"] == [
        {"building": "b-1", "district": "harbour", "meters": 1, "power_w": 2500.0,
         "as_of": z(s.t(2)), "stale": False, "energy_today_kwh": approx(2.0)},
        {"building": "b-2", "district": "harbour", "meters": 1, "power_w": 700.0,
         "as_of": z(s.t(1)), "stale": False, "energy_today_kwh": approx(1.0)},
        {"building": "b-3", "district": "uptown", "meters": 1, "power_w": 300.0,
         "as_of": z(s.D + 9 * H), "stale": False, "energy_today_kwh": 0.0},
        {"building": "b-4", "district": "uptown", "meters": 1, "power_w": 100.0,
         "as_of": z(s.M - 3 * DAY), "stale": True, "energy_today_kwh": 0.0},
        {"building": "b-5", "district": "uptown", "meters": 1, "power_w": None,
         "as_of": None, "stale": True, "energy_today_kwh": 0.0},
    ]  # fmt: skip


def test_building_energy_counts_a_meter_replaced_mid_day(city: City) -> None:
    s = city.s
    params = {"every": "6h", "start": z(s.D), "end": z(s.M)}
    answer = get(city, "/api/v1/buildings/b-1/energy", **params)
    assert answer["scope"] == "building" and answer["id"] == "b-1"
    # 100 -> 104 | 106, 112 | replaced: 0.5, then 6.5 | 9.5 kWh
    assert answer["windows"] == [
        {"time": z(s.D), "energy_kwh": approx(4.0)},
        {"time": z(s.D + 6 * H), "energy_kwh": approx(8.0)},
        {"time": z(s.D + 12 * H), "energy_kwh": approx(6.5)},
        {"time": z(s.D + 18 * H), "energy_kwh": approx(3.0)},
    ]
    assert answer["total_kwh"] == approx(21.5)
    rows = get_csv(city, "/api/v1/buildings/b-1/energy", **params)
    assert [(r["time"], float(r["energy_kwh"])) for r in rows] == [
        (w["time"], approx(w["energy_kwh"])) for w in answer["windows"]
    ]
    with city.hub.client() as client:
        as_param = client.get("/api/v1/buildings/b-1/energy", params={**params, "format": "csv"})
    assert as_param.text.splitlines()[0] == "time,energy_kwh"
    assert len(as_param.text.splitlines()) == 5


def test_district_and_city_energy_per_day(city: City) -> None:
    s = city.s
    params = {"every": "1d", "start": z(s.D), "end": z(s.M + DAY)}
    harbour = get(city, "/api/v1/districts/harbour/energy", **params)
    assert harbour["windows"] == [
        {"time": z(s.D), "energy_kwh": approx(21.5 + 3.0)},
        {"time": z(s.M), "energy_kwh": approx(2.0 + 1.0)},
    ]
    uptown = get(city, "/api/v1/districts/uptown/energy", **params)
    assert uptown["windows"] == [{"time": z(s.D), "energy_kwh": approx(2.0)}]
    whole = get(city, "/api/v1/city/energy", **params)
    assert whole["scope"] == "city"
    assert [w["energy_kwh"] for w in whole["windows"]] == [approx(26.5), approx(3.0)]


def test_peak_demand_and_when(city: City) -> None:
    s = city.s
    params = {"start": z(s.D), "end": z(s.M)}
    b1 = get(city, "/api/v1/buildings/b-1/peak", **params)
    assert (b1["peak_w"], b1["peak_kw"], b1["time"], b1["window_end"], b1["window"]) == (
        6000.0, 6.0, z(s.D + 17 * H), z(s.D + 17 * H + 15 * MIN), "15m"
    )  # fmt: skip
    # m-2's 800 W falls in the same 15-minute window: the district's demand is their sum
    harbour = get(city, "/api/v1/districts/harbour/peak", **params)
    assert (harbour["peak_w"], harbour["time"]) == (6800.0, z(s.D + 17 * H))
    uptown = get(city, "/api/v1/districts/uptown/peak", **params, window="1h")
    assert (uptown["peak_w"], uptown["time"], uptown["window"]) == (300.0, z(s.D + 9 * H), "1h")
    assert get(city, "/api/v1/city/peak", **params)["peak_w"] == 6800.0
    nothing = get(city, "/api/v1/buildings/b-5/peak", **params)
    assert (nothing["peak_w"], nothing["time"]) == (None, None)


def test_comparison_with_a_week_earlier(city: City) -> None:
    s = city.s
    answer = get(city, "/api/v1/buildings/b-1/comparison", start=z(s.D), end=z(s.M))
    assert answer == {
        "scope": "building",
        "id": "b-1",
        "start": z(s.D),
        "end": z(s.M),
        "current_kwh": approx(21.5),
        "previous_start": z(s.D - 7 * DAY),
        "previous_end": z(s.M - 7 * DAY),
        "previous_kwh": approx(10.0),
        "change_kwh": approx(11.5),
        "change_pct": approx(115.0),
    }
    b2 = get(city, "/api/v1/buildings/b-2/comparison", start=z(s.D), end=z(s.M))
    assert (b2["current_kwh"], b2["previous_kwh"], b2["change_pct"]) == (approx(3.0), None, None)


# -- chargers -------------------------------------------------------------------------------


def test_status_board_says_since_when_the_status_changed(city: City) -> None:
    s = city.s
    board = get(city, "/api/v1/chargers/status")
    assert board["counts"] == {"Available": 1, "Charging": 1, "Faulted": 1}
    assert board["connectors"] == [
        {"device": "cp-1", "site": "s-1", "district": "harbour", "connector": "1",
         "status": "Available", "error_code": "NoError", "since": z(s.t(6)),
         "since_exact": True, "reported_at": z(s.t(6))},
        # re-reported at 21:00: the status has not changed since 20:00
        {"device": "cp-1", "site": "s-1", "district": "harbour", "connector": "2",
         "status": "Faulted", "error_code": "GroundFailure", "since": z(s.D + 20 * H),
         "since_exact": True, "reported_at": z(s.D + 21 * H)},
        {"device": "cp-2", "site": "s-2", "district": "uptown", "connector": "1",
         "status": "Charging", "error_code": "NoError", "since": z(s.t(8)),
         "since_exact": True, "reported_at": z(s.t(8))},
    ]  # fmt: skip
    only_s2 = get(city, "/api/v1/chargers/status", site="s-2")
    assert [c["device"] for c in only_s2["connectors"]] == ["cp-2"]
    rows = get_csv(city, "/api/v1/chargers/status", device="cp-1")
    assert [(r["connector"], r["status"], r["since"]) for r in rows] == [
        ("1", "Available", z(s.t(6))),
        ("2", "Faulted", z(s.D + 20 * H)),
    ]


def test_utilization_is_the_share_of_observed_time_charging(city: City) -> None:
    s = city.s
    answer = get(city, "/api/v1/chargers/utilization", every="6h", start=z(s.D), end=z(s.M))
    got = {(w["site"], w["time"]): w for w in answer["windows"]}
    # 00-06: no status known yet: left out. 06-12: both connectors known from 08:00 (2 x 4 h);
    # connector 1 charged 10:30-11:00, connector 2 10:00-12:00: 9000 s of 28800 s
    assert sorted(got) == [
        ("s-1", z(s.D + 6 * H)), ("s-1", z(s.D + 12 * H)), ("s-1", z(s.D + 18 * H)),
        ("s-2", z(s.D + 6 * H)), ("s-2", z(s.D + 12 * H)), ("s-2", z(s.D + 18 * H)),
    ]  # fmt: skip
    first = got[("s-1", z(s.D + 6 * H))]
    assert (first["connectors"], first["observed_s"], first["charging_s"]) == (2, 28800.0, 9000.0)
    assert first["charging_share"] == approx(0.3125)
    assert got[("s-1", z(s.D + 12 * H))]["charging_share"] == 0.0
    # 23:30-24:00 of connector 1 (connector 2 is faulted): 1800 s of 43200 s
    assert got[("s-1", z(s.D + 18 * H))]["charging_share"] == approx(1800 / 43200, abs=1e-6)
    assert got[("s-2", z(s.D + 6 * H))]["observed_s"] == 14400.0
    assert got[("s-2", z(s.D + 12 * H))]["charging_share"] == approx(3600 / 21600, abs=1e-6)
    s1 = get(city, "/api/v1/chargers/utilization", every="1d", start=z(s.D), end=z(s.M), site="s-1")
    assert [(w["site"], w["charging_s"], w["observed_s"]) for w in s1["windows"]] == [
        ("s-1", 10800.0, 2 * 16 * 3600.0)
    ]


def test_energy_delivered_per_site_counts_each_session_once(city: City) -> None:
    s = city.s
    answer = get(city, "/api/v1/chargers/energy", every="1d", start=z(s.D), end=z(s.M + DAY))
    # s-1: connector 1 12000 -> 18000 Wh and connector 2 5000 -> 11000 Wh yesterday, connector 1
    # 18000 -> 23500 today (the StopTransaction's own readings are not counted again)
    assert answer["windows"] == [
        {"site": "s-1", "time": z(s.D), "energy_kwh": 12.0},
        {"site": "s-1", "time": z(s.M), "energy_kwh": 5.5},
        {"site": "s-2", "time": z(s.D), "energy_kwh": 3.0},
        {"site": "s-2", "time": z(s.M), "energy_kwh": 0.0},
    ]


def test_sessions_pair_ocpp16_starts_and_stops_across_midnight(city: City) -> None:
    s = city.s
    answer = get(city, "/api/v1/chargers/sessions", start=z(s.D), end=z(s.M))
    D, M = s.D, s.M  # noqa: N806  (the scenario's names)

    def session(sid, txn, cp, site, conn, start, end, kwh, tag, reason):
        return {
            "session_id": sid, "transaction_id": txn, "device": cp, "site": site,
            "connector": conn, "start": z(start), "end": z(end) if end else None,
            "duration_s": float(end - start) if end else None, "energy_kwh": kwh,
            "id_tag": tag, "stop_reason": reason, "ongoing": end is None,
        }  # fmt: skip

    midnight = session(
        f"cp-1-1-{M - 30 * MIN}", "104", "cp-1", "s-1", "1", M - 30 * MIN, s.t(5), 7.5,
        "TAG-A", "EVDisconnected",
    )  # fmt: skip
    assert answer["sessions"] == [
        # the stop at 11:00 carries TAG-A: it ends the later start (first-in-first-out would
        # have picked connector 2's); the one at 12:00 then ends connector 2's
        session(f"cp-1-2-{D + 10 * H}", "103", "cp-1", "s-1", "2", D + 10 * H, D + 12 * H,
                6.0, "TAG-B", "Local"),
        session(f"cp-1-1-{D + 10 * H + 30 * MIN}", "102", "cp-1", "s-1", "1",
                D + 10 * H + 30 * MIN, D + 11 * H, 4.0, "TAG-A", "EVDisconnected"),
        session(f"cp-2-1-{D + 14 * H}", "201", "cp-2", "s-2", "1", D + 14 * H, D + 15 * H,
                3.0, "TAG-C", "Remote"),
        midnight,
    ]  # fmt: skip
    today = get(city, "/api/v1/chargers/sessions", start=z(M), end=z(M + DAY))
    ongoing = session(
        f"cp-2-1-{s.t(8)}", None, "cp-2", "s-2", "1", s.t(8), None, None, "TAG-C", None
    )
    assert today["sessions"] == [midnight, ongoing]
    assert midnight["duration_s"] == 1800 + s.t(5) - M
    rows = get_csv(city, "/api/v1/chargers/sessions", start=z(M), end=z(M + DAY), site="s-2")
    assert [(r["session_id"], r["ongoing"], r["energy_kwh"]) for r in rows] == [
        (f"cp-2-1-{s.t(8)}", "True", "")
    ]


def test_faults_in_a_period(city: City) -> None:
    s = city.s
    answer = get(city, "/api/v1/chargers/faults", start=z(s.D), end=z(s.M + DAY))
    assert answer["faults"] == [
        {"device": "cp-1", "site": "s-1", "connector": "2", "since": z(s.D + 20 * H),
         "until": None, "duration_s": None, "error_code": "GroundFailure", "info": None,
         "vendor_error_code": None},
    ]  # fmt: skip
    assert get(city, "/api/v1/chargers/faults", start=z(s.D), end=z(s.D + 12 * H))["faults"] == []
    assert get(city, "/api/v1/chargers/faults", start=z(s.M), site="s-1")["faults"][0][
        "since"
    ] == z(s.D + 20 * H)


# -- buses ----------------------------------------------------------------------------------


def test_latest_positions_as_geojson(city: City) -> None:
    s = city.s
    collection = get(city, "/api/v1/buses/positions")
    assert collection["type"] == "FeatureCollection"
    features = {f["properties"]["vehicle"]: f for f in collection["features"]}
    assert list(features) == ["bus-1", "bus-2", "bus-3", "bus-4"]
    bus1 = features["bus-1"]
    assert bus1["type"] == "Feature"
    assert bus1["geometry"] == {"type": "Point", "coordinates": [13.40, 52.53]}
    properties = bus1["properties"]
    assert properties["age_s"] < 60 and properties["stale"] is False
    assert {k: properties[k] for k in ("route", "propulsion", "speed_mps", "odometer_m")} == {
        "route": "12", "propulsion": "electric", "speed_mps": 5.0, "odometer_m": 50000.0
    }  # fmt: skip
    assert properties["occupancy_status"] == "MANY_SEATS_AVAILABLE"
    bus2 = features["bus-2"]["properties"]
    assert (bus2["time"], bus2["stale"], bus2["propulsion"]) == (z(s.D + 9 * H), True, "diesel")
    assert bus2["age_s"] == s.now - (s.D + 9 * H)
    assert features["bus-3"]["geometry"]["coordinates"] == [13.0, 52.02]
    assert features["bus-3"]["properties"]["propulsion"] is None
    route12 = get(city, "/api/v1/buses/positions", route="12")
    assert [f["properties"]["vehicle"] for f in route12["features"]] == ["bus-1", "bus-2"]


def test_track_as_geojson_linestring(city: City) -> None:
    s = city.s
    track = get(city, "/api/v1/buses/bus-3/track", start=z(s.D), end=z(s.M))
    assert track["type"] == "Feature"
    assert track["geometry"] == {
        "type": "LineString",
        "coordinates": [[13.0, 52.0], [13.0, 52.01], [13.0, 52.02]],
    }
    properties = track["properties"]
    assert properties["points"] == 3
    assert properties["times"] == [
        z(s.D + 8 * H),
        z(s.D + 8 * H + 10 * MIN),
        z(s.D + 8 * H + 20 * MIN),
    ]
    # along a meridian the great circle is R * delta-latitude
    # (rounded to the centimetre, as every distance the API gives)
    assert properties["distance_m"] == approx(EARTH_RADIUS_M * math.radians(0.02), abs=0.005)
    one = get(city, "/api/v1/buses/bus-2/track", start=z(s.D), end=z(s.D + 8 * H + MIN))
    assert (one["geometry"], one["properties"]["points"]) == (None, 1)


def test_mean_speed_per_route(city: City) -> None:
    s = city.s
    answer = get(city, "/api/v1/buses/speed", every="1d", start=z(s.D), end=z(s.M + DAY))
    assert answer["windows"] == [
        {"route": "12", "time": z(s.D), "mean_speed_mps": 8.0, "mean_speed_kmh": approx(28.8)},
        {"route": "12", "time": z(s.M), "mean_speed_mps": 5.0, "mean_speed_kmh": 18.0},
        {"route": "7", "time": z(s.D), "mean_speed_mps": 9.0, "mean_speed_kmh": approx(32.4)},
    ]
    only7 = get(city, "/api/v1/buses/speed", every="1h", start=z(s.D), end=z(s.M), route="7")
    assert [(w["time"], w["mean_speed_mps"]) for w in only7["windows"]] == [(z(s.D + 8 * H), 9.0)]


def test_stale_vehicles(city: City) -> None:
    s = city.s
    answer = get(city, "/api/v1/buses/stale")
    assert answer["max_age_s"] == 120.0
    assert [(v["vehicle"], v["last_fix"]) for v in answer["vehicles"]] == [
        ("bus-2", z(s.D + 9 * H)),
        ("bus-3", z(s.D + 8 * H + 20 * MIN)),
        ("bus-4", z(s.D - 6 * H + 16 * MIN)),
    ]
    # bus-2 is 15 h or more late, bus-3 a bit more, bus-4 more still
    older = get(city, "/api/v1/buses/stale", max_age_s=(s.now - s.D) - 5 * 3600)
    assert [v["vehicle"] for v in older["vehicles"]] == ["bus-4"]


# -- city -----------------------------------------------------------------------------------


def test_city_overview(city: City) -> None:
    s = city.s
    overview = get(city, "/api/v1/city/overview")
    assert overview["day_start"] == z(s.M)
    assert overview["buildings"] == {
        "buildings": 5,
        "meters": 5,
        "meters_reporting": 3,  # m-old is silent for 3 days, m-idle never spoke
        "power_w": 2500.0 + 700.0 + 300.0,
        "energy_today_kwh": approx(3.0),
    }
    assert overview["chargers"] == {
        "charge_points": 2,
        "connectors": 3,
        "by_status": {"Available": 1, "Charging": 1, "Faulted": 1},
        "charging": 1,
        "faulted": 1,
        "energy_today_kwh": 5.5,
    }
    assert overview["buses"] == {"vehicles": 4, "reporting": 1, "stale": 3, "routes": 3}
    assert overview["devices"] == {"registered": 9, "seen": 10, "stale": 2}


def test_carbon_estimate_per_day(city: City) -> None:
    s = city.s
    answer = get(city, "/api/v1/city/carbon", start=z(s.D), end=z(s.M + DAY))
    assert answer["factors"] == {
        "grid_g_per_kwh": 200.0,
        "diesel_bus_g_per_km": 1000.0,
        "electric_bus_kwh_per_km": 1.0,
    }
    bus3_km = EARTH_RADIUS_M * math.radians(0.02) / 1000
    yesterday, today = answer["days"]
    assert yesterday == {
        "day": z(s.D)[:10],
        "building_kwh": approx(26.5),
        "charging_kwh": approx(15.0),
        "electricity_kwh": approx(41.5),
        "electricity_co2_kg": approx(8.3),  # 41.5 kWh x 200 g
        "bus_km": approx(40 + 10 + bus3_km, abs=1e-3),
        "electric_bus_km": approx(40.0),  # bus-1's odometer
        "diesel_bus_km": approx(10.0),  # bus-2's odometer
        "unknown_propulsion_bus_km": approx(bus3_km, abs=1e-3),  # bus-3's fixes
        "electric_share": approx(0.8),
        "bus_co2_kg": approx(40 * 1.0 * 0.2 + (10 + bus3_km) * 1.0, abs=1e-3),
        "total_co2_kg": approx(8.3 + 8.0 + 10 + bus3_km, abs=1e-3),
    }
    assert today == {
        "day": z(s.M)[:10],
        "building_kwh": approx(3.0),
        "charging_kwh": approx(5.5),
        "electricity_kwh": approx(8.5),
        "electricity_co2_kg": approx(1.7),
        "bus_km": approx(9.0),
        "electric_bus_km": approx(9.0),
        "diesel_bus_km": 0.0,
        "unknown_propulsion_bus_km": 0.0,
        "electric_share": 1.0,
        "bus_co2_kg": approx(1.8),
        "total_co2_kg": approx(3.5),
    }
    greener = get(city, "/api/v1/city/carbon", start=z(s.M), end=z(s.M + DAY), grid_g_per_kwh=0)
    assert greener["days"][0]["total_co2_kg"] == 0.0
    rows = get_csv(city, "/api/v1/city/carbon", start=z(s.D), end=z(s.M + DAY))
    assert [(r["day"], float(r["total_co2_kg"])) for r in rows] == [
        (z(s.D)[:10], approx(yesterday["total_co2_kg"])),
        (z(s.M)[:10], approx(3.5)),
    ]


# -- devices and dead letters ---------------------------------------------------------------


def test_device_registry_with_first_and_last_seen(city: City) -> None:
    s = city.s
    devices = {d["device"]: d for d in get(city, "/api/v1/devices")["devices"]}
    assert devices["m-1"] == {
        "device": "m-1",
        "registered": True,
        "tags": {"building": "b-1", "district": "harbour"},
        "measurements": ["building_energy"],
        "first_seen": z(s.D - 7 * DAY + 1 * H),
        "last_seen": z(s.t(2)),
        "points": 11,
        "stale": False,
    }
    assert devices["cp-1"]["measurements"] == [
        "charger_meter",
        "charger_session",
        "charger_status",
        "charger_transaction_meter",
    ]
    assert devices["cp-1"]["points"] == 9 + 5 + 6 + 12
    assert (devices["m-idle"]["points"], devices["m-idle"]["last_seen"]) == (0, None)
    assert devices["bus-3"]["registered"] is False and devices["bus-3"]["tags"] == {}
    stale = get(city, "/api/v1/devices", stale="true")["devices"]
    assert [d["device"] for d in stale] == ["m-idle", "m-old"]
    assert get(city, "/api/v1/devices/m-old")["last_seen"] == z(s.M - 3 * DAY)
    rows = get_csv(city, "/api/v1/devices", stale="true")
    assert [(r["device"], r["tags"]) for r in rows] == [
        ("m-idle", "building=b-5;district=uptown"),
        ("m-old", "building=b-4;district=uptown"),
    ]


def test_dead_letters_filtered_and_counted(city: City) -> None:
    counts = get(city, "/api/v1/dead-letters/counts", ADMIN_KEY, start="-1h")
    assert counts == {
        "counts": {"invalid_json": 1, "out_of_range": 1, "unknown_device": 1},
        "total": 3,
    }
    ocpp = get(city, "/api/v1/dead-letters", ADMIN_KEY, adapter="ocpp")["dead_letters"]
    assert [(d["reason"], d["topic"]) for d in ocpp] == [("unknown_device", "ocpp/cp/cp-9")]
    gtfs_letters = get(city, "/api/v1/dead-letters", ADMIN_KEY, reason="out_of_range")
    assert [d["adapter"] for d in gtfs_letters["dead_letters"]] == ["gtfsrt"]
    old = get(city, "/api/v1/dead-letters", ADMIN_KEY, end=z(city.s.D))["dead_letters"]
    assert old == []
    with city.hub.client(ADMIN_KEY) as client:
        text = client.get("/api/v1/dead-letters", params={"format": "csv", "adapter": "senml"})
    [row] = csv.DictReader(io.StringIO(text.text))
    assert (row["reason"], row["payload"]) == ("invalid_json", '[{"n": "power", "v": 1')


def test_negotiation_honours_q_values_and_old_paths_say_deprecated(city: City) -> None:
    s = city.s
    params = {"every": "1d", "start": z(s.D), "end": z(s.M)}
    with city.hub.client() as client:
        for accept, media in (
            ("text/csv;q=0.5, application/json", "application/json"),
            ("application/json;q=0.1, text/csv", "text/csv"),
            ("text/*", "text/csv"),
            ("*/*", "application/json"),
        ):
            got = client.get("/api/v1/chargers/energy", params=params, headers={"Accept": accept})
            assert got.headers["content-type"].startswith(media), accept
            assert got.headers["vary"] == "Accept"
            assert "deprecation" not in got.headers
        old = client.get("/api/v1/chargers/energy", params={**params, "site": "s-1"})
        new = client.get("/api/v1/sites/s-1/energy", params=params)
        positions = client.get("/api/v1/buses/positions")
    assert old.headers["deprecation"] == "@1796083200"  # RFC 9745: since 2026-12-01
    assert "/api/v1/sites/s-1/energy" in old.headers["link"]
    assert old.json() == new.json() and new.json()["windows"]
    assert positions.headers["content-type"] == "application/geo+json"


def test_districts_and_sites_collections(city: City) -> None:
    assert get(city, "/api/v1/districts")["districts"] == [
        {"district": "harbour", "buildings": 2, "sites": 1},
        {"district": "uptown", "buildings": 3, "sites": 1},
    ]
    assert get(city, "/api/v1/sites")["sites"] == [
        {"site": "s-1", "district": "harbour", "charge_points": 1},
        {"site": "s-2", "district": "uptown", "charge_points": 1},
    ]


def test_site_peak_demand_and_comparison_count_connector_0_once(city: City) -> None:
    s = city.s
    params = {"start": z(s.D), "end": z(s.M)}
    # s-1 yesterday: connector 2 +6000 Wh at 12:00, connector 1 +4000 Wh at 11:00 and
    # +2000 Wh at 23:45; connector 0 (the whole station) steps with them and is not added
    peak = get(city, "/api/v1/sites/s-1/peak", **params)
    assert peak == {
        "scope": "site", "id": "s-1", "start": z(s.D), "end": z(s.M), "window": "15m",
        "peak_w": 24000.0, "peak_kw": 24.0, "time": z(s.D + 12 * H),
        "window_end": z(s.D + 12 * H + 15 * MIN),
    }  # fmt: skip
    hourly = get(city, "/api/v1/sites/s-1/peak", **params, window="1h")
    assert (hourly["peak_w"], hourly["time"], hourly["window"]) == (6000.0, z(s.D + 12 * H), "1h")
    s1 = get(city, "/api/v1/sites/s-1/comparison", **params)
    assert (s1["scope"], s1["current_kwh"], s1["previous_kwh"], s1["change_kwh"]) == (
        "site", 12.0, None, None
    )  # fmt: skip
    s2 = get(city, "/api/v1/sites/s-2/comparison", **params)
    assert s2 == {
        "scope": "site", "id": "s-2", "start": z(s.D), "end": z(s.M), "current_kwh": 3.0,
        "previous_start": z(s.D - 7 * DAY), "previous_end": z(s.M - 7 * DAY),
        "previous_kwh": 1.5, "change_kwh": 1.5, "change_pct": 100.0,
    }  # fmt: skip
    quiet = get(city, "/api/v1/sites/s-2/peak", start=z(s.M - 6 * H), end=z(s.M))
    assert (quiet["peak_w"], quiet["time"]) == (None, None)


# -- refusals -------------------------------------------------------------------------------

BAD_REQUESTS = [
    ("/api/v1/buildings/b-1/energy?every=1x", 400, "every"),
    ("/api/v1/buildings/b-1/energy?every=1s&start=-30d", 400, "limit of 10000"),
    ("/api/v1/districts/harbour/energy?start=yesterday", 400, "start"),
    ("/api/v1/city/energy?start=2024-05-02T00:00:00Z&end=2024-05-01T00:00:00Z", 400, "empty"),
    ("/api/v1/city/energy?start=2024-05-01T00:00:00", 400, "offset"),
    ("/api/v1/buildings/b-1/peak?window=soon", 400, "window"),
    ("/api/v1/city/peak?window=1s&start=-30d", 400, "limit of 10000"),
    ("/api/v1/buildings?format=xml", 422, "format"),
    ("/api/v1/chargers/utilization?every=1s&start=-30d", 400, "limit of 10000"),
    ("/api/v1/chargers/sessions?end=tomorrow", 400, "end"),
    ("/api/v1/chargers/energy?every=0h", 400, "every"),
    ("/api/v1/buses/speed?every=fast", 400, "every"),
    ("/api/v1/buses/stale?max_age_s=-1", 422, "max_age_s"),
    ("/api/v1/buses/bus-4/track?start=-30d", 400, "limit of 16"),
    ("/api/v1/city/carbon?grid_g_per_kwh=-5", 422, "grid_g_per_kwh"),
    ("/api/v1/city/carbon?start=1999", 400, "start"),
    ("/api/v1/devices?stale=maybe", 422, "stale"),
]


@pytest.mark.parametrize(("url", "code", "says"), BAD_REQUESTS)
def test_bad_parameters_are_refused_with_what_to_fix(
    city: City, url: str, code: int, says: str
) -> None:
    with city.hub.client(ADMIN_KEY) as client:
        response = client.get(url)
    assert response.status_code == code, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "detail", "parameter", "instance"}
    assert problem["status"] == code and problem["type"].startswith("urn:cityhub:problem:")
    assert says in problem["detail"], problem


NOT_FOUND = [
    "/api/v1/buildings/b-404/energy",
    "/api/v1/buildings/b-404/peak",
    "/api/v1/districts/nowhere/comparison",
    "/api/v1/sites/s-404/peak",
    "/api/v1/sites/s-404/comparison",
    "/api/v1/chargers/status?device=cp-404",
    "/api/v1/chargers/sessions?site=s-404",
    "/api/v1/chargers/utilization?site=s-404",
    "/api/v1/buses/bus-404/track",
    "/api/v1/buses/speed?route=404",
    "/api/v1/buses/positions?route=404",
    "/api/v1/devices/nobody",
]


@pytest.mark.parametrize("url", NOT_FOUND)
def test_unknown_ids_are_404(city: City, url: str) -> None:
    with city.hub.client() as client:
        response = client.get(url)
    assert response.status_code == 404, response.text
    assert "unknown" in response.json()["detail"]


FAMILIES = [
    "/api/v1/buildings",
    "/api/v1/city/energy",
    "/api/v1/chargers/status",
    "/api/v1/buses/positions",
    "/api/v1/city/overview",
    "/api/v1/devices",
]


@pytest.mark.parametrize("url", FAMILIES)
def test_every_family_needs_a_valid_key(city: City, url: str) -> None:
    base = city.hub.base_url
    for headers in ({}, {"X-API-Key": "wrong"}):
        refused = httpx.get(base + url, headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.headers["content-type"] == "application/problem+json"
    bearer = {"Authorization": f"Bearer {READ_KEY}"}
    assert httpx.get(base + url, headers=bearer).status_code == 200
    assert httpx.get(base + url, headers={"X-API-Key": ADMIN_KEY}).status_code == 200


def test_admin_endpoints_refuse_the_read_role(city: City) -> None:
    base, read = city.hub.base_url, {"X-API-Key": READ_KEY}
    body = {"device": "m-x", "tags": {"building": "b-1"}}
    assert httpx.post(f"{base}/api/v1/devices", json=body, headers=read).status_code == 403
    assert httpx.post(f"{base}/api/v1/devices", json=body).status_code == 401
    assert httpx.put(f"{base}/api/v1/devices/m-x", json=body, headers=read).status_code == 403
    assert httpx.delete(f"{base}/api/v1/devices/m-1", headers=read).status_code == 403
    assert httpx.get(f"{base}/api/v1/dead-letters", headers=read).status_code == 403
    assert httpx.get(f"{base}/api/v1/dead-letters/counts").status_code == 401
    assert "m-x" not in json.loads(city.registry.read_text())["devices"]
    assert httpx.get(f"{base}/health").status_code == 200
    assert httpx.get(f"{base}/metrics").status_code == 200


PROTOBUF = "application/x-protobuf"


def test_openapi_types_every_answer_and_error(city: City) -> None:
    spec = get(city, "/openapi.json")
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                content = response.get("content", {})
                if code.startswith(("4", "5")):
                    assert list(content) == ["application/problem+json"], (path, code)
                if method != "get" or code != "200" or path == "/metrics":
                    continue
                if path.startswith("/gtfs-rt/"):  # a standard's schema: gtfs-realtime.proto
                    assert content[PROTOBUF]["schema"]["format"] == "binary", path
                    continue
                for media, body in content.items():
                    if media == "text/csv":
                        continue  # its example, the header, is checked below
                    name = body["schema"]["$ref"].rsplit("/", 1)[1]
                    assert schemas[name]["properties"], (path, media)
    sessions = spec["paths"]["/api/v1/chargers/sessions"]["get"]
    assert sessions["operationId"] == "list_charging_sessions"
    assert sessions["responses"]["200"]["content"]["text/csv"]["example"].startswith(
        "session_id,transaction_id,device"
    )
    assert (
        "application/geo+json"
        in (spec["paths"]["/api/v1/buses/positions"]["get"]["responses"]["200"]["content"])
    )
    assert {"post"} <= set(spec["paths"]["/api/v1/devices"]) and {"put", "delete"} <= set(
        spec["paths"]["/api/v1/devices/{device_id}"]
    )


def test_openapi_examples_are_generated_from_the_models_and_match_the_schemas(
    city: City,
) -> None:
    spec = get(city, "/openapi.json")
    checked = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation["responses"].get("200", {}).get("content", {})
            for media in ("application/json", "application/geo+json"):
                body = content.get(media, {})
                if "$ref" not in body.get("schema", {}):
                    continue  # no model: a standard's free-form JSON (GTFS-RT)
                assert "example" in body, (method, path, media)
                schema = {**body["schema"], "components": spec["components"]}
                jsonschema.validate(body["example"], schema)
                checked.append((method, path))
    assert len(checked) >= 30 and ("get", "/api/v1/sites/{site_id}/peak") in checked
    peak = spec["paths"]["/api/v1/sites/{site_id}/peak"]["get"]["responses"]["200"]
    assert peak["content"]["application/json"]["example"] == example_of(Peak)
    track = spec["paths"]["/api/v1/buses/{vehicle_id}/track"]["get"]["responses"]["200"]
    line = track["content"]["application/geo+json"]["example"]["geometry"]
    assert line["type"] == "LineString" and len(line["coordinates"]) >= 2


# -- registry changes (last: they change the registry the other tests count) ----------------


def test_admin_changes_the_registry_at_once_and_for_good(city: City) -> None:
    with city.hub.client(ADMIN_KEY) as admin:
        created = admin.post(
            "/api/v1/devices",
            json={"device": "m-new", "tags": {"building": "b-9", "district": "harbour"}},
        )
        assert created.status_code == 201, created.text
        assert created.headers["location"] == "/api/v1/devices/m-new"
        assert admin.post("/api/v1/devices", json={"device": "m-new"}).status_code == 409
        assert admin.put("/api/v1/devices/bad id!", json={"tags": {}}).status_code == 422
        assert admin.put("/api/v1/devices/m-9", json={"tags": {"b": "x y"}}).status_code == 422
        assert admin.delete("/api/v1/devices/nobody").status_code == 404
    # persisted (what a restart reads), and accepted by the running adapters at once
    assert DeviceRegistry.from_file(city.registry).lookup("m-new") == {
        "building": "b-9",
        "district": "harbour",
    }
    now = int(time.time()) - 5
    city.publisher.publish_all([("senml/m-new", senml(now, 999.0, 1.0))])

    def b9() -> list[dict]:
        rows = get(city, "/api/v1/buildings")["buildings"]
        return [r for r in rows if r["building"] == "b-9" and r["power_w"] == 999.0]

    wait_until(b9, message="the newly registered meter's reading was not accepted")

    with city.hub.client(ADMIN_KEY) as admin:
        moved = admin.put("/api/v1/devices/m-new", json={"tags": {"building": "b-9"}})
        assert (moved.status_code, moved.json()["created"]) == (200, False)
        assert DeviceRegistry.from_file(city.registry).lookup("m-new") == {"building": "b-9"}
        assert admin.delete("/api/v1/devices/m-new").status_code == 204
    assert "m-new" not in DeviceRegistry.from_file(city.registry)
    assert not list(city.registry.parent.glob(".registry.json.*"))  # no temporary left over
    city.publisher.publish_all([("senml/m-new", senml(now + 1, 998.0, 1.1))])

    def refused() -> list[dict]:
        letters = get(city, "/api/v1/dead-letters", ADMIN_KEY, reason="unknown_device")
        return [d for d in letters["dead_letters"] if d["topic"] == "senml/m-new"]

    wait_until(refused, message="the removed meter's reading was not refused")
