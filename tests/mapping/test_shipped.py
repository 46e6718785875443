"""The shipped mappings: recorded device payloads → the exact canonical points.

Payloads in ``payloads/`` follow the devices' public documentation (Shelly Gen2 API ``EM`` and
``EMData`` status, Shelly Gen1 MQTT topics, Zigbee2MQTT exposes of metering plugs).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.mappings import SHIPPED
from hub.contracts import Adapter, AdapterEnv
from hub.devices import DeviceRegistry
from hub.mapping import load_mappings
from hub.plugins import load_adapters
from hub.points import Point
from hub.timestamps import FixedClock, TimePolicy
from hub.topics import TopicRouter

PAYLOADS = Path(__file__).parent / "payloads"
NOW_NS = 1_733_000_000 * 1_000_000_000
TAGS = {"building": "b-017", "district": "harbour"}
REGISTRY = {
    "shellypro3em-0cb815fcaff4": TAGS,
    "shelly1pm-84CCA8A11B2C": TAGS,
    "office_plug_3": TAGS,
}


def env() -> AdapterEnv:
    return AdapterEnv(time=TimePolicy(clock=FixedClock(NOW_NS)), devices=DeviceRegistry(REGISTRY))


@pytest.fixture(scope="module")
def router() -> TopicRouter[Adapter]:
    """Every shipped mapping (all.yaml includes them) next to every built-in adapter, routed
    as the hub routes."""
    environment = env()
    adapters: list[Adapter] = load_adapters(None, {}, environment)
    built_in = {a.name for a in adapters}
    adapters += load_mappings(SHIPPED / "all.yaml", environment, built_in)
    return TopicRouter(((a.topics, a) for a in adapters), name=lambda a: a.name)


def parse(router: TopicRouter[Adapter], topic: str, payload_file: str) -> tuple[str, list[Point]]:
    adapter = router.route(topic)
    assert adapter is not None, topic
    return adapter.name, adapter.parse(topic, (PAYLOADS / payload_file).read_bytes())


def test_shelly_pro_3em_power_per_phase_and_total_in_one_point(router) -> None:
    device = "shellypro3em-0cb815fcaff4"
    name, points = parse(router, f"{device}/status/em:0", "shelly-pro-3em-em0.json")
    assert name == "shelly_pro_3em_power"  # more specific than the built-in shelly +/status/+
    assert points == [
        Point(
            "building_energy",
            {**TAGS, "device": device},
            {
                "power_w": 715.502,
                "power_w_l1": 951.2,
                "power_w_l2": -951.1,
                "power_w_l3": 715.4,
                "apparent_power_va": 2619.999,
                "apparent_power_va_l1": 951.9,
                "apparent_power_va_l2": 951.8,
                "apparent_power_va_l3": 716.3,
                "current_a": 11.083,
                "current_a_l1": 4.029,
                "current_a_l2": 4.027,
                "current_a_l3": 3.03,
                "current_a_n": 11.029,
                "voltage_v_l1": 236.1,
                "voltage_v_l2": 236.201,
                "voltage_v_l3": 236.402,
                "power_factor_pct_l1": 100.0,
                "power_factor_pct_l2": 100.0,
                "power_factor_pct_l3": 100.0,
                "frequency_hz_l1": 50.0,
                "frequency_hz_l2": 50.0,
                "frequency_hz_l3": 50.0,
            },
            NOW_NS,
        )
    ]


def test_shelly_pro_3em_energy_registers(router) -> None:
    device = "shellypro3em-0cb815fcaff4"
    name, points = parse(router, f"{device}/status/emdata:0", "shelly-pro-3em-emdata0.json")
    assert name == "shelly_pro_3em_energy"
    assert points == [
        Point(
            "building_energy",
            {**TAGS, "device": device},
            {
                "energy_import_wh": 8130.66,
                "energy_export_wh": 0.0,
                "energy_import_wh_l1": 2722.49,
                "energy_import_wh_l2": 2654.56,
                "energy_import_wh_l3": 2753.61,
                "energy_export_wh_l1": 0.0,
                "energy_export_wh_l2": 0.0,
                "energy_export_wh_l3": 0.0,
            },
            NOW_NS,
        )
    ]


def test_the_built_in_shelly_adapter_keeps_its_switches(router) -> None:
    assert router.route("shellyplus1pm-a8032ab12345/status/switch:0").name == "shelly"
    # and the hub subscribes once to the Shelly family, not once per mapping
    filters = [f.value for f in router.filters]
    assert "+/status/+" in filters
    assert "+/status/em:0" not in filters


def test_shelly_gen1_relay_power_and_watt_minute_energy(router) -> None:
    device = "shelly1pm-84CCA8A11B2C"
    tags = {**TAGS, "device": device, "channel": "0"}
    name, points = parse(router, f"shellies/{device}/relay/0/power", "shelly-gen1-relay-power.txt")
    assert name == "shelly_gen1_relay_power"
    assert points == [Point("building_energy", tags, {"power_w": 103.71}, NOW_NS)]
    name, points = parse(
        router, f"shellies/{device}/relay/0/energy", "shelly-gen1-relay-energy.txt"
    )
    assert name == "shelly_gen1_relay_energy"
    assert points == [Point("building_energy", tags, {"energy_import_wh": 31337 / 60}, NOW_NS)]


def test_zigbee2mqtt_plug_full_state_and_partial_state(router) -> None:
    tags = {**TAGS, "device": "office_plug_3"}
    name, points = parse(router, "zigbee2mqtt/office_plug_3", "zigbee2mqtt-plug.json")
    assert name == "zigbee2mqtt_plug"
    assert points == [
        Point(
            "building_energy",
            tags,
            {"power_w": 12.0, "energy_import_wh": 1620.0, "voltage_v": 235.0, "current_a": 0.13},
            NOW_NS,
        )
    ]
    _, points = parse(router, "zigbee2mqtt/office_plug_3", "zigbee2mqtt-plug-power-only.json")
    assert points == [Point("building_energy", tags, {"power_w": 0.0}, NOW_NS)]


def test_all_yaml_includes_every_shipped_file() -> None:
    names = {a.name for a in load_mappings(SHIPPED / "all.yaml", env())}
    for file in SHIPPED.glob("*.yaml"):
        if file.name != "all.yaml":
            assert {a.name for a in load_mappings(file, env())} <= names, file


def test_a_three_phase_meter_counts_once_in_the_building_total(tmp_path) -> None:
    """Per-phase registers ride in the same point as the total, in other fields: the
    building's consumption (increase of energy_import_wh) counts the meter once."""
    import json

    from hub.insights.energy import consumption_wh
    from hub.stores.duckdb import DuckDBStore
    from hub.timestamps import FixedClock

    device = "shellypro3em-0cb815fcaff4"
    clock = FixedClock(NOW_NS)
    environment = AdapterEnv(time=TimePolicy(clock=clock), devices=DeviceRegistry(REGISTRY))
    (_, energy) = load_mappings(SHIPPED / "shelly-pro-3em.yaml", environment)
    first = json.loads((PAYLOADS / "shelly-pro-3em-emdata0.json").read_text())
    later = dict(first)
    for key, step_wh in (("a_total_act_energy", 100.0), ("b_total_act_energy", 50.0),
                         ("c_total_act_energy", 25.0), ("total_act", 175.0)):  # fmt: skip
        later[key] = first[key] + step_wh
    store = DuckDBStore(tmp_path / "hub.duckdb")
    try:
        for offset_s, document in ((0, first), (600, later)):
            clock.time_ns = NOW_NS + offset_s * 1_000_000_000
            store.write(energy.parse(f"{device}/status/emdata:0", json.dumps(document).encode()))
        used = consumption_wh(store, {"building": ("b-017",)}, NOW_NS, NOW_NS + 3600 * 10**9, None)
    finally:
        store.close()
    assert list(used.values()) == [pytest.approx(175.0)]
