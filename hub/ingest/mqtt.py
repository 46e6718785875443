"""The MQTT side of ingest: paho-mqtt 2.x, MQTT v5, QoS 1, persistent session, manual acks.

The session survives restarts (``clean_start=False`` plus a Session Expiry Interval: without
the interval the broker discards the session at disconnect), so messages received but not
yet acknowledged when the hub dies are redelivered to the next instance. Acknowledgements are
sent by the pipeline only after the message's batch is durable. paho reconnects by itself
with exponential backoff between ``reconnect_min_s`` and ``reconnect_max_s``.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.ingest.pipeline import Inbound
from hub.metrics import HubMetrics
from hub.settings import MqttSettings
from hub.topics import TopicFilter

__all__ = ["MqttSource"]

log = logging.getLogger(__name__)


class MqttSource:
    def __init__(
        self,
        settings: MqttSettings,
        filters: Sequence[TopicFilter],
        deliver: Callable[[Inbound], None],
        metrics: HubMetrics | None = None,
        *,
        session_base: int = 0,
        on_state: Callable[[bool, str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._filters = list(filters)
        self._deliver = deliver
        self._metrics = metrics or HubMetrics()
        self._session = session_base  # connections are numbered from here
        self._on_state = on_state
        self._connected = threading.Event()
        self.last_error = "not connected yet"
        client_id = settings.client_id
        if settings.shared_group:  # replicas share the env: keep their sessions apart
            client_id = f"{client_id}-{socket.gethostname()}"[:64]
        self.client_id = client_id
        self._v5 = settings.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if self._v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if self._v5 else False,
            manual_ack=True,
        )
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else None
            client.username_pw_set(settings.username, password)
        if settings.tls:
            client.tls_set(
                ca_certs=str(settings.ca_file) if settings.ca_file else None,
                certfile=str(settings.cert_file) if settings.cert_file else None,
                keyfile=str(settings.key_file) if settings.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self._settings.session_expiry_s
            properties.ReceiveMaximum = self._settings.receive_maximum
            self._client.connect_async(
                self._settings.host,
                self._settings.port,
                keepalive=self._settings.keepalive_s,
                clean_start=False,
                properties=properties,
            )
        else:  # MQTT 3.1.1: the persistent session comes from clean_session=False
            self._client.connect_async(
                self._settings.host, self._settings.port, keepalive=self._settings.keepalive_s
            )
        self._client.loop_start()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def acknowledge(self, messages: Sequence[Inbound]) -> None:
        """PUBACK the messages received on the current connection (others come back)."""
        self.acknowledge_ids((m.mid, m.qos, m.session) for m in messages)

    def acknowledge_ids(self, ids: Iterable[tuple[int, int, int]]) -> None:
        """PUBACK ``(mid, qos, session)`` triples received on the current connection."""
        current, ack = self._session, self._client.ack
        for mid, qos, session in ids:
            if qos and session == current:
                ack(mid, qos)

    # -- paho callbacks (network thread) ----------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            self.last_error = f"broker refused the connection: {reason}"
            log.error(self.last_error)
            if self._on_state:
                self._on_state(False, self.last_error)
            return
        self._session += 1
        subscriptions = [(f.shared(self._settings.shared_group), 1) for f in self._filters]
        client.subscribe(subscriptions)
        log.info(
            "connected to %s:%s as %s (session present: %s), subscribed to %s",
            self._settings.host, self._settings.port, self.client_id,
            flags.session_present, ", ".join(s for s, _ in subscriptions),
        )  # fmt: skip
        self.last_error = ""
        self._connected.set()
        self._metrics.mqtt_connected.set(1)
        if self._on_state:
            self._on_state(True, "")

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._connected.clear()
        self._metrics.mqtt_connected.set(0)
        self.last_error = f"disconnected: {reason}"
        log.warning("MQTT %s", self.last_error)
        if self._on_state:
            self._on_state(False, self.last_error)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._deliver(
            Inbound(
                message.topic,
                cast(bytes, message.payload),
                message.mid,
                message.qos,
                time.time_ns(),
                self._session,
            )
        )
