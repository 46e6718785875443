"""OCPP 2.0.1 stations report only `Occupied` as connector status; the API reads whether they
charge from their transactions' chargingState (the Updated events name no EVSE)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from hub.broker import Mosquitto
from tests.conftest import HubProcess, Publisher, wait_until, write_registry

NOW_S = int(time.time())
T0 = NOW_S - NOW_S % 3600 - 3600  # the start of the previous hour
TX = "f3c2a9e0-5b1d-4c6e-9a77-1d2e3f4a5b6c"


def iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat().replace("+00:00", "Z")


def call(action: str, payload: dict) -> str:
    return json.dumps([2, f"{action[:12]}-{payload['timestamp']}", action, payload])


def status(at_s: int, connector_status: str) -> str:
    return call(
        "StatusNotification",
        {"timestamp": iso(at_s), "connectorStatus": connector_status, "evseId": 1,
         "connectorId": 1},
    )  # fmt: skip


def transaction(at_s: int, event_type: str, state: str, *, evse: bool = False) -> str:
    payload = {
        "eventType": event_type,
        "timestamp": iso(at_s),
        "triggerReason": "ChargingStateChanged",
        "seqNo": at_s % 1000,
        "transactionInfo": {"transactionId": TX, "chargingState": state},
    }
    if evse:
        payload["evse"] = {"id": 1, "connectorId": 1}
    return call("TransactionEvent", payload)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("ocpp201")
    broker = Mosquitto(tmp / "broker").start()
    registry = write_registry(tmp / "registry.json", {"CP-201": {"site": "s-9"}})
    hub = HubProcess(tmp, broker.port, CITYHUB_INGEST__REGISTRY_FILE=str(registry)).start()
    publisher = Publisher(broker.port)
    # Plugged in at :10 (Occupied, EVConnected), charging from :20, suspended by the EV at :50.
    publisher.publish_all(
        [
            ("ocpp/cp/CP-201", status(T0 + 600, "Occupied")),
            ("ocpp/cp/CP-201", transaction(T0 + 600, "Started", "EVConnected", evse=True)),
            ("ocpp/cp/CP-201", transaction(T0 + 1200, "Updated", "Charging")),
            ("ocpp/cp/CP-201", transaction(T0 + 3000, "Updated", "SuspendedEV")),
        ]
    )
    publisher.close()
    yield hub
    hub.stop()
    broker.stop()


def test_the_board_and_the_overview_show_the_charging_state(hub: HubProcess) -> None:
    def board() -> list[dict]:
        with hub.client() as client:
            return client.get("/api/v1/chargers/status").json()["connectors"]

    [connector] = wait_until(lambda: (rows := board()) and rows[0]["status"] != "Occupied" and rows)
    assert (connector["status"], connector["since"]) == ("SuspendedEV", iso(T0 + 3000))
    with hub.client() as client:
        overview = client.get("/api/v1/city/overview").json()["chargers"]
    assert overview["by_status"] == {"SuspendedEV": 1}


def test_utilization_counts_the_time_charging(hub: HubProcess) -> None:
    with hub.client() as client:
        [window] = client.get(
            "/api/v1/chargers/utilization",
            params={"every": "1h", "start": iso(T0), "end": iso(T0 + 3600)},
        ).json()["windows"]
    # known from :10 (3000 s), charging :20-:50 (1800 s), plugged in all the while
    assert (window["observed_s"], window["charging_s"]) == (3000.0, 1800.0)
    assert window["charging_share"] == pytest.approx(0.6)
    assert window["occupied_share"] == pytest.approx(1.0)


def test_a_numeric_function_on_a_text_field_is_a_400_that_says_why(hub: HubProcess) -> None:
    with hub.client() as client:
        response = client.get(
            "/api/v1/aggregate",
            params={"measurement": "charger_status", "field": "status", "fn": "mean"},
        )
    assert response.status_code == 400
    assert response.json()["detail"] == "mean needs a numeric field; 'status' is str"
