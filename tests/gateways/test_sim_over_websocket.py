"""``cityhub sim --ocpp-ws``: the simulated chargers speak OCPP-J over WebSocket to the
gateway (the rest of the city still publishes to MQTT), and their 1.6 sessions carry the
transactionIds the gateway assigned."""

from __future__ import annotations

import threading

from hub.broker import Mosquitto, free_port
from simulators.publisher import run
from simulators.registry import write_registry
from simulators.scenario import City
from tests.conftest import ADMIN_KEY, HubProcess, wait_until


def test_simulated_chargers_drive_the_gateway(tmp_path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    city = City.build(7, 1, 3, 1)
    registry = tmp_path / "registry.json"
    write_registry(city, registry)
    port = free_port()
    hub = HubProcess(
        tmp_path, broker.port, CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_OCPP__ENABLED="true", CITYHUB_OCPP__PORT=str(port),
    ).start()  # fmt: skip
    try:
        stats = run(
            city, "127.0.0.1", broker.port, stop_event=threading.Event(), backfill_s=24 * 3600,
            backfill_only=True, ocpp_ws=f"ws://127.0.0.1:{port}", progress=False,
        )  # fmt: skip
        assert stats.backfilled > 0 and stats.refused == 0

        # A whole day, so that the day's busy hours are in it whatever the time of the run.
        def v16_sessions() -> list[dict]:
            with hub.client() as client:
                rows = client.get("/api/v1/chargers/sessions", params={"start": "-25h"})
            # 1.6 sessions whose start was sent (a stop of a session begun before the backfill
            # keeps the simulator's own number: no gateway ever assigned one; 2.0.1 sessions
            # keep the station's UUID).
            return [
                s for s in rows.json()["sessions"]
                if s["end"] is not None and s["start"] and s["session_id"] != s["transaction_id"]
            ]  # fmt: skip

        v16 = wait_until(v16_sessions, 30, message="no ended 1.6 session reached the API")
        # Gateway ids count seconds since 2020 (see hub.gateways.ocpp.csms.TransactionIds).
        assert all(int(s["transaction_id"]) > 200_000_000 for s in v16), v16
        assert all(s["energy_kwh"] is not None and s["energy_kwh"] >= 0 for s in v16)
        with hub.client(ADMIN_KEY) as client:
            counts = client.get("/api/v1/dead-letters/counts").json()
        assert counts["total"] == 0, counts
    finally:
        hub.stop()
        broker.stop()
