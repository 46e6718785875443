"""The device registry: every publishing device is in it, in the hub's own file format."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.broker import Mosquitto
from hub.devices import ID_PATTERN, DeviceRegistry
from simulators.cli import main as simulate
from simulators.faults import FaultPlan
from simulators.registry import add_missing_to_registry, write_registry
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


def test_add_missing_keeps_admin_changes_and_adds_only_new_devices(
    city: City, tmp_path: Path
) -> None:
    path = tmp_path / "registry" / "devices.json"
    assert sorted(add_missing_to_registry(city, path)) == sorted(city.registry()["devices"])
    meter = city.meters[0].meter_id
    admin = DeviceRegistry.from_file(path)
    admin.put(meter, {"building": "b-moved"})  # an admin's change
    admin.put("m-extra", {"building": "b-extra"})  # a device the simulators do not know
    assert add_missing_to_registry(city, path) == []  # the next `docker compose up`
    after = DeviceRegistry.from_file(path).as_dict()
    assert after[meter] == {"building": "b-moved"}
    assert after["m-extra"] == {"building": "b-extra"}
    removed = city.charge_points[0].cp_id
    admin.remove(removed)
    assert add_missing_to_registry(city, path) == [removed]  # missing again: added back


def test_the_backfill_runs_once_per_marker(
    mosquitto: Mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "volume" / ".backfill-done"
    argv = [
        "--host", "127.0.0.1", "--port", str(mosquitto.port), "--qos", "1",
        "--buildings", "2", "--charge-points", "1", "--buses", "1", "--quiet",
        "--backfill", "10m", "--backfill-only", "--backfill-marker", str(marker),
    ]  # fmt: skip
    assert simulate(argv) == 0
    first = capsys.readouterr().err
    published = re.search(r"published (\d+) backfill", first)
    assert published and int(published[1]) > 0, first
    assert marker.exists()
    assert simulate(argv) == 0
    second = capsys.readouterr().err
    assert "backfill skipped" in second and "published" not in second
