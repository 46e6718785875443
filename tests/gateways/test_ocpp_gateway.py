"""The OCPP-J gateway end to end: the ``ocpp`` package's ChargePoint clients (1.6, 2.0.1) over
a real WebSocket, the gateway inside ``cityhub run``, a real Mosquitto, the hub's store and
API. What a charger was answered is what the API shows, with the gateway's transactionId."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
import websockets
from ocpp.exceptions import InternalError
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from hub.broker import Mosquitto, free_port
from tests.conftest import HubProcess, wait_until, write_registry
from tests.gateways.ocpp_clients import basic, connected, iso

REGISTRY = {
    "CP-16": {"site": "s-gw", "district": "harbour"},
    "CP-201": {"site": "s-gw", "district": "harbour"},
    "CP-PW": {"site": "s-gw", "district": "harbour"},
    "CP-RAW": {"site": "s-gw", "district": "harbour"},
    "CP-OUT": {"site": "s-gw", "district": "harbour"},
}


class Gateway:
    def __init__(self, hub: HubProcess, broker: Mosquitto, port: int) -> None:
        self.hub, self.broker, self.url = hub, broker, f"ws://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("ocpp-gateway")
    broker = Mosquitto(tmp / "broker").start()
    registry = write_registry(tmp / "registry.json", REGISTRY)
    port = free_port()
    hub = HubProcess(
        tmp,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_OCPP__ENABLED="true",
        CITYHUB_OCPP__PORT=str(port),
        CITYHUB_OCPP__PASSWORDS=json.dumps({"CP-PW": "s3cret-charger"}),
        CITYHUB_OCPP__PUBLISH_TIMEOUT_S="2",
    ).start()
    yield Gateway(hub, broker, port)
    hub.stop()
    broker.stop()


def sessions(hub: HubProcess) -> list[dict]:
    with hub.client() as client:
        response = client.get("/api/v1/chargers/sessions", params={"start": "-2h"})
    assert response.status_code == 200, response.text
    return response.json()["sessions"]


def board(hub: HubProcess, device: str) -> dict[str, str]:
    with hub.client() as client:
        rows = client.get("/api/v1/chargers/status").json()["connectors"]
    return {row["connector"]: row["status"] for row in rows if row["device"] == device}


def test_ocpp16_charger_session_carries_the_gateway_transaction_id(gateway: Gateway) -> None:
    t0 = time.time() - 600

    async def charge() -> int:
        async with connected(gateway.url, "CP-16", "1.6") as cp:
            boot = await cp.call(call16.BootNotification("Wallbox-X", "ACME"))
            assert boot.status == "Accepted" and boot.interval > 0
            await cp.call(call16.Heartbeat())
            for at, status in ((0, "Available"), (5, "Preparing")):
                await cp.call(
                    call16.StatusNotification(1, "NoError", status, timestamp=iso(t0 + at))
                )
            authorized = await cp.call(call16.Authorize("TAG-16"))
            assert authorized.id_tag_info["status"] == "Accepted"
            start = await cp.call(call16.StartTransaction(1, "TAG-16", 12_000, iso(t0 + 10)))
            tx = start.transaction_id
            await cp.call(
                call16.StatusNotification(1, "NoError", "Charging", timestamp=iso(t0 + 11))
            )
            for i, register in enumerate((13_000, 15_500, 18_250)):
                sample = {"value": str(register), "measurand": "Energy.Active.Import.Register",
                          "unit": "Wh"}  # fmt: skip
                await cp.call(call16.MeterValues(
                    1, [{"timestamp": iso(t0 + 60 * (i + 1)), "sampledValue": [sample]}],
                    transaction_id=tx,
                ))  # fmt: skip
            await cp.call(
                call16.StopTransaction(19_375, iso(t0 + 300), tx, reason="EVDisconnected")
            )
            await cp.call(
                call16.StatusNotification(1, "NoError", "Finishing", timestamp=iso(t0 + 301))
            )
            return tx

    tx = asyncio.run(charge())

    def session() -> dict | None:
        found = [s for s in sessions(gateway.hub) if s["device"] == "CP-16"]
        return found[0] if found and found[0]["end"] is not None else None

    found = wait_until(session, message="the 1.6 session did not reach the API")
    assert found["transaction_id"] == str(tx)
    assert found["energy_kwh"] == pytest.approx(7.375, abs=1e-9)  # 19375 - 12000 Wh
    assert (found["connector"], found["id_tag"], found["stop_reason"]) == (
        "1",
        "TAG-16",
        "EVDisconnected",
    )
    assert found["duration_s"] == pytest.approx(290, abs=1e-3)
    wait_until(lambda: board(gateway.hub, "CP-16") == {"1": "Finishing"})


def test_ocpp201_station_transaction_and_status(gateway: Gateway) -> None:
    t0 = time.time() - 900
    tx = "c0ffee00-2010-4a1b-9abc-000000000201"

    def event(
        kind: str, at: float, register_wh: float, seq: int, **extra: object
    ) -> call201.TransactionEvent:
        return call201.TransactionEvent(
            event_type=kind, timestamp=iso(t0 + at), trigger_reason="MeterValuePeriodic",
            seq_no=seq,
            transaction_info={"transaction_id": tx, "charging_state": "Charging", **extra},
            evse={"id": 1, "connector_id": 1},
            meter_value=[{"timestamp": iso(t0 + at), "sampled_value": [
                {"value": register_wh, "measurand": "Energy.Active.Import.Register"}]}],
        )  # fmt: skip

    async def charge() -> None:
        async with connected(gateway.url, "CP-201", "2.0.1") as cp:
            station = {"model": "Pole-2", "vendor_name": "ACME"}
            boot = await cp.call(call201.BootNotification(station, "PowerUp"))
            assert boot.status == "Accepted"
            await cp.call(call201.StatusNotification(iso(t0), "Available", 1, 1))
            await cp.call(call201.StatusNotification(iso(t0 + 5), "Occupied", 1, 1))
            await cp.call(event("Started", 10, 2_000.0, 0))
            for seq in (1, 2):
                await cp.call(event("Updated", 10 + 60 * seq, 2_000.0 + 1_500 * seq, seq))
            await cp.call(event("Ended", 400, 8_500.0, 3, stopped_reason="EVDisconnected"))
            await cp.call(call201.StatusNotification(iso(t0 + 401), "Available", 1, 1))

    asyncio.run(charge())

    def session() -> dict | None:
        found = [s for s in sessions(gateway.hub) if s["device"] == "CP-201"]
        return found[0] if found and found[0]["end"] is not None else None

    found = wait_until(session, message="the 2.0.1 session did not reach the API")
    assert found["transaction_id"] == tx
    assert found["energy_kwh"] == pytest.approx(6.5, abs=1e-9)
    assert found["stop_reason"] == "EVDisconnected"
    wait_until(lambda: board(gateway.hub, "CP-201") == {"1": "Available"})


def handshake_status(url: str, headers: dict[str, str] | None = None) -> int:
    async def attempt() -> int:
        try:
            async with websockets.connect(
                url, subprotocols=["ocpp1.6"], additional_headers=headers
            ):
                return 101
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    return asyncio.run(attempt())


def test_unregistered_charge_point_is_refused_at_the_handshake(gateway: Gateway) -> None:
    assert handshake_status(f"{gateway.url}/ocpp/CP-UNKNOWN") == 404
    assert handshake_status(f"{gateway.url}/ocpp/%3Cscript%3E") == 404
    assert handshake_status(f"{gateway.url}/elsewhere") == 404
    assert handshake_status(f"{gateway.url}/ocpp/CP-16") == 101


def test_password_is_checked_against_its_hash(gateway: Gateway) -> None:
    url = f"{gateway.url}/ocpp/CP-PW"
    assert handshake_status(url) == 401
    assert handshake_status(url, basic("CP-PW", "wrong")) == 401
    assert handshake_status(url, basic("CP-16", "s3cret-charger")) == 401  # user must be the id
    assert handshake_status(url, basic("CP-PW", "s3cret-charger")) == 101

    async def boot() -> str:
        async with connected(gateway.url, "CP-PW", "1.6", password="s3cret-charger") as cp:
            return (await cp.call(call16.BootNotification("M", "V"))).status

    assert asyncio.run(boot()) == "Accepted"


def test_malformed_frames_get_a_callerror_and_the_connection_survives(gateway: Gateway) -> None:
    async def exchange() -> list[list]:
        async with websockets.connect(
            f"{gateway.url}/ocpp/CP-RAW", subprotocols=["ocpp1.6"]
        ) as connection:
            replies = []
            for frame in (
                "this is not json",
                '{"an": "object"}',
                json.dumps([2, "m-schema", "BootNotification", {"chargePointVendor": 5}]),
                json.dumps([2, "m-unknown", "MakeCoffee", {}]),
                json.dumps([2, "m-big", "DataTransfer", {"vendorId": "x", "data": "y" * 70_000}]),
                json.dumps([2, "m-ok", "Heartbeat", {}]),
            ):
                await connection.send(frame)
                replies.append(json.loads(await connection.recv()))
            return replies

    bad_json, not_array, schema, unknown, too_big, heartbeat = asyncio.run(exchange())
    assert bad_json[:3] == [4, "-1", "FormationViolation"]
    assert not_array[0] == 4 and not_array[1] == "-1"
    assert schema[:2] == [4, "m-schema"] and schema[2] in {
        "FormationViolation", "TypeConstraintViolation", "FormatViolation"
    }  # fmt: skip
    assert unknown[:2] == [4, "m-unknown"] and unknown[2] in {"NotImplemented", "NotSupported"}
    assert too_big[:3] == [4, "m-big", "FormationViolation"]
    assert "exceeds" in too_big[3]
    assert heartbeat[:2] == [3, "m-ok"] and "currentTime" in heartbeat[2]


def test_broker_outage_answers_internal_error_and_loses_nothing_accepted(
    gateway: Gateway,
) -> None:
    """The broker stops mid-session: the gateway answers CALLERROR InternalError (so the
    charger keeps the message), and everything it answered with a CALLRESULT, before and
    after the outage, reaches the store."""
    t0 = time.time() - 1200

    def meter(at: int, register: int, tx: int) -> call16.MeterValues:
        sample = {"value": str(register), "measurand": "Energy.Active.Import.Register"}
        return call16.MeterValues(
            1, [{"timestamp": iso(t0 + at), "sampledValue": [sample]}], transaction_id=tx
        )

    async def session() -> tuple[int, list[int]]:
        accepted: list[int] = []
        async with connected(gateway.url, "CP-OUT", "1.6") as cp:
            await cp.call(call16.BootNotification("M", "V"))
            tx = (await cp.call(call16.StartTransaction(1, "TAG-OUT", 500, iso(t0)))).transaction_id
            await cp.call(meter(60, 1_000, tx), suppress=False)
            accepted.append(60)
            await asyncio.to_thread(gateway.broker.stop)
            with pytest.raises(InternalError):
                await cp.call(meter(120, 1_700, tx), suppress=False)
            await asyncio.to_thread(gateway.broker.start)
            await asyncio.to_thread(
                wait_until, lambda: ready(gateway.hub), 30, 0.2, "gateway did not reconnect"
            )
            await cp.call(meter(120, 1_700, tx), suppress=False)  # the charger's retry
            accepted.append(120)
            await cp.call(call16.StopTransaction(2_250, iso(t0 + 180), tx), suppress=False)
        return tx, accepted

    tx, accepted = asyncio.run(session())

    def stored_meter_times() -> list[str]:
        with gateway.hub.client() as client:
            rows = client.get("/api/v1/points", params={
                "measurement": "charger_meter", "start": "-1h", "where": "device:CP-OUT"
            }).json()["points"]  # fmt: skip
        return [row["time"] for row in rows]

    wait_until(lambda: len(stored_meter_times()) == len(accepted), 30)
    found = wait_until(
        lambda: [s for s in sessions(gateway.hub) if s["transaction_id"] == str(tx) and s["end"]]
    )
    assert found[0]["device"] == "CP-OUT"
    assert found[0]["energy_kwh"] == pytest.approx(1.75, abs=1e-9)


def ready(hub: HubProcess) -> bool:
    with hub.client() as client:
        checks = client.get("/ready").json()["checks"]
    return bool(checks["ocpp"]["ok"] and checks["mqtt"]["ok"])
