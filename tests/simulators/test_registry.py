"""The device registry: every publishing device is in it, in the hub's own file format."""

from __future__ import annotations

from pathlib import Path

from hub.devices import ID_PATTERN, DeviceRegistry
from simulators.faults import FaultPlan
from simulators.registry import write_registry
from simulators.scenario import City
from simulators.truth import SimMessage
from tests.simulators.conftest import MONDAY_NS, NS


def test_registry_covers_every_publishing_device(
    city: City, day_of_messages: list[SimMessage]
) -> None:
    devices = city.registry()["devices"]
    assert {m.device for m in day_of_messages} == set(devices)
    assert {e.device for m in day_of_messages for e in m.truth} <= set(devices)


def test_only_the_injected_unknown_devices_are_unregistered(city: City) -> None:
    devices = city.registry()["devices"]
    start = MONDAY_NS + 9 * 3600 * NS
    messages = list(
        city.messages(start, start + 1800 * NS, faults=FaultPlan(0.2, ("unknown_device",)))
    )
    unknown = [m for m in messages if m.device not in devices]
    assert unknown
    assert all(m.fault is not None and m.fault.kind == "unknown_device" for m in unknown)


def test_ids_and_tags_are_valid_and_shaped_per_family(city: City) -> None:
    devices = city.registry()["devices"]
    for device_id, tags in devices.items():
        assert ID_PATTERN.fullmatch(device_id)
        assert all(ID_PATTERN.fullmatch(value) for value in tags.values())
    for meter in city.meters:
        assert set(devices[meter.meter_id]) == {"building", "district", "kind"}
    for cp in city.charge_points:
        assert set(devices[cp.cp_id]) == {"site", "district"}
    for bus in city.buses:
        assert devices[bus.vehicle_id]["propulsion"] in {"electric", "diesel"}


def test_write_registry_is_read_by_the_hub(city: City, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "registry.json"
    write_registry(city, path)
    registry = DeviceRegistry.from_file(path)
    assert registry.as_dict() == city.registry()["devices"]
    assert not list(path.parent.glob("*.partial"))
