"""Publish, then answer: the rule that puts a charger's frames on the durable path.

For each CALL the charger sends, the ``ocpp`` package validates it and builds the CALLRESULT;
before that reply leaves, the CALL and the CALLRESULT are published to ``ocpp/cp/<id>`` at
QoS 1 (in that order, on one MQTT connection, so the hub reads them in that order) and both
PUBACKs are awaited. Only then is the CALLRESULT sent: a charger that got its reply has its
data in the broker. When the broker does not acknowledge, the charger gets a CALLERROR
``InternalError`` instead and keeps the message to send again (chargers queue transaction
messages), so nothing it was told "accepted" is lost.

Frames the package cannot read are answered here, where the package would only log them:
over the size limit, not JSON or not an OCPP-J array get a CALLERROR (``FormatViolation``;
1.6 spells it ``FormationViolation``) with the frame's message id, or ``-1`` when none can be
read (OCPP-J 2.0.1 §4.2.3), and the connection stays open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Protocol

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallError, MessageType, unpack

from hub.gateways.publisher import PublishFailed

__all__ = ["FrameSink", "Relay"]

log = logging.getLogger(__name__)


class FrameSink(Protocol):
    """Where a relay puts frames, and what it reports."""

    max_frame_bytes: int
    publish_timeout_s: float

    async def publish(self, topic: str, payload: bytes, timeout_s: float) -> None: ...

    def count_frame(self, action: str, outcome: str, seconds: float) -> None: ...


class Relay:
    """Mixin for an ``ocpp`` ``ChargePoint`` (listed before it): publish before answering."""

    _ocpp_version: str
    _connection: Any
    id: str

    def bind(self, sink: FrameSink, policy: Any) -> None:
        self.sink = sink
        self.policy = policy
        self.topic = f"ocpp/cp/{self.id}"
        self._current: tuple[str, bytes, str, float] | None = None  # id, frame, action, t0

    async def route_message(self, raw_msg: str | bytes) -> None:
        started = time.perf_counter()
        frame = raw_msg.encode() if isinstance(raw_msg, str) else raw_msg
        if len(frame) > self.sink.max_frame_bytes:
            await self._refuse(
                frame, "FormatViolation",
                f"frame of {len(frame)} bytes exceeds {self.sink.max_frame_bytes}", started,
            )  # fmt: skip
            return
        try:
            message = unpack(frame.decode())
        except (OCPPError, UnicodeDecodeError) as error:
            code = getattr(error, "code", "FormatViolation")
            await self._refuse(frame, code, _describe(error), started)
            return
        if message.message_type_id == MessageType.Call:
            assert isinstance(message, Call)
            self._current = (message.unique_id, frame, str(message.action), started)
        try:
            await super().route_message(frame.decode())  # type: ignore[misc]
        finally:
            self._current = None

    async def _send(self, message: str) -> None:
        current = self._current
        if current is None or not message.startswith("[3"):
            await self._reply(message, current, "error")
            return
        unique_id, call_frame, action, _ = current
        try:
            await asyncio.gather(
                self.sink.publish(self.topic, call_frame, self.sink.publish_timeout_s),
                self.sink.publish(self.topic, message.encode(), self.sink.publish_timeout_s),
            )
        except PublishFailed as error:
            log.warning("%s: %s not on the broker, answering InternalError: %s",
                        self.id, action, error)  # fmt: skip
            refusal = CallError(unique_id, "InternalError", f"not stored, retry: {error}", {})
            await self._reply(refusal.to_json(), current, "publish_failed")
            return
        await self._reply(message, current, "accepted")

    async def _reply(
        self, message: str, current: tuple[str, bytes, str, float] | None, outcome: str
    ) -> None:
        if current is not None:
            self.sink.count_frame(current[2], outcome, time.perf_counter() - current[3])
        await self._connection.send(message)

    async def _refuse(self, frame: bytes, code: str, description: str, started: float) -> None:
        if code == "FormatViolation" and self._ocpp_version == "1.6":
            code = "FormationViolation"
        reply = CallError(_message_id(frame), code, description[:200], {})
        self.sink.count_frame("", "malformed", time.perf_counter() - started)
        await self._connection.send(reply.to_json())


def _describe(error: Exception) -> str:
    details = getattr(error, "details", None)
    if isinstance(details, dict) and "cause" in details:
        return str(details["cause"])
    return str(error) or type(error).__name__


def _message_id(frame: bytes) -> str:
    """The frame's message id when it can be read, else ``-1``."""
    try:
        document = json.loads(frame)
    except ValueError:
        return "-1"
    if isinstance(document, list) and len(document) > 1 and isinstance(document[1], str):
        return document[1][:36]
    return "-1"
