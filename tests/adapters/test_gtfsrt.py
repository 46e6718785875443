"""GTFS-Realtime vehicle positions → bus_position points, protobuf and JSON.

The protobuf fixtures are built here with ``gtfs_realtime_pb2`` and saved under
fixtures/gtfsrt; a test checks the saved bytes are what the builders produce.
"""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from google.transit import gtfs_realtime_pb2 as pb

from adapters.gtfsrt import GtfsRtAdapter
from hub.contracts import AdapterEnv, Parsed
from hub.devices import DeviceRegistry
from hub.errors import ConfigError, Rejected
from hub.points import Point
from hub.timestamps import FixedClock, TimePolicy

FIXTURES = Path(__file__).parent / "fixtures" / "gtfsrt"
TOPIC = "gtfsrt/vbb/vehicle_positions"
NS = 1_000_000_000
NOW_S = 1_700_000_060  # 2023-11-14T22:14:20Z
REGISTRY = {"bus-1001": {"propulsion": "electric"}, "bus-2101": {"propulsion": "diesel"}}


def make_adapter(**options: object) -> GtfsRtAdapter:
    env = AdapterEnv(
        time=TimePolicy(clock=FixedClock(NOW_S * NS)), devices=DeviceRegistry(REGISTRY)
    )
    return GtfsRtAdapter(options, env)


@pytest.fixture
def adapter() -> GtfsRtAdapter:
    return make_adapter()


