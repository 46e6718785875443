"""OCPP-J framing: one MQTT message holds one RPC frame.

``[2, "<messageId>", "<Action>", {payload}]`` is a CALL (a request the charge point sends).
``[3, id, {payload}]`` (CALLRESULT) and ``[4, id, code, description, {details}]`` (CALLERROR)
are the central system's replies, which the hub's OCPP gateway publishes after the CALL they
answer. They carry no action: a reply is read only where it answers a CALL the adapter saw
(:mod:`adapters.ocpp.starts`), and :func:`parse_call` refuses one as ``not_a_call``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, RootModel

from hub.errors import Rejected
from hub.validation import validate_json

__all__ = ["CALL", "CALLERROR", "CALLRESULT", "Call", "Reply", "parse_call", "parse_frame"]

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


@dataclass(frozen=True, slots=True)
class Reply:
    """A central system's CALLRESULT (``payload`` set) or CALLERROR (``payload`` None)."""

    message_id: str
    payload: dict[str, Any] | None


def parse_frame(payload: bytes) -> Call | Reply:
    """The CALL or reply in ``payload``; ``invalid_json`` or ``bad_frame`` otherwise."""
    try:
        return parse_call(payload)
    except Rejected as error:
        if error.reason != "not_a_call":
            raise
    frame = validate_json(_JsonDocument, payload).root
    message_id = frame[1] if len(frame) > 1 else None
    if not isinstance(message_id, str) or not 0 < len(message_id) <= _MESSAGE_ID_MAX:
        raise Rejected("bad_frame", f"message id must be a string of 1 to {_MESSAGE_ID_MAX} chars")
    if frame[0] == CALLRESULT:
        if len(frame) != 3 or not isinstance(frame[2], dict):
            raise Rejected("bad_frame", "expected a CALLRESULT frame [3, id, payload]")
        return Reply(message_id, frame[2])
    return Reply(message_id, None)


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
