"""A paho-mqtt publisher with flow control: at most ``window`` messages unacknowledged.

paho queues every ``publish`` in memory until the broker acknowledges it (QoS 1), so a
producer faster than the broker grows that queue without bound. Here each publish takes a
slot of a semaphore and ``on_publish`` (PUBACK for QoS 1, written to the socket for QoS 0)
gives it back: the producer blocks instead of overrunning paho.
"""

from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

__all__ = ["FlowControlledClient"]

log = logging.getLogger("cityhub.simulators")


class FlowControlledClient:
    """Connects in the background (reconnecting on its own) and publishes with back-pressure."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        qos: int = 1,
        client_id: str = "",
        username: str | None = None,
        password: str | None = None,
        window: int = 1000,
        protocol: str = "5",
    ) -> None:
        version = mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.max_inflight_messages_set(min(window, 65535))
        self._client.max_queued_messages_set(0)  # bounded by the window instead
        self._client.reconnect_delay_set(0.5, 10)
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        self._client.on_disconnect = self._on_disconnect
        self._slots = threading.Semaphore(window)
        self._window = window
        self._connected = threading.Event()
        self._qos = qos
        self._host, self._port = host, port
        self.dropped = 0
        self.refused = 0  # MQTT v5 PUBACKs with a failure reason (e.g. 135, not authorized)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        self._connected.clear()
        if reason_code.is_failure:
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            self.refused += 1
            if self.refused <= 3:
                log.warning("the broker refused a publish: %s", reason_code)
        self._slots.release()

    def connect(self, stop: threading.Event, timeout_s: float = 30.0) -> bool:
        """Start the network loop and wait for the first connection (False: stopped or timed
        out)."""
        self._client.connect_async(self._host, self._port, keepalive=30)
        self._client.loop_start()
        deadline = timeout_s
        while deadline > 0 and not stop.is_set():
            if self._connected.wait(0.2):
                return True
            deadline -= 0.2
        return False

    def publish(self, topic: str, payload: bytes, stop: threading.Event) -> bool:
        """Publish, waiting for a free slot; False when ``stop`` was set while waiting."""
        while not self._slots.acquire(timeout=0.2):
            if stop.is_set():
                return False
        info = self._client.publish(topic, payload, qos=self._qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS and self._qos == 0:
            self.dropped += 1  # QoS 0 while disconnected: paho drops it, no on_publish
            self._slots.release()
        return True

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until every published message is acknowledged (False on timeout)."""
        taken = 0
        waited = 0.0
        while taken < self._window and waited < timeout_s:
            if self._slots.acquire(timeout=0.1):
                taken += 1
            else:
                waited += 0.1
        for _ in range(taken):
            self._slots.release()
        return taken == self._window

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
