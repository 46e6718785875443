"""Simulated chargers speaking OCPP-J over WebSocket to the hub's gateway (``--ocpp-ws``).

Every message on ``ocpp/cp/<id>`` is sent as the charger itself would: on its own WebSocket
to ``<url>/ocpp/<id>`` (subprotocol from the message's wire, ``ocpp1.6`` or ``ocpp2.0.1``;
HTTP Basic auth with ``--ocpp-password`` when given), one frame at a time, waiting for the
reply. A CALLERROR ``InternalError`` (the gateway could not put the frame on the broker) is
retried with backoff, as chargers queue transaction messages; any other CALLERROR (a fault
the simulator injected) is counted as refused.

In 1.6 the central system assigns the transactionId: the relay keeps, per charger and
connector, the id the gateway answered to StartTransaction and rewrites the simulator's own
number in MeterValues and StopTransaction to it, as a real charger would only know the
gateway's id.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from typing import Any

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from simulators.truth import SimMessage

__all__ = ["OcppWebSocketRelay"]

log = logging.getLogger(__name__)

_RETRY_MAX_S = 30.0


class OcppWebSocketRelay:
    def __init__(self, url: str, password: str | None = None) -> None:
        self._url = url.rstrip("/")
        self._password = password
        self._connections: dict[str, ClientConnection] = {}
        self._gateway_tx: dict[tuple[str, int], int] = {}  # (charger, connector) → gateway id
        self._sim_tx: dict[tuple[str, int], int] = {}  # (charger, simulator id) → gateway id
        self.refused = 0

    def send(self, message: SimMessage, stop: threading.Event) -> bool:
        """Send one frame and wait for its reply; False when stopped before it was accepted."""
        charger = message.topic.rpartition("/")[2]
        try:
            frame = json.loads(message.payload)
        except ValueError:
            frame = None
        payload = message.payload
        if isinstance(frame, list) and len(frame) == 4 and isinstance(frame[3], dict):
            frame[3] = self._rewrite(charger, frame[2], frame[3])
            payload = json.dumps(frame).encode()
        delay = 0.5
        while not stop.is_set():
            try:
                reply = self._exchange(charger, message.wire, payload)
            except (OSError, WebSocketException) as error:
                log.warning("%s: %s; retrying in %.1f s", charger, error, delay)
                self._connections.pop(charger, None)
            else:
                if reply[0] == 3:
                    self._learn(charger, frame, reply[2])
                    return True
                if reply[2] != "InternalError":
                    self.refused += 1
                    return True
                log.warning("%s: gateway answered InternalError; retrying", charger)
            stop.wait(delay)
            delay = min(delay * 2, _RETRY_MAX_S)
        return False

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def _exchange(self, charger: str, wire: str, payload: bytes) -> list[Any]:
        connection = self._connections.get(charger)
        if connection is None:
            headers = None
            if self._password is not None:
                token = base64.b64encode(f"{charger}:{self._password}".encode()).decode()
                headers = {"Authorization": f"Basic {token}"}
            protocol = wire if wire in ("ocpp1.6", "ocpp2.0.1") else "ocpp1.6"
            connection = connect(
                f"{self._url}/ocpp/{charger}",
                subprotocols=[protocol],  # type: ignore[list-item]
                additional_headers=headers,
                open_timeout=10,
            )
            self._connections[charger] = connection
        connection.send(payload.decode())
        reply = json.loads(connection.recv(timeout=30))
        if not isinstance(reply, list) or len(reply) < 3:
            raise WebSocketException(f"not an OCPP-J reply: {str(reply)[:80]}")
        return reply

    def _rewrite(self, charger: str, action: object, payload: dict[str, Any]) -> dict[str, Any]:
        sim_tx = payload.get("transactionId")
        if not isinstance(sim_tx, int):
            return payload
        connector = payload.get("connectorId")
        gateway_tx = self._sim_tx.get((charger, sim_tx))
        if gateway_tx is None and isinstance(connector, int):
            gateway_tx = self._gateway_tx.get((charger, connector))
            if gateway_tx is not None:
                self._sim_tx[(charger, sim_tx)] = gateway_tx
        return payload if gateway_tx is None else {**payload, "transactionId": gateway_tx}

    def _learn(self, charger: str, frame: Any, result: Any) -> None:
        if not isinstance(frame, list) or frame[2] != "StartTransaction":
            return
        if isinstance(result, dict) and isinstance(result.get("transactionId"), int):
            self._gateway_tx[(charger, frame[3].get("connectorId", 0))] = result["transactionId"]
