"""``--bus-format hfp`` and ``--mapped-devices``: the simulated HFP buses, Zigbee2MQTT plugs
and Shelly Pro 3EMs go through the hub's HFP adapter and shipped mappings (routed as the hub
routes them) and give exactly the values the simulator says it encodes."""

from __future__ import annotations

from collections import Counter

from adapters.mappings import SHIPPED
from hub.mapping import load_mappings
from hub.topics import TopicRouter
from simulators.cli import main
from simulators.scenario import City
from tests.simulators.conftest import MONDAY_NS, NS, Hub, assert_reproduces


class MappedHub(Hub):
    def __init__(self, city: City) -> None:
        super().__init__(city)
        built_in = {a.name for a in self.adapters}
        self.adapters += load_mappings(SHIPPED / "all.yaml", self.env, built_in)
        self.router = TopicRouter(((a.topics, a) for a in self.adapters), name=lambda a: a.name)


def test_hfp_buses_and_mapped_meters_round_trip() -> None:
    city = City.build(seed=42, buildings=16, buses=4, bus_format="hfp", mapped_devices=True)
    hub = MappedHub(city)
    seen: Counter[str] = Counter()
    adapters: set[str] = set()
    for message in city.messages(MONDAY_NS + 7 * 3600 * NS, MONDAY_NS + 8 * 3600 * NS):
        assert_reproduces(hub, message)
        seen[message.wire] += 1
        adapters.add(hub.adapter_for(message).name)
    assert {"hfp", "zigbee2mqtt", "shelly-pro-3em"} <= set(seen)
    assert not {"gtfsrt-json", "gtfsrt-protobuf"} & set(seen)
    assert {"hfp", "zigbee2mqtt_plug", "shelly_pro_3em_power", "shelly_pro_3em_energy"} <= (
        adapters
    )


def test_the_options_leave_the_rest_of_the_city_as_it_was() -> None:
    plain = City.build(seed=42, buildings=16, buses=4)
    varied = City.build(seed=42, buildings=16, buses=4, bus_format="hfp", mapped_devices=True)
    assert [(b.building_id, b.kind, b.district) for b in plain.buildings] == [
        (b.building_id, b.kind, b.district) for b in varied.buildings
    ]
    assert [m.initial_wh for m in plain.meters] == [m.initial_wh for m in varied.meters]
    assert [b.offset_s for b in plain.buses] == [b.offset_s for b in varied.buses]
    assert [cp.cp_id for cp in plain.charge_points] == [cp.cp_id for cp in varied.charge_points]
    changed = [m.wire for p, m in zip(plain.meters, varied.meters, strict=True) if p.wire != m.wire]
    assert changed and set(changed) <= {"zigbee2mqtt", "shelly-pro-3em"}


def test_cli_prints_hfp_and_mapped_messages(capsys) -> None:
    code = main(["--bus-format", "hfp", "--mapped-devices", "--buildings", "16", "--print", "400",
                 "--quiet"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "zigbee2mqtt/plug_" in out and "/status/emdata:0" in out  # (buses sleep at night)
