"""The MQTT side of ingest: paho-mqtt 2.x, MQTT v5, QoS 1, persistent session, manual acks.

The session survives restarts (``clean_start=False`` plus a Session Expiry Interval: without
the interval the broker discards the session at disconnect), so messages received but not
yet acknowledged when the hub dies are redelivered to the next instance. Acknowledgements are
sent by the pipeline only after the message's batch is durable. paho reconnects by itself
with exponential backoff between ``reconnect_min_s`` and ``reconnect_max_s`` (low, with
jitter drawn anew at each disconnect so that replicas do not reconnect in step).

A broker that crashed before saving its state has forgotten the hub's session: it answers
"session present: false". The hub then subscribes again at once (every connect subscribes),
warns with the time it was away and reports it (``on_session_lost``; the hub counts it in
``cityhub_mqtt_sessions_lost_total`` and ``/ready`` shows it): messages published while no
session existed found no subscriber and were dropped by the broker.

A new session is in the broker's memory only until its next save (Mosquitto: every
``autosave_interval``): a crash in between forgets it. When the broker runs on this host and
the hub may signal it (``broker_pid_file``, as in the demo), the hub asks it to save at once
(SIGUSR1, Mosquitto's "write the persistence database now") once the subscription is
acknowledged, which closes that window to the few milliseconds the save takes.

Messages are handed over through an :class:`~hub.ingest.window.InflightWindow`: the network
thread stops reading while the pipeline holds too many bytes or messages.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.ingest.pipeline import Inbound
from hub.ingest.window import InflightWindow
from hub.metrics import HubMetrics
from hub.settings import MqttSettings
from hub.topics import TopicFilter

__all__ = ["MqttSource", "ask_broker_to_save"]

log = logging.getLogger(__name__)


def ask_broker_to_save(pid_file: Path) -> None:
    """SIGUSR1 to the Mosquitto whose pid ``pid_file`` holds: it writes its persistence
    database (with a new session) at once. A failure is logged, never raised: the session is
    then saved at the broker's next autosave, as without the setting."""
    try:
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGUSR1)
    except (OSError, ValueError, IndexError) as error:
        log.warning(
            "could not ask the broker to save the new session (CITYHUB_MQTT__BROKER_PID_FILE"
            "=%s): %s; it is saved at the broker's next autosave",
            pid_file, error,
        )  # fmt: skip
    else:
        log.info("asked the broker (pid file %s) to save the new session now", pid_file)


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
        on_session_lost: Callable[[float], None] | None = None,
        window: InflightWindow | None = None,
    ) -> None:
        self._settings = settings
        self._filters = list(filters)
        self._deliver = deliver
        self._metrics = metrics or HubMetrics()
        self._session = session_base  # connections are numbered from here
        self._on_state = on_state
        self._on_session_lost = on_session_lost
        self.window = window
        self._away_since: float | None = None  # monotonic time of the last disconnect
        self._connected = threading.Event()
        self._subscribe_mid: int | None = None
        self._new_session = False  # the broker answered "session present: false"
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
        self._jitter_backoff(client)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _jitter_backoff(self, client: mqtt.Client) -> None:
        spread = random.uniform(0.75, 1.25)  # noqa: S311 - jitter, not cryptography
        low = self._settings.reconnect_min_s * spread
        client.reconnect_delay_set(low, max(low, self._settings.reconnect_max_s * spread))  # type: ignore[arg-type]

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
        if self.window is not None:
            self.window.close()
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def acknowledge(self, messages: Sequence[Inbound]) -> None:
        """PUBACK the messages received on the current connection (others come back)."""
        self.acknowledge_ids((m.mid, m.qos, m.session) for m in messages)
        self.release(sum(len(m.payload) for m in messages), len(messages))

    def acknowledge_ids(self, ids: Iterable[tuple[int, int, int]]) -> None:
        """PUBACK ``(mid, qos, session)`` triples received on the current connection."""
        current, ack = self._session, self._client.ack
        for mid, qos, session in ids:
            if qos and session == current:
                ack(mid, qos)

    def release(self, size: int, messages: int) -> None:
        """The pipeline is done with ``messages`` of ``size`` bytes: room in the window."""
        if self.window is not None:
            self.window.release(size, messages)

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
        self.last_error = ""
        self._session += 1
        self._new_session = not flags.session_present
        if self._away_since is not None and not flags.session_present:
            away = time.monotonic() - self._away_since
            log.warning(
                "the broker lost this hub's session (session present: false) after %.1f s away: "
                "messages published meanwhile found no subscriber; subscribing again",
                away,
            )
            if self._on_session_lost:
                self._on_session_lost(away)
        subscriptions = [(f.shared(self._settings.shared_group), 1) for f in self._filters]
        _result, self._subscribe_mid = client.subscribe(subscriptions)
        log.info(
            "connected to %s:%s as %s (session present: %s), subscribing to %s",
            self._settings.host, self._settings.port, self.client_id,
            flags.session_present, ", ".join(s for s, _ in subscriptions),
        )  # fmt: skip

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, mid: int, reasons: Any, _props: Any
    ) -> None:
        # Connected means subscribed: until the broker's SUBACK, a message published by a
        # device finds no subscriber (on a new session) and is dropped, so /ready must wait.
        if mid != self._subscribe_mid:
            return
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            self.last_error = f"broker refused the subscription: {', '.join(refused)}"
            log.error(self.last_error)
            if self._on_state:
                self._on_state(False, self.last_error)
            return
        log.info("subscribed (%d filters)", len(reasons))
        if self._new_session and self._settings.broker_pid_file is not None:
            ask_broker_to_save(self._settings.broker_pid_file)
        self._away_since = None
        self.last_error = ""
        self._connected.set()
        self._metrics.mqtt_connected.set(1)
        if self._on_state:
            self._on_state(True, "")

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if self._connected.is_set() and self._away_since is None:  # was subscribed: away now
            self._away_since = time.monotonic()
            self._jitter_backoff(_client)  # a fresh backoff per outage (refusals keep doubling)
        self._connected.clear()
        self._metrics.mqtt_connected.set(0)
        if self.last_error.startswith("broker refused"):
            # The disconnect that follows a refused CONNACK ("Protocol error" in paho) must not
            # hide why: the operator needs "not authorized", not the socket's end.
            return
        self.last_error = f"disconnected: {reason}"
        log.warning("MQTT %s", self.last_error)
        if self._on_state:
            self._on_state(False, self.last_error)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self.window is not None and not self.window.acquire(len(message.payload)):
            return  # stopping: not acknowledged, the broker redelivers it
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
