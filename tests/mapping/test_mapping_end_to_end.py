"""A device type the hub has no Python for, onboarded with a mappings file alone: through a
real Mosquitto, the hub process and DuckDB into the HTTP API. The test adds no adapter code:
everything device-specific is the YAML below (and a shipped mapping it includes)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from adapters.mappings import SHIPPED
from hub.broker import Mosquitto
from hub.insights.context import format_time
from tests.conftest import ADMIN_KEY, HubProcess, Publisher, wait_until, write_registry

MINUTE_NS = 60 * 10**9
T0 = (time.time_ns() // MINUTE_NS - 120) * MINUTE_NS  # two hours ago, on a minute

# A LoRaWAN gateway forwarding room sensors: one uplink carries several sensors, time in ms,
# temperature in Fahrenheit, humidity as a 0..1 share.
MAPPINGS = f"""
include: ["{SHIPPED / "zigbee2mqtt-plug.yaml"}"]
mappings:
  - name: room_gateway
    topic: "lorawan/{{site}}/uplink"
    measurement: indoor_climate
    device: {{item: sensor}}
    registry: optional
    time: {{path: received_ms, format: epoch_ms}}
    each: readings
    tags:
      site: "{{site}}"
    fields:
      temperature_c: {{path: temp_f, unit: Fahrenheit}}
      humidity_pct: {{path: rh, unit: ratio}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, Publisher]]:
    tmp = tmp_path_factory.mktemp("mapped")
    broker = Mosquitto(tmp / "broker").start()
    registry = write_registry(tmp / "registry.json", {"room-101": {"building": "b-7"},
                                                      "plug-7": {"building": "b-7"}})  # fmt: skip
    mappings = tmp / "mappings.yaml"
    mappings.write_text(MAPPINGS)
    hub = HubProcess(
        tmp,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__MAPPINGS_FILE=str(mappings),
    ).start()
    publisher = Publisher(broker.port, "mapped-devices")
    yield hub, publisher
    publisher.close()
    hub.stop()
    broker.stop()


def uplink(minute: int, readings: list[dict]) -> str:
    return json.dumps({"received_ms": (T0 + minute * MINUTE_NS) // 10**6, "readings": readings})


def test_new_device_type_end_to_end(stack) -> None:
    hub, publisher = stack
    publisher.publish_all(
        [
            ("lorawan/depot/uplink", uplink(0, [{"sensor": "room-101", "temp_f": 68, "rh": 0.4},
                                                {"sensor": "room-102", "temp_f": 77, "rh": 0.6}])),
            ("lorawan/depot/uplink",
             uplink(1, [{"sensor": "room-101", "temp_f": 71.6, "rh": 0.5}])),
            ("lorawan/depot/uplink", uplink(2, [{"sensor": "room-101", "rh": 0.5}])),  # no temp
            ("zigbee2mqtt/plug-7", json.dumps({"power": 40, "energy": 1.5, "state": "ON"})),
        ]
    )  # fmt: skip
    params = {
        "measurement": "indoor_climate",
        "field": "temperature_c",
        "fn": "mean",
        "every": "1h",
        "start": format_time(T0),
        "end": format_time(T0 + 10 * MINUTE_NS),
        "group_by": "device",
    }

    def series() -> dict[str, float]:
        with hub.client() as client:
            response = client.get("/api/v1/aggregate", params=params)
        assert response.status_code == 200, response.text
        return {
            s["tags"]["device"]: round(s["points"][0]["value"], 9)
            for s in response.json()["series"]
        }

    # room-101: 20 °C and 22 °C; room-102 (not registered, registry optional): 25 °C
    wait_until(lambda: series() == {"room-101": 21.0, "room-102": 25.0}, message=str(series()))
    with hub.client() as client:
        latest = client.get(
            "/api/v1/latest", params={"measurement": "indoor_climate", "where": "device:room-101"}
        ).json()["rows"]
        assert latest[0]["tags"] == {"device": "room-101", "building": "b-7", "site": "depot"}
        assert latest[0]["fields"]["humidity_pct"] == 50.0
        plug = client.get("/api/v1/latest", params={"measurement": "building_energy"}).json()
        assert plug["rows"][0]["tags"] == {"device": "plug-7", "building": "b-7"}
        assert plug["rows"][0]["fields"] == {"power_w": 40.0, "energy_import_wh": 1500.0}

    def letters() -> list[dict]:
        with hub.client(ADMIN_KEY) as client:
            response = client.get("/api/v1/dead-letters", params={"adapter": "room_gateway"})
        return response.json()["dead_letters"]

    [letter] = wait_until(letters, message="the uplink without temperature was not refused")
    assert letter["reason"] == "missing_field"
    assert letter["detail"] == (
        "mapping 'room_gateway': element 1: fields.temperature_c 'temp_f' found nothing"
    )
