"""Topic filters, routing, the device registry and adapter discovery."""

from __future__ import annotations

import pytest

from hub.contracts import AdapterEnv
from hub.devices import DeviceRegistry
from hub.errors import ConfigError, Rejected
from hub.plugins import available_adapters, load_adapters
from hub.topics import TopicFilter, TopicRouter


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("senml/+", "senml/m-1", True),
        ("senml/+", "senml/m-1/x", False),
        ("senml/+", "senml", False),
        ("tele/+/SENSOR", "tele/plug/SENSOR", True),
        ("tele/+/SENSOR", "tele/plug/STATE", False),
        ("ocpp/#", "ocpp/cp/CP-1", True),
        ("ocpp/#", "ocpp", True),
        ("+/status/+", "shelly-1/status/switch:0", True),
    ],
)
def test_filters_match_as_mqtt_says(pattern: str, topic: str, matches: bool) -> None:
    assert TopicFilter(pattern).matches(topic) is matches


@pytest.mark.parametrize("pattern", ["", "a/#/b", "a/b#", "a+/b"])
def test_malformed_filters_are_config_errors(pattern: str) -> None:
    with pytest.raises(ConfigError):
        TopicFilter(pattern)


def test_shared_subscription_string() -> None:
    assert TopicFilter("senml/+").shared("hubs") == "$share/hubs/senml/+"
    assert TopicFilter("senml/+").shared(None) == "senml/+"


def test_router_picks_the_first_match_and_bounds_its_cache() -> None:
    router = TopicRouter(
        [((TopicFilter("a/+"),), "first"), ((TopicFilter("a/#"),), "second")], cache_size=2
    )
    assert router.route("a/x") == "first"
    assert router.route("a/x/y") == "second"
    assert router.route("b") is None
    assert router.route("a/z") == "first"  # cache was full and got cleared, still right


def test_registry_rejects_unknown_devices_and_bad_ids() -> None:
    registry = DeviceRegistry({"m-1": {"building": "b-1"}})
    assert registry.lookup("m-1") == {"building": "b-1"}
    with pytest.raises(Rejected, match="unknown_device"):
        registry.lookup("m-2")
    with pytest.raises(Rejected, match="bad_id"):
        DeviceRegistry({"m/1": {"building": "b-1"}})
    with pytest.raises(Rejected, match="bad_id"):
        DeviceRegistry({"m-1": {"building": "b 1,x=y"}})


def test_registry_file_errors_name_the_setting(tmp_path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match="CITYHUB_INGEST__REGISTRY_FILE"):
        DeviceRegistry.from_file(missing)
    broken = tmp_path / "broken.json"
    broken.write_text('{"devices": [1, 2]}')
    with pytest.raises(ConfigError, match="'devices' object"):
        DeviceRegistry.from_file(broken)


def test_every_family_is_an_installed_entry_point() -> None:
    assert {"senml", "tasmota", "shelly", "ocpp", "gtfsrt", "hfp"} <= set(available_adapters())
    adapters = load_adapters(None, {}, AdapterEnv())
    assert {a.name for a in adapters} >= {"senml", "tasmota", "shelly", "ocpp", "gtfsrt", "hfp"}


def test_unknown_adapter_names_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"CITYHUB_INGEST__ADAPTERS.*'modbus'"):
        load_adapters(["senml", "modbus"], {}, AdapterEnv())


@pytest.mark.parametrize(
    ("options", "setting", "message"),
    [
        ({"senml": {"topicc": "x/+"}}, "adapter senml option topicc", "unknown option"),
        ({"senml": {"topic": "x/#"}}, "adapter senml option topic", "ending in '/+'"),
        ({"gtfsrt": {"require_registered": "yes"}}, "adapter gtfsrt option require_registered",
         "valid boolean"),
        ({"ocpp": {"versions": {"CP-1": "2.0"}}}, "adapter ocpp option versions",
         "CP-1: version '2.0' is not one of"),
        ({"ocpp": {"versions": {"CP-1": 1.6}}}, "adapter ocpp option versions",
         "CP-1: Input should be a valid string"),
        ({"tasmota": {"zone": "UTC"}}, "adapter tasmota option zone", "unknown option"),
    ],
)  # fmt: skip
def test_adapter_options_are_validated_with_a_message_naming_the_option(
    options: dict, setting: str, message: str
) -> None:
    """Each adapter's options are a pydantic model; a mistake stops start-up saying what."""
    with pytest.raises(ConfigError) as caught:
        load_adapters(list(options), options, AdapterEnv())
    assert caught.value.setting == setting
    assert message in caught.value.message, caught.value.message


def test_adapter_options_take_effect() -> None:
    [senml, gtfsrt] = load_adapters(
        ["senml", "gtfsrt"],
        {"senml": {"topic": "meters/+"}, "gtfsrt": {"require_registered": True}},
        AdapterEnv(),
    )
    assert [f.value for f in senml.topics] == ["meters/+"]
    with pytest.raises(Rejected, match=r"not in the registry|unknown"):
        gtfsrt.parse("gtfsrt/city/vehicle_positions", _one_vehicle_feed())


def _one_vehicle_feed() -> bytes:
    from google.transit import gtfs_realtime_pb2 as rt

    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.timestamp = 1_700_000_000
    entity = feed.entity.add(id="e1")
    entity.vehicle.vehicle.id = "bus-1"
    entity.vehicle.position.latitude = 52.5
    entity.vehicle.position.longitude = 13.4
    entity.vehicle.timestamp = 1_700_000_000
    return feed.SerializeToString()
