"""``/ready`` proves the store with the hub's own credentials: against a real InfluxDB 1.x
with authentication on, a hub with a wrong password, or a user that may read but not write, is
unready within seconds and says which setting to fix; the right credentials store points."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.broker import Mosquitto
from tests.conftest import HubProcess, Publisher, wait_until, write_registry
from tests.servers_influx import (
    RunningServer,
    ServerMissing,
    influx_query,
    start_influxd,
    stop_server,
)

ADMIN = ("admin", "admin-password-0123")
READER = ("reader", "reader-password-0123")
CREDENTIALS = "check CITYHUB_STORE__INFLUX_USERNAME and CITYHUB_STORE__INFLUX_PASSWORD"


@pytest.fixture
def secured_influxd(tmp_path: Path) -> Iterator[RunningServer]:
    try:
        server = start_influxd(tmp_path / "influxd", "cityhub", admin=ADMIN)
    except ServerMissing as missing:
        if os.environ.get("CI"):
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    influx_query(server.url, f"CREATE USER {READER[0]} WITH PASSWORD '{READER[1]}'", auth=ADMIN)
    influx_query(server.url, f'GRANT READ ON "cityhub" TO {READER[0]}', auth=ADMIN)
    yield server
    stop_server(server)


def start_hub(
    tmp_path: Path, broker: Mosquitto, influxd: RunningServer, user: str, password: str
) -> HubProcess:
    folder = tmp_path / f"hub-{user}-{password[:5]}"
    folder.mkdir()
    registry = write_registry(folder / "registry.json", {"m-1": {"building": "b-1"}})
    return HubProcess(
        folder,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
        CITYHUB_STORE__BACKEND="influxdb",
        CITYHUB_STORE__INFLUX_API="v1",
        CITYHUB_STORE__INFLUX_URL=influxd.url,
        CITYHUB_STORE__INFLUX_BUCKET="cityhub",
        CITYHUB_STORE__INFLUX_USERNAME=user,
        CITYHUB_STORE__INFLUX_PASSWORD=password,
        CITYHUB_STORE__INFLUX_TIMEOUT_S="2",
    ).start(wait_ready=False)


def store_check(hub: HubProcess) -> tuple[int, dict] | None:
    try:
        response = httpx.get(f"{hub.base_url}/ready", timeout=2)
    except httpx.HTTPError:
        return None  # not serving yet
    return response.status_code, response.json()["checks"]["store"]


@pytest.mark.parametrize(
    ("user", "password", "expected"),
    [
        (ADMIN[0], "wrong-password", f'401 unauthorized for bucket "cityhub" ({CREDENTIALS})'),
        (*READER, f'403 forbidden: no permission on bucket "cityhub" ({CREDENTIALS})'),
    ],
    ids=["wrong-password", "read-only-user"],
)
def test_wrong_credentials_make_the_hub_unready_naming_the_setting(
    tmp_path: Path,
    mosquitto: Mosquitto,
    secured_influxd: RunningServer,
    user: str,
    password: str,
    expected: str,
) -> None:
    hub = start_hub(tmp_path, mosquitto, secured_influxd, user, password)
    try:
        status, check = wait_until(lambda: store_check(hub), timeout_s=30)
        assert status == 503
        assert check["ok"] is False
        assert expected in check["detail"]
        wait_until(lambda: expected in hub.log(), message="the log does not name the setting")
    finally:
        hub.stop()


def test_the_right_credentials_are_ready_and_store(
    tmp_path: Path, mosquitto: Mosquitto, secured_influxd: RunningServer
) -> None:
    hub = start_hub(tmp_path, mosquitto, secured_influxd, *ADMIN)
    publisher = Publisher(mosquitto.port)
    try:
        hub.wait_ready(30)
        at_s = time.time() - 60
        publisher.publish_all(
            [("senml/m-1", json.dumps([{"bt": at_s, "n": "power", "u": "W", "v": 7.0}]))]
        )

        def stored() -> list:
            with hub.client() as client:
                response = client.get(
                    "/api/v1/latest", params={"measurement": "building_energy", "fields": "power_w"}
                )
            return response.json()["rows"] if response.status_code == 200 else []

        [row] = wait_until(stored, message="the point did not reach the secured InfluxDB")
        assert row["fields"] == {"power_w": 7.0}
    finally:
        publisher.close()
        hub.stop()


def test_a_user_without_admin_rights_is_ready_and_the_log_says_what_retention_needs(
    tmp_path: Path, mosquitto: Mosquitto, secured_influxd: RunningServer
) -> None:
    writer = ("writer", "writer-password-0123")
    influx_query(
        secured_influxd.url, f"CREATE USER {writer[0]} WITH PASSWORD '{writer[1]}'", auth=ADMIN
    )
    influx_query(secured_influxd.url, f'GRANT ALL ON "cityhub" TO {writer[0]}', auth=ADMIN)
    hub = start_hub(tmp_path, mosquitto, secured_influxd, *writer)
    try:
        hub.wait_ready(30)  # may read and write: ready, retention or not
        wait_until(
            lambda: (
                "CITYHUB_RETENTION__RAW_DAYS: InfluxDB refused `ALTER RETENTION POLICY "
                '"autogen" ON "cityhub" DURATION 90d`' in hub.log()
            ),
            message="the log does not say which retention setting could not be applied",
        )
    finally:
        hub.stop()
