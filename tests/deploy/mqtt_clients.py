"""An MQTT client for the broker tests that records what the broker answers: CONNACK, SUBACK
and PUBACK codes, and the messages delivered; and the fixture's factory that logs clients in
with the stack's passwords and closes them afterwards."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

# paho reports a refused CONNECT as reason 135 for MQTT v5 and for 3.1.1's return code 5.
NOT_AUTHORIZED = 135


class Client:
    """A paho client (MQTT v5 unless ``protocol`` says 3.1.1) that records CONNACK, SUBACK and
    PUBACK codes and the messages it receives. ``persistent``: a session that outlives the
    connection (v5: an hour's expiry; 3.1.1: clean session off)."""

    def __init__(
        self,
        port: int,
        client_id: str,
        username: str | None,
        password: str | None,
        *,
        persistent: bool = False,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
    ) -> None:
        v5 = protocol == MQTTProtocolVersion.MQTTv5
        self.acks: dict[int, int] = {}
        self.granted: list[int] | None = None
        self.messages: list[tuple[str, bytes]] = []
        self.connack: int | None = None
        self._changed = threading.Condition()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            clean_session=None if v5 else not persistent,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(60, 60)  # a refused client stays refused
        properties, clean_start = None, mqtt.MQTT_CLEAN_START_FIRST_ONLY
        if v5:
            clean_start = not persistent
            if persistent:
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, clean_start=clean_start, properties=properties)
        self.client.loop_start()
        self.wait(lambda: self.connack is not None, "no CONNACK")

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._changed:
            self.connack = int(reason.value)
            self._changed.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: list[Any], _p: Any) -> None:
        with self._changed:
            self.granted = [int(reason.value) for reason in reasons]
            self._changed.notify_all()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self._changed:
            self.acks[mid] = int(reason.value)
            self._changed.notify_all()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._changed:
            self.messages.append((message.topic, message.payload))
            self._changed.notify_all()

    def wait(self, predicate: Any, what: str, timeout_s: float = 10.0) -> None:
        with self._changed:
            assert self._changed.wait_for(predicate, timeout_s), what

    def subscribe(self, filters: list[str]) -> list[int]:
        """Subscribe with QoS 1; the SUBACK's codes (the granted QoS, or 128 and up)."""
        with self._changed:
            self.granted = None
        result, _mid = self.client.subscribe([(f, 1) for f in filters])
        assert result == mqtt.MQTT_ERR_SUCCESS
        self.wait(lambda: self.granted is not None, "no SUBACK")
        assert self.granted is not None
        return self.granted

    def send(self, topics: list[str], payload: bytes = b"{}") -> list[mqtt.MQTTMessageInfo]:
        return [self.client.publish(topic, payload, qos=1) for topic in topics]

    def reasons(self, infos: list[mqtt.MQTTMessageInfo]) -> list[int]:
        """The reason codes of the PUBACKs of ``infos``, once all arrived (3.1.1: all 0)."""
        self.wait(lambda: all(info.mid in self.acks for info in infos), "PUBACK missing")
        return [self.acks[info.mid] for info in infos]

    def publish(self, topics: list[str], payload: bytes = b"{}") -> list[int]:
        """Publish to each topic with QoS 1, in order; the PUBACKs' reason codes."""
        return self.reasons(self.send(topics, payload))

    def topics(self) -> list[str]:
        with self._changed:
            return [topic for topic, _ in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def client_factory(
    port: int, passwords: Mapping[str, str], **defaults: Any
) -> Iterator[Callable[..., Client]]:
    """Yields ``connect(client_id, user, password=None, **options)``: a :class:`Client` logged
    in as ``user`` (None: anonymously) with ``MQTT_<USER>_PASSWORD`` of ``passwords`` unless
    ``password`` is given; every client is closed when the fixture ends."""
    opened: list[Client] = []

    def connect(client_id: str, user: str | None, password: str | None = None, **kw: Any):
        if password is None and user is not None:
            password = passwords[f"MQTT_{user.upper()}_PASSWORD"]
        client = Client(port, client_id, user, password, **{**defaults, **kw})
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()
