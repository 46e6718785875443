"""A QoS 1 MQTT publisher whose ``publish`` returns only once the broker acknowledged.

The gateways promise a device that its data is on the durable path before they answer it, so
a publish is awaited until its PUBACK (success reason code) arrives, or fails with
:class:`PublishFailed` (not connected, refused by the broker, no PUBACK within the timeout).
paho runs its network loop in a thread of its own; acknowledgements reach the asyncio caller
through futures resolved with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from hub.settings import MqttSettings

__all__ = ["AckPublisher", "PublishFailed"]

log = logging.getLogger(__name__)


class PublishFailed(Exception):
    """The broker did not acknowledge a publish: the data is not on the durable path."""


class AckPublisher:
    """One paho client shared by a gateway's connections. ``name`` goes into the client id."""

    def __init__(
        self, settings: MqttSettings, name: str, ingest_ready: Callable[[], bool] = lambda: True
    ) -> None:
        # The hub's own subscription must be in place before anything is published: on a
        # broker that has no session of the hub yet (first start) a message published before
        # its SUBACK has no subscriber, and a PUBACK would then promise what nobody keeps.
        self._ingest_ready = ingest_ready
        self._v5 = settings.protocol == "5"
        client_id = f"{settings.client_id}-{name}-{uuid.uuid4().hex[:8]}"[:64]
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if self._v5 else MQTTProtocolVersion.MQTTv311,
        )
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else None
            self._client.username_pw_set(settings.username, password)
        if settings.tls:
            self._client.tls_set(
                ca_certs=str(settings.ca_file) if settings.ca_file else None,
                certfile=str(settings.cert_file) if settings.cert_file else None,
                keyfile=str(settings.key_file) if settings.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self._client.max_inflight_messages_set(65535)
        self._client.max_queued_messages_set(0)
        # paho types the delays as int; it only does arithmetic on them (0.5 s works).
        self._client.reconnect_delay_set(
            settings.reconnect_min_s,  # type: ignore[arg-type]
            settings.reconnect_max_s,  # type: ignore[arg-type]
        )
        self._client.on_publish = self._on_publish
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._host, self._port, self._keepalive = settings.host, settings.port, settings.keepalive_s
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = {}
        self._early: dict[int, Any] = {}  # PUBACK reason codes that arrived before registration
        self._connected = threading.Event()
        self.last_error = "not connected yet"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def start(self) -> None:
        self._client.connect_async(self._host, self._port, self._keepalive)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._fail_pending("publisher stopped")

    async def publish(self, topic: str, payload: bytes, timeout_s: float) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK; ``PublishFailed`` otherwise."""
        if not self._connected.is_set():
            raise PublishFailed(f"not connected to the broker: {self.last_error}")
        if not self._ingest_ready():
            raise PublishFailed("the hub's ingest is not subscribed to the broker yet")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        # paho holds its own lock while calling on_publish, and takes it in publish(): so this
        # lock must not span publish(). A PUBACK that beats the registration below is parked
        # in _early by on_publish and settled here.
        info = self._client.publish(topic, payload, qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise PublishFailed(f"publish refused by the client: {mqtt.error_string(info.rc)}")
        with self._lock:
            early = self._early.pop(info.mid, _NOT_YET)
            if early is _NOT_YET:
                self._pending[info.mid] = (loop, future)
        if early is not _NOT_YET:
            _settle(future, _outcome(early))
        try:
            await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise PublishFailed(f"no PUBACK from the broker within {timeout_s} s") from None
        finally:
            with self._lock:
                self._pending.pop(info.mid, None)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        with self._lock:
            entry = self._pending.pop(mid, None)
            if entry is None:
                self._early[mid] = reason
                return
        loop, future = entry
        loop.call_soon_threadsafe(_settle, future, _outcome(reason))

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self.last_error = f"connect refused: {reason}"
            return
        self.last_error = ""
        self._connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._connected.clear()
        self.last_error = f"disconnected: {reason}"
        # paho would resend these after a reconnect, but the device has been told they failed
        # and retries them itself; the idempotent store absorbs a second copy.
        self._fail_pending(self.last_error)

    def _fail_pending(self, why: str) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._early.clear()
        for loop, future in pending.values():
            if not loop.is_closed():
                loop.call_soon_threadsafe(_settle, future, PublishFailed(why))


_NOT_YET = object()


def _outcome(reason: Any) -> PublishFailed | None:
    if reason is not None and getattr(reason, "is_failure", False):
        return PublishFailed(f"the broker refused the publish: {reason}")
    return None


def _settle(future: asyncio.Future[None], error: Exception | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