def f32(value: float) -> float:
    """``value`` as protobuf's 32-bit ``float`` stores it (Position's fields are floats)."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def build_feed() -> pb.FeedMessage:
    """A morning feed: two buses with positions, a trip update, a bus without a GPS fix."""
    feed = pb.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.incrementality = pb.FeedHeader.FULL_DATASET
    feed.header.timestamp = 1_700_000_000

    bus = feed.entity.add(id="vp-1001").vehicle
    bus.trip.trip_id = "12-wd-2150"
    bus.trip.route_id = "12"
    bus.trip.direction_id = 0
    bus.trip.start_time = "21:50:00"
    bus.trip.start_date = "20231114"
    bus.vehicle.id = "bus-1001"
    bus.vehicle.label = "1001"
    bus.vehicle.license_plate = "B-VG 1001"
    bus.position.latitude = 52.520008
    bus.position.longitude = 13.404954
    bus.position.bearing = 87.5
    bus.position.speed = 8.25
    bus.position.odometer = 152_340.0
    bus.current_stop_sequence = 14
    bus.stop_id = "900100001"
    bus.current_status = pb.VehiclePosition.IN_TRANSIT_TO
    bus.timestamp = 1_699_999_990
    bus.congestion_level = pb.VehiclePosition.RUNNING_SMOOTHLY
    bus.occupancy_status = pb.VehiclePosition.MANY_SEATS_AVAILABLE
    bus.occupancy_percentage = 35

    # an older AVL unit: no vehicle.id, no route, no timestamp of its own
    old = feed.entity.add(id="vp-1002").vehicle
    old.trip.trip_id = "N2-wd-2210"
    old.position.latitude = 52.4987
    old.position.longitude = 13.3911
    old.current_status = pb.VehiclePosition.STOPPED_AT

    update = feed.entity.add(id="tu-77").trip_update
    update.trip.trip_id = "12-wd-2150"
    update.stop_time_update.add(stop_sequence=15, arrival=pb.TripUpdate.StopTimeEvent(delay=60))

    no_fix = feed.entity.add(id="vp-1003").vehicle
    no_fix.vehicle.id = "bus-1003"
    no_fix.position.latitude = 0.0
    no_fix.position.longitude = 0.0
    no_fix.timestamp = 1_699_999_999
    return feed


def build_entity() -> pb.FeedEntity:
    """A single FeedEntity, as some AVL bridges publish one message per vehicle."""
    entity = pb.FeedEntity(id="vp-1001")
    entity.vehicle.vehicle.id = "bus-1001"
    entity.vehicle.trip.route_id = "12"
    entity.vehicle.position.latitude = 52.5251
    entity.vehicle.position.longitude = 13.3694
    entity.vehicle.position.speed = 0.0
    entity.vehicle.timestamp = 1_700_000_040
    return entity


def one_bus(**vehicle: Any) -> pb.FeedMessage:
    """A feed of one vehicle entity with the given VehiclePosition fields."""
    feed = pb.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.timestamp = 1_700_000_000
    feed.entity.add(id="e1", vehicle=pb.VehiclePosition(**vehicle))
    return feed


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def json_feed(edit: Any) -> bytes:
    """fixtures/gtfsrt/feed.json after ``edit(document)``."""
    document = copy.deepcopy(json.loads(fixture("feed.json")))
    edit(document)
    return json.dumps(document).encode()


def first_vehicle(document: dict[str, Any]) -> dict[str, Any]:
    return document["entity"][0]["vehicle"]


def reason(adapter: GtfsRtAdapter, payload: bytes, topic: str = TOPIC) -> str:
    """Why the message, or the one entity of it that was refused, was refused."""
    try:
        parsed = adapter.parse(topic, payload)
    except Rejected as error:
        return error.reason
    assert isinstance(parsed, Parsed), f"nothing refused: {parsed}"
    [refused] = parsed.rejects
    return refused.reason


# --- protobuf ---------------------------------------------------------------------------------


def test_saved_protobuf_fixtures_are_what_the_builders_make() -> None:
    assert fixture("feed.pb") == build_feed().SerializeToString()
    assert fixture("entity.pb") == build_entity().SerializeToString()


def test_protobuf_feed_gives_one_point_per_vehicle_with_a_fix(adapter: GtfsRtAdapter) -> None:
    points = adapter.parse(TOPIC, fixture("feed.pb"))

    assert points == [
        Point(
            "bus_position",
            {"propulsion": "electric", "device": "bus-1001", "route": "12"},
            {
                "latitude": f32(52.520008),
                "longitude": f32(13.404954),
                "bearing_deg": 87.5,
                "speed_mps": 8.25,
                "odometer_m": 152340.0,
                "trip_id": "12-wd-2150",
                "direction_id": 0.0,
                "stop_id": "900100001",
                "current_stop_sequence": 14.0,
                "current_status": "IN_TRANSIT_TO",
                "occupancy_status": "MANY_SEATS_AVAILABLE",
                "occupancy_pct": 35.0,
                "congestion_level": "RUNNING_SMOOTHLY",
            },
            1_699_999_990 * NS,
        ),
        Point(
            "bus_position",
            {"device": "vp-1002"},  # entity id stands in; no route tag invented
            {
                "latitude": f32(52.4987),
                "longitude": f32(13.3911),
                "trip_id": "N2-wd-2210",
                "current_status": "STOPPED_AT",
            },
            1_700_000_000 * NS,  # header.timestamp
        ),
    ]


def test_protobuf_single_entity(adapter: GtfsRtAdapter) -> None:
    points = adapter.parse(TOPIC, fixture("entity.pb"))

    assert points == [
        Point(
            "bus_position",
            {"propulsion": "electric", "device": "bus-1001", "route": "12"},
            {"latitude": f32(52.5251), "longitude": f32(13.3694), "speed_mps": 0.0},
            1_700_000_040 * NS,
        )
    ]


def test_protobuf_whose_bytes_look_like_json_is_still_read(adapter: GtfsRtAdapter) -> None:
    # 0x0A (field 1, a newline) then a header length of 123 (b"{")
    feed = one_bus(position=pb.Position(latitude=52.5, longitude=13.25), timestamp=1_700_000_000)
    feed.header.gtfs_realtime_version = "2.0" + "." * 112
    payload = feed.SerializeToString()
    assert payload[:2] == b"\n{"

    (point,) = adapter.parse(TOPIC, payload)

    assert point.fields == {"latitude": 52.5, "longitude": 13.25}


def test_bytes_that_are_not_protobuf_are_rejected(adapter: GtfsRtAdapter) -> None:
    assert reason(adapter, b"\xff\xff\xff\xff") == "invalid_protobuf"


def test_truncated_protobuf_is_rejected(adapter: GtfsRtAdapter) -> None:
    assert reason(adapter, fixture("feed.pb")[:-7]) == "invalid_protobuf"


def test_empty_payload_is_rejected(adapter: GtfsRtAdapter) -> None:
    assert reason(adapter, b"") == "invalid_protobuf"


def test_protobuf_string_that_is_not_utf8_is_rejected(adapter: GtfsRtAdapter) -> None:
    payload = build_entity().SerializeToString().replace(b"bus-1001", b"bus-\xff\xfe01")
    assert reason(adapter, payload) == "invalid_protobuf"


def test_protobuf_latitude_200_is_rejected(adapter: GtfsRtAdapter) -> None:
    feed = one_bus(position=pb.Position(latitude=200.0, longitude=13.4), timestamp=1_700_000_000)
    assert reason(adapter, feed.SerializeToString()) == "out_of_range"


def test_protobuf_nan_speed_is_rejected(adapter: GtfsRtAdapter) -> None:
    position = pb.Position(latitude=52.5, longitude=13.4, speed=float("nan"))
    feed = one_bus(position=position, timestamp=1_700_000_000)
    assert reason(adapter, feed.SerializeToString()) == "not_finite"


def test_protobuf_position_without_required_latitude_is_rejected(adapter: GtfsRtAdapter) -> None:
    feed = one_bus(timestamp=1_700_000_000)
    feed.entity[0].vehicle.position.longitude = 13.4
    assert reason(adapter, feed.SerializePartialToString()) == "missing_field"


# --- JSON -------------------------------------------------------------------------------------


def test_json_feed_with_string_timestamps(adapter: GtfsRtAdapter) -> None:
    points = adapter.parse(TOPIC, fixture("feed.json"))

    assert points == [
        Point(
            "bus_position",
            {"propulsion": "diesel", "device": "bus-2101", "route": "M5"},
            {
                "latitude": 52.5219,
                "longitude": 13.4132,
                "bearing_deg": 270.0,
                "speed_mps": 11.2,
                "odometer_m": 84512.5,
                "trip_id": "M5-wd-2205",
                "direction_id": 1.0,
                "stop_id": "900100003",
                "current_stop_sequence": 7.0,
                "current_status": "INCOMING_AT",
                "occupancy_status": "STANDING_ROOM_ONLY",
                "occupancy_pct": 88.0,
                "congestion_level": "STOP_AND_GO",
            },
            1_699_999_995 * NS,
        ),
        Point(
            "bus_position",
            {"device": "bus-2102", "route": "M5"},  # not registered: no registry tags
            {
                "latitude": 52.5096,
                "longitude": 13.3762,
                "trip_id": "M5-wd-2150",
                "direction_id": 0.0,
                "stop_id": "900100020",
                "current_status": "STOPPED_AT",
                "occupancy_status": "EMPTY",
            },
            1_700_000_000 * NS,
        ),
    ]


def test_json_single_entity_with_proto_field_names(adapter: GtfsRtAdapter) -> None:
    points = adapter.parse(TOPIC, fixture("entity_snake_case.json"))

    assert points == [
        Point(
            "bus_position",
            {"device": "bus-3007", "route": "X9"},
            {
                "latitude": 52.4531,
                "longitude": 13.2904,
                "speed_mps": 0.0,
                "trip_id": "X9-sa-0815",
                "direction_id": 0.0,
                "stop_id": "900052101",
                "current_stop_sequence": 3.0,
                "current_status": "STOPPED_AT",
                "occupancy_status": "FEW_SEATS_AVAILABLE",
            },
            1_700_000_030 * NS,
        )
    ]


def test_json_enum_numbers_and_numeric_timestamp_are_accepted(adapter: GtfsRtAdapter) -> None:
    def edit(document: dict[str, Any]) -> None:
        first_vehicle(document)["currentStatus"] = 1  # STOPPED_AT
        first_vehicle(document)["timestamp"] = 1_699_999_995

    (point, _) = adapter.parse(TOPIC, json_feed(edit))

    assert point.fields["current_status"] == "STOPPED_AT"
    assert point.time_ns == 1_699_999_995 * NS


def test_malformed_json_is_rejected(adapter: GtfsRtAdapter) -> None:
    assert reason(adapter, fixture("feed.json")[:-30]) == "invalid_json"


def test_json_latitude_200_is_rejected(adapter: GtfsRtAdapter) -> None:
    payload = json_feed(lambda d: first_vehicle(d)["position"].update(latitude=200.0))
    assert reason(adapter, payload) == "out_of_range"


def test_json_longitude_below_minus_180_is_rejected(adapter: GtfsRtAdapter) -> None:
    payload = json_feed(lambda d: first_vehicle(d)["position"].update(longitude=-180.5))
    assert reason(adapter, payload) == "out_of_range"


def test_json_negative_speed_is_rejected(adapter: GtfsRtAdapter) -> None:
    payload = json_feed(lambda d: first_vehicle(d)["position"].update(speed=-1.0))
    assert reason(adapter, payload) == "out_of_range"


def test_json_bearing_above_360_is_rejected(adapter: GtfsRtAdapter) -> None:
    payload = json_feed(lambda d: first_vehicle(d)["position"].update(bearing=361.0))
    assert reason(adapter, payload) == "out_of_range"


@pytest.mark.parametrize("nan", [b"NaN", b'"NaN"', b'"Infinity"'])
def test_json_non_finite_coordinate_is_rejected(adapter: GtfsRtAdapter, nan: bytes) -> None:
    payload = fixture("feed.json").replace(b'"latitude": 52.5219', b'"latitude": ' + nan)
    assert nan in payload
    assert reason(adapter, payload) == "not_finite"


def test_json_coordinate_as_string_is_rejected(adapter: GtfsRtAdapter) -> None:
    payload = json_feed(lambda d: first_vehicle(d)["position"].update(latitude="52.5219"))
    assert reason(adapter, payload) == "wrong_type"


def test_json_timestamp_that_is_not_a_number_is_rejected(adapter: GtfsRtAdapter) -> None:
    payload = json_feed(lambda d: first_vehicle(d).update(timestamp="2023-11-14T22:13:15Z"))
    assert reason(adapter, payload) == "wrong_type"


def test_json_unknown_enum_name_is_rejected(adapter: GtfsRtAdapter) -> None:
    payload = json_feed(lambda d: first_vehicle(d).update(currentStatus="PARKED"))
    assert reason(adapter, payload) == "bad_value"


def test_json_position_without_longitude_is_rejected(adapter: GtfsRtAdapter) -> None:
    payload = json_feed(lambda d: first_vehicle(d)["position"].pop("longitude"))
    assert reason(adapter, payload) == "missing_field"


def test_json_feed_without_header_is_rejected(adapter: GtfsRtAdapter) -> None:
    assert reason(adapter, json_feed(lambda d: d.pop("header"))) == "missing_field"


def test_json_array_instead_of_object_is_rejected(adapter: GtfsRtAdapter) -> None:
    assert reason(adapter, b'[{"id": "vp-1"}]') == "wrong_type"


# --- both encodings: ids, times, presence -----------------------------------------------------


def test_future_timestamp_is_rejected(adapter: GtfsRtAdapter) -> None:
    feed = one_bus(position=pb.Position(latitude=52.5, longitude=13.4), timestamp=NOW_S + 3600)
    assert reason(adapter, feed.SerializeToString()) == "future_timestamp"


def test_no_timestamp_in_vehicle_nor_header_is_rejected(adapter: GtfsRtAdapter) -> None:
    feed = one_bus(position=pb.Position(latitude=52.5, longitude=13.4))
    feed.header.ClearField("timestamp")
    assert reason(adapter, feed.SerializeToString()) == "missing_field"


@pytest.mark.parametrize("vehicle_id", ["bus/1001", "bus'1001", 'bus"1001', "bus 1001"])
def test_bad_vehicle_id_is_rejected(adapter: GtfsRtAdapter, vehicle_id: str) -> None:
    payload = json_feed(lambda d: first_vehicle(d)["vehicle"].update(id=vehicle_id))
    assert reason(adapter, payload) == "bad_id"


def test_bad_entity_id_standing_in_for_a_missing_vehicle_id_is_rejected(
    adapter: GtfsRtAdapter,
) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["entity"][0]["id"] = "vp/2101"
        del first_vehicle(document)["vehicle"]

    assert reason(adapter, json_feed(edit)) == "bad_id"


def test_empty_vehicle_id_is_absent_and_the_entity_id_stands_in(adapter: GtfsRtAdapter) -> None:
    payload = json_feed(lambda d: first_vehicle(d)["vehicle"].update(id=""))

    (point, _) = adapter.parse(TOPIC, payload)

    assert point.tags["device"] == "vp-2101"


def test_bad_route_id_is_rejected(adapter: GtfsRtAdapter) -> None:
    payload = json_feed(lambda d: first_vehicle(d)["trip"].update(routeId="M5,district=x"))
    assert reason(adapter, payload) == "bad_id"


def test_feed_without_vehicle_entities_is_rejected(adapter: GtfsRtAdapter) -> None:
    feed = build_feed()
    vehicles = [entity for entity in feed.entity if entity.HasField("vehicle")]
    for entity in vehicles:
        feed.entity.remove(entity)
    assert len(feed.entity) == 1
    assert reason(adapter, feed.SerializeToString()) == "no_vehicle_position"


def test_feed_of_buses_without_gps_fix_is_rejected(adapter: GtfsRtAdapter) -> None:
    feed = one_bus(position=pb.Position(latitude=0.0, longitude=0.0), timestamp=1_700_000_000)
    assert reason(adapter, feed.SerializeToString()) == "no_vehicle_position"


def test_deleted_entity_is_skipped(adapter: GtfsRtAdapter) -> None:
    payload = json_feed(lambda d: d["entity"][0].update(isDeleted=True))

    points = adapter.parse(TOPIC, payload)

    assert [point.tags["device"] for point in points] == ["bus-2102"]


def test_require_registered_rejects_unknown_vehicles() -> None:
    assert reason(make_adapter(require_registered=True), fixture("feed.json")) == "unknown_device"


def test_require_registered_accepts_registered_vehicles() -> None:
    (point,) = make_adapter(require_registered=True).parse(TOPIC, fixture("entity.pb"))
    assert point.tags == {"propulsion": "electric", "device": "bus-1001", "route": "12"}


def test_topic_of_another_shape_is_rejected(adapter: GtfsRtAdapter) -> None:
    assert reason(adapter, fixture("feed.pb"), "gtfsrt/vbb/trip_updates") == "bad_topic"


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"require_registerd": True}, "adapter gtfsrt option require_registerd"),
        ({"require_registered": "yes"}, "adapter gtfsrt option require_registered"),
    ],
)
def test_bad_options_are_config_errors_naming_the_option(
    options: dict[str, object], setting: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        GtfsRtAdapter(options, AdapterEnv())
    assert caught.value.setting == setting


def test_one_corrupt_vehicle_of_500_is_one_reject_naming_it(adapter: GtfsRtAdapter) -> None:
    feed = pb.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.timestamp = 1_700_000_000
    for i in range(500):
        entity = feed.entity.add(id=f"e{i}")
        entity.vehicle.vehicle.id = f"bus-{i:04d}"
        entity.vehicle.position.latitude = 200.0 if i == 137 else 52.0 + i / 1000
        entity.vehicle.position.longitude = 13.4
    parsed = adapter.parse(TOPIC, feed.SerializeToString())
    assert isinstance(parsed, Parsed)
    assert len(parsed) == 499
    assert "bus-0137" not in {p.tags["device"] for p in parsed}
    [refused] = parsed.rejects
    assert refused.reason == "out_of_range"
    assert refused.detail.startswith("entity 'e137' (vehicle 'bus-0137'): ")
