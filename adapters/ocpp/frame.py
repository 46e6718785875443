"""OCPP-J framing: one MQTT message holds one RPC frame, of which only a CALL is telemetry.

``[2, "<messageId>", "<Action>", {payload}]`` is a CALL (a request the charge point sends).
``[3, id, {payload}]`` (CALLRESULT) and ``[4, id, code, description, {details}]`` (CALLERROR)
are the central system's replies: they carry no action, and the request they answer is a
different message, so they say nothing the adapter can read without keeping state between
messages (which an adapter must not). They are rejected as ``not_a_call``, which lets an
operator see a bridge that forwards both directions onto the charge point's topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, RootModel

from hub.errors import Rejected
from hub.validation import validate_json

__all__ = ["CALL", "Call", "parse_call"]

CALL, CALLRESULT, CALLERROR = 2, 3, 4
_MESSAGE_ID_MAX = 36  # OCPP-J 4.1.3: "maximum of 36 characters"


class _JsonDocument(RootModel[Any]):
    """Any JSON document: the frame's shape is checked below, its payload by the action's
    model (which refuses NaN)."""

    model_config = ConfigDict(strict=True)


@dataclass(frozen=True, slots=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]


def parse_call(payload: bytes) -> Call:
    """The CALL in ``payload``; ``invalid_json``, ``not_a_call`` or ``bad_frame`` otherwise."""
    frame = validate_json(_JsonDocument, payload).root
    if not isinstance(frame, list) or not frame:
        raise Rejected("bad_frame", "an OCPP-J frame is a JSON array [2, id, action, payload]")
    kind = frame[0]
    if type(kind) is int and kind in (CALLRESULT, CALLERROR):
        raise Rejected(
            "not_a_call",
            f"message type {kind} ({'CALLRESULT' if kind == CALLRESULT else 'CALLERROR'}) is a "
            "reply from the central system, not a charge point request",
        )
    if type(kind) is not int or kind != CALL or len(frame) != 4:
        raise Rejected("bad_frame", "expected a CALL frame [2, id, action, payload]")
    _, message_id, action, body = frame
    if not isinstance(message_id, str) or not 0 < len(message_id) <= _MESSAGE_ID_MAX:
        raise Rejected("bad_frame", f"message id must be a string of 1 to {_MESSAGE_ID_MAX} chars")
    if not isinstance(action, str) or not action:
        raise Rejected("bad_frame", "the action must be a non-empty string")
    if not isinstance(body, dict):
        raise Rejected("bad_frame", f"{action[:40]}: the payload must be a JSON object")
    return Call(message_id, action, body)
