"""Two hubs on one registry file (replicas sharing a volume): an admin change through one hub
applies on the other within seconds, and concurrent admin changes through both never lose one
another."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from hub.broker import Mosquitto
from hub.devices import DeviceRegistry
from tests.conftest import ADMIN_KEY, HubProcess, Publisher, wait_until, write_registry


def start_hub(tmp_path: Path, name: str, broker: Mosquitto, registry: Path) -> HubProcess:
    folder = tmp_path / name
    folder.mkdir()
    return HubProcess(
        folder,
        broker.port,
        CITYHUB_MQTT__CLIENT_ID=f"hub-{name}",
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
    ).start()


def registered(hub: HubProcess, device: str) -> dict | None:
    with hub.client() as client:
        response = client.get(f"/api/v1/devices/{device}")
    return response.json() if response.status_code == 200 else None


def test_an_admin_change_through_one_hub_applies_on_the_other(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    registry = write_registry(tmp_path / "devices.json", {"m-1": {"building": "b-1"}})
    hub_a = start_hub(tmp_path, "a", mosquitto, registry)
    hub_b = start_hub(tmp_path, "b", mosquitto, registry)
    publisher = Publisher(mosquitto.port)
    try:
        assert registered(hub_b, "m-new") is None
        with hub_a.client(ADMIN_KEY) as admin:
            response = admin.put("/api/v1/devices/m-new", json={"tags": {"building": "b-9"}})
        assert response.status_code == 201, response.text
        changed_at = time.monotonic()
        row = wait_until(lambda: registered(hub_b, "m-new"), timeout_s=5, interval_s=0.05)
        print(f"hub B saw the change after {time.monotonic() - changed_at:.2f} s")
        assert row["tags"] == {"building": "b-9"}

        # Hub B now ingests the device rather than dead-lettering it as unknown_device.
        at_s = time.time() - 30
        reading = json.dumps([{"bt": at_s, "n": "power", "u": "W", "v": 42.0}])
        publisher.publish_all([("senml/m-new", reading)])

        def stored_on_b() -> list:
            with hub_b.client() as client:
                response = client.get(
                    "/api/v1/latest",
                    params={"measurement": "building_energy", "device": "m-new"},
                )
            return response.json()["rows"] if response.status_code == 200 else []

        [stored] = wait_until(stored_on_b, message="hub B did not ingest the new device")
        assert stored["tags"]["building"] == "b-9"
        with hub_b.client(ADMIN_KEY) as admin:
            letters = admin.get("/api/v1/dead-letters").json()["dead_letters"]
        assert [letter for letter in letters if letter["reason"] == "unknown_device"] == []

        # A removal through B applies on A too.
        with hub_b.client(ADMIN_KEY) as admin:
            assert admin.delete("/api/v1/devices/m-1").status_code == 204
        wait_until(lambda: registered(hub_a, "m-1") is None, timeout_s=5)
    finally:
        publisher.close()
        hub_a.stop()
        hub_b.stop()


def test_concurrent_admin_writes_through_two_hubs_all_land(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    registry = write_registry(tmp_path / "devices.json", {"m-0": {"building": "b-0"}})
    hubs = [start_hub(tmp_path, name, mosquitto, registry) for name in ("a", "b")]
    devices = [f"m-{n}" for n in range(1, 11)]

    def put(index: int) -> int:
        hub = hubs[index % 2]
        response = httpx.put(
            f"{hub.base_url}/api/v1/devices/{devices[index]}",
            json={"tags": {"building": f"b-{index}"}},
            headers={"X-API-Key": ADMIN_KEY},
            timeout=30,
        )
        return response.status_code

    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(put, range(10)))
        assert statuses == [201] * 10
        expected = {"m-0": {"building": "b-0"}} | {
            device: {"building": f"b-{n}"} for n, device in enumerate(devices)
        }
        assert DeviceRegistry.from_file(registry).as_dict() == expected
        for hub in hubs:
            wait_until(
                lambda hub=hub: all(registered(hub, device) for device in expected), timeout_s=5
            )
    finally:
        for hub in hubs:
            hub.stop()
