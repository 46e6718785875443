"""HFP and GTFS-RT buses side by side, through Mosquitto, the hub process and DuckDB:
punctuality per route from a recorded sequence of HFP departures, and the GTFS-Realtime
VehiclePositions feed the hub serves back out (parsed with gtfs-realtime-bindings)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from google.transit import gtfs_realtime_pb2 as rt

from hub.broker import Mosquitto
from hub.insights.context import format_time
from tests.conftest import HubProcess, Publisher, wait_until

S = 1_000_000_000
HOUR_S = 3600
T0 = (int(time.time()) // HOUR_S - 3) * HOUR_S  # a whole hour three hours ago (epoch s)
BUS = ("0022", "00792", "1081", "81")  # operator, vehicle, route id, short name
TRAM = ("0040", "00431", "1007", "7")


def hfp(event: str, vehicle: tuple[str, str, str, str], at_s: float, **fields) -> tuple[str, str]:
    operator, number, route, desi = vehicle
    mode = "tram" if vehicle is TRAM else "bus"
    topic = (
        f"/hfp/v2/journey/ongoing/{event.lower()}/{mode}/{operator}/{number}/{route}/1/Kamppi/"
        "08:03/1130106/4/60;24/19/73/44"
    )
    tst = datetime.fromtimestamp(at_s, tz=UTC).isoformat(timespec="milliseconds")
    body = {"desi": desi, "dir": "1", "oper": int(operator), "veh": int(number),
            "tst": tst.replace("+00:00", "Z"), "tsi": int(at_s), "spd": 5.0, "hdg": 90,
            "lat": 60.17, "long": 24.94, "acc": 0.0, "dl": 0, "odo": 1000, "drst": 0,
            "oday": "2024-11-30", "jrn": 1, "line": 1, "start": "08:03", "loc": "GPS",
            "stop": None, "route": route, "occu": 0} | fields  # fmt: skip
    return topic, json.dumps({event: body})


def gtfs_feed(vehicle: str, route: str, at_s: int, lat: float, lon: float) -> tuple[str, bytes]:
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.timestamp = at_s
    entity = feed.entity.add()
    entity.id = f"vp-{vehicle}"
    entity.vehicle.vehicle.id = vehicle
    entity.vehicle.trip.trip_id = f"{route}-trip-7"
    entity.vehicle.trip.route_id = route
    entity.vehicle.position.latitude = lat
    entity.vehicle.position.longitude = lon
    entity.vehicle.position.speed = 9.5
    entity.vehicle.timestamp = at_s
    entity.vehicle.occupancy_status = rt.VehiclePosition.FEW_SEATS_AVAILABLE
    return "gtfsrt/regio/vehicle_positions", feed.SerializeToString()


# The recorded sequence. HFP dl is seconds *ahead* of schedule; the hub's delay is -dl.
# Route 1081, first hour: delays -30, 20, 179, 200, -70 s  → mean 59.8, p90 (rank 5 of 5)
# 200, on time (strictly within -60..180): -30, 20, 179 → 3/5. Second hour: 180 s, not on time.
# Route 1007: delays 0, 60, -60 → mean 0, p90 (rank 3 of 3) 60, on time 2/3 (-60 is early).
MESSAGES = [
    hfp("DEP", BUS, T0 + 60, dl=30),
    hfp("ARR", BUS, T0 + 100, dl=-900),  # an arrival: not a departure, not counted
    hfp("DEP", BUS, T0 + 120, dl=-20),
    hfp("DEP", BUS, T0 + 180, dl=-179),
    hfp("DEP", BUS, T0 + 240, dl=-200),
    hfp("DEP", BUS, T0 + 300, dl=70),
    hfp("DEP", BUS, T0 + HOUR_S + 60, dl=-180),
    hfp("DEP", TRAM, T0 + 60, dl=0),
    hfp("DEP", TRAM, T0 + 120, dl=-60),
    hfp("DEP", TRAM, T0 + 180, dl=60),
    hfp("VP", BUS, T0 + 7000.5, lat=60.2, long=24.9, dl=-40, occu=35),
    hfp("VP", BUS, T0 + 7001.5, lat=60.201, long=24.901, dl=-41, occu=40, spd=6.5),
    hfp("VP", TRAM, T0 + 6990, lat=60.19, long=24.95, dl=10),
    gtfs_feed("bus-9", "12", T0 + 6000, 52.50, 13.40),
    gtfs_feed("bus-9", "12", T0 + 6030, 52.51, 13.41),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("transit")
    broker = Mosquitto(tmp / "broker").start()
    hub = HubProcess(tmp, broker.port).start()
    publisher = Publisher(broker.port, "transit")
    publisher.publish_all(MESSAGES)
    yield hub
    publisher.close()
    hub.stop()
    broker.stop()


def test_punctuality_per_route_is_exact(stack) -> None:
    params = {"start": format_time(T0 * S), "end": format_time((T0 + 2 * HOUR_S) * S)}

    def windows() -> list[dict]:
        with stack.client() as client:
            response = client.get("/api/v1/buses/punctuality", params=params)
        assert response.status_code == 200, response.text
        return response.json()["windows"]

    expected = [
        {"route": "1007", "time": format_time(T0 * S), "departures": 3, "mean_delay_s": 0.0,
         "p90_delay_s": 60.0, "on_time_share": 0.666667},  # share to 1e-6
        {"route": "1081", "time": format_time(T0 * S), "departures": 5,
         "mean_delay_s": 59.8, "p90_delay_s": 200.0, "on_time_share": 0.6},
        {"route": "1081", "time": format_time((T0 + HOUR_S) * S), "departures": 1,
         "mean_delay_s": 180.0, "p90_delay_s": 180.0, "on_time_share": 0.0},
    ]  # fmt: skip
    wait_until(lambda: windows() == expected, message="departures not all stored")
    with stack.client() as client:
        only = client.get("/api/v1/buses/punctuality", params=params | {"route": "1007"})
        assert only.json()["windows"] == expected[:1]
        csv = client.get("/api/v1/buses/punctuality", params=params | {"format": "csv"})
        assert csv.text.splitlines()[0] == (
            "route,time,departures,mean_delay_s,p90_delay_s,on_time_share"
        )
        bad = client.get("/api/v1/buses/punctuality", params=params | {"every": "fortnight"})
        assert bad.status_code == 400 and "every" in bad.json()["detail"]


def read_feed(hub: HubProcess, **headers: str):
    with hub.client() as client:
        return client.get("/gtfs-rt/vehicle-positions", headers=headers)


def test_served_feed_holds_exactly_the_latest_position_of_every_bus(stack) -> None:
    def entities() -> list[str]:
        feed = rt.FeedMessage()
        feed.ParseFromString(read_feed(stack).content)
        return [entity.id for entity in feed.entity]

    wait_until(lambda: entities() == ["0022:00792", "0040:00431", "bus-9"], message=entities())
    response = read_feed(stack)
    assert response.headers["content-type"] == "application/x-protobuf"
    feed = rt.FeedMessage()
    feed.ParseFromString(response.content)
    assert feed.header.gtfs_realtime_version == "2.0"
    assert feed.header.incrementality == rt.FeedHeader.FULL_DATASET
    assert feed.header.timestamp == T0 + 7001  # the newest fix
    bus, tram, regio = (entity.vehicle for entity in feed.entity)

    assert bus.vehicle.id == "0022:00792" and bus.vehicle.label == "81"
    assert (bus.trip.route_id, bus.trip.direction_id) == ("1081", 0)
    assert (bus.trip.start_date, bus.trip.start_time) == ("20241130", "08:03:00")
    assert bus.timestamp == T0 + 7001
    assert (bus.position.latitude, bus.position.longitude) == pytest.approx((60.201, 24.901))
    assert bus.position.speed == 6.5 and bus.position.bearing == 90.0
    assert bus.occupancy_percentage == 40

    assert tram.vehicle.id == "0040:00431" and tram.trip.route_id == "1007"
    assert tram.timestamp == T0 + 6990
    assert (tram.position.latitude, tram.position.longitude) == pytest.approx((60.19, 24.95))

    assert regio.vehicle.id == "bus-9"
    assert (regio.trip.trip_id, regio.trip.route_id) == ("12-trip-7", "12")
    assert regio.timestamp == T0 + 6030
    assert (regio.position.latitude, regio.position.longitude) == pytest.approx((52.51, 13.41))
    assert regio.occupancy_status == rt.VehiclePosition.FEW_SEATS_AVAILABLE


def test_feed_as_json_and_conditional_get(stack) -> None:
    wait_until(lambda: len(rt.FeedMessage.FromString(read_feed(stack).content).entity) == 3)
    first = read_feed(stack)
    etag = first.headers["etag"]
    assert first.headers["last-modified"]
    again = read_feed(stack, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    with stack.client() as client:
        as_json = client.get("/gtfs-rt/vehicle-positions", params={"format": "json"})
    assert as_json.headers["content-type"] == "application/json"
    document = as_json.json()
    assert document["header"]["timestamp"] == str(T0 + 7001)  # uint64 as a string
    assert [e["vehicle"]["vehicle"]["id"] for e in document["entity"]] == [
        "0022:00792", "0040:00431", "bus-9"
    ]  # fmt: skip
    assert document["entity"][2]["vehicle"]["occupancyStatus"] == "FEW_SEATS_AVAILABLE"
    assert as_json.headers["etag"] != etag
    with stack.client() as client:
        bad = client.get("/gtfs-rt/vehicle-positions", params={"format": "xml"})
    assert bad.status_code == 422


def test_feed_changes_when_a_bus_moves(stack) -> None:
    wait_until(lambda: len(rt.FeedMessage.FromString(read_feed(stack).content).entity) == 3)
    etag = read_feed(stack).headers["etag"]
    publisher = Publisher(int(stack.env["CITYHUB_MQTT__PORT"]), "transit-2")
    publisher.publish_all([gtfs_feed("bus-9", "12", T0 + 7100, 52.52, 13.42)])
    publisher.close()
    wait_until(lambda: read_feed(stack, **{"If-None-Match": etag}).status_code == 200)
    feed = rt.FeedMessage.FromString(read_feed(stack).content)
    assert feed.header.timestamp == T0 + 7100
    assert feed.entity[2].vehicle.timestamp == T0 + 7100
