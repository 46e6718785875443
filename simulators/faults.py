"""Fault injection: bad messages the hub must dead-letter, and awkward valid ones it must
ingest. Every injected fault is reported on its message (:class:`InjectedFault`), with the
dead-letter reason a correct hub gives it (``None``: it must be ingested).

==================  ===========================================  ========================
kind                what is sent                                 dead-letter reason
==================  ===========================================  ========================
truncated_json      the first half of a JSON payload             ``invalid_json``
garbage             random bytes                                 ``invalid_json``
                                                                 (GTFS-RT protobuf:
                                                                 ``invalid_protobuf``)
wrong_type          a string where a number belongs              ``wrong_type``
nan                 NaN where a measured number belongs          ``not_finite``
future_timestamp    every time in the payload a year ahead       ``future_timestamp``
unknown_device      the topic names a device not in the registry ``unknown_device``
duplicate           the same message twice                       none (one point)
out_of_order        the message sent 1 to 10 minutes late        none
late                the message sent 1 to 6 hours late           none
burst               30 s of traffic held back, then sent at once none
==================  ===========================================  ========================
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as pb

from simulators.seeding import rng
from simulators.simtime import NS_PER_S
from simulators.truth import InjectedFault, SimMessage

__all__ = ["FAULT_KINDS", "FaultPlan", "inject"]

JSON_WIRES = frozenset({"senml", "tasmota", "shelly", "ocpp1.6", "ocpp2.0.1", "gtfsrt-json"})
REGISTERED_WIRES = frozenset({"senml", "tasmota", "shelly", "ocpp1.6", "ocpp2.0.1"})
FUTURE_SHIFT_S = 366 * 86_400  # ahead of any hub clock, even for backfilled history
OUT_OF_ORDER_S = (60, 600)
LATE_S = (3_600, 6 * 3_600)
BURST_WINDOW_S = 30
DEFAULT_PROBABILITY = 0.01

Mutation = Callable[[SimMessage, Random], SimMessage | None]


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Which faults to inject (``kinds``) and how often (``probability`` per message)."""

    probability: float = 0.0
    kinds: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.probability > 0 and bool(self.kinds)

    @classmethod
    def parse(cls, text: str | float | None) -> FaultPlan:
        """``0.01`` (every kind, 1 % of messages), ``nan,duplicate`` (those kinds at 1 %),
        or both: ``0.05,nan,late``. Empty or 0: no faults."""
        if text is None or text == "":
            return cls()
        if isinstance(text, int | float):
            return cls(float(text), tuple(FAULT_KINDS))
        probability, kinds = None, []
        for token in (t.strip() for t in text.split(",") if t.strip()):
            if token in FAULT_KINDS:
                kinds.append(token)
                continue
            try:
                probability = float(token)
            except ValueError:
                known = ", ".join(FAULT_KINDS)
                raise ValueError(f"unknown fault kind {token!r} (known: {known})") from None
        if probability is not None and not 0 <= probability <= 1:  # NaN fails too
            raise ValueError(f"fault probability {probability} is not between 0 and 1")
        chosen = tuple(kinds) or tuple(FAULT_KINDS)
        return cls(DEFAULT_PROBABILITY if probability is None else probability, chosen)


def _document(message: SimMessage) -> Any:
    return json.loads(message.payload)


def _rewrite(
    message: SimMessage, kind: str, reason: str, payload: bytes, **changes: Any
) -> SimMessage:
    fault = InjectedFault(kind, reason, f"{kind} on {message.wire} message of {message.device}")
    return replace(message, payload=payload, truth=[], fault=fault, **changes)


def _dump(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), allow_nan=True).encode()


def _truncated(message: SimMessage, draw: Random) -> SimMessage | None:
    if message.wire not in JSON_WIRES:
        return None
    cut = draw.randrange(1, len(message.payload) - 1)
    return _rewrite(message, "truncated_json", "invalid_json", message.payload[:cut])


def _garbage(message: SimMessage, draw: Random) -> SimMessage | None:
    payload = b"\xff\xfe" + bytes(draw.randrange(256) for _ in range(draw.randrange(8, 64)))
    # the GTFS-RT adapter reads anything not starting with "{" as protobuf
    reason = "invalid_protobuf" if message.wire.startswith("gtfsrt") else "invalid_json"
    return _rewrite(message, "garbage", reason, payload)


def _number_slot(wire: str, document: Any, measured_only: bool) -> tuple[Any, Any] | None:
    """Where a number lives in ``document`` (container, key): a measured value, or with
    ``measured_only`` false also an integer id or counter."""
    if wire == "senml":
        return document[0], "v"
    if wire == "tasmota":
        return document["ENERGY"], "Power"
    if wire == "shelly":
        return document, "apower"
    if wire == "gtfsrt-json":
        return document["entity"][0]["vehicle"]["position"], "latitude"
    if wire.startswith("ocpp"):
        payload = document[3]
        if "meterValue" in payload:
            return payload["meterValue"][0]["sampledValue"][0], "value"
        if measured_only:
            return None
        for key in ("connectorId", "evseId", "meterStart", "meterStop"):
            if key in payload:
                return payload, key
    return None


def _wrong_type(message: SimMessage, draw: Random) -> SimMessage | None:
    if message.wire not in JSON_WIRES:
        return None
    document = _document(message)
    slot = _number_slot(message.wire, document, measured_only=False)
    if slot is None or not isinstance(slot[0][slot[1]], int | float):
        return None  # OCPP 1.6 sampled values are strings already
    container, key = slot
    # protobuf's JSON mapping accepts numbers in strings: only a non-number is wrong there
    container[key] = "n/a" if message.wire == "gtfsrt-json" else str(container[key])
    return _rewrite(message, "wrong_type", "wrong_type", _dump(document))


def _nan(message: SimMessage, draw: Random) -> SimMessage | None:
    if message.wire == "gtfsrt-protobuf":
        decoded = _decode_protobuf(message.payload)
        decoded.position_holder().speed = math.nan
        return _rewrite(message, "nan", "not_finite", decoded.serialize())
    document = _document(message)
    slot = _number_slot(message.wire, document, measured_only=True)
    if slot is None:
        return None
    container, key = slot
    # OCPP 1.6 values and protobuf JSON spell NaN as a string; JSON numbers as the NaN token
    spelt = message.wire == "gtfsrt-json" or isinstance(container[key], str)
    container[key] = "NaN" if spelt else math.nan
    return _rewrite(message, "nan", "not_finite", _dump(document))


def _shift_text(text: str, shift_s: int) -> str:
    if text.isdigit():
        return str(int(text) + shift_s)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(seconds=shift_s)
    if moment.tzinfo is None:
        return moment.isoformat(timespec="seconds")
    if text.endswith("Z"):
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return moment.isoformat()


def _shift_times(node: Any, shift_s: int) -> bool:
    """Move every time in a decoded JSON document by ``shift_s``; whether there was one."""
    found = False
    if isinstance(node, dict):
        items = list(node.items())
    else:
        items = list(enumerate(node)) if isinstance(node, list) else []
    for key, value in items:
        if key in ("bt", "minute_ts") and isinstance(value, int | float):
            node[key], found = value + shift_s, True
        elif key in ("timestamp", "Time") and isinstance(value, str):
            node[key], found = _shift_text(value, shift_s), True
        elif isinstance(value, dict | list):
            found = _shift_times(value, shift_s) or found
    return found


def _future(message: SimMessage, draw: Random) -> SimMessage | None:
    if message.wire == "gtfsrt-protobuf":
        decoded = _decode_protobuf(message.payload)
        decoded.vehicle_holder().timestamp += FUTURE_SHIFT_S
        return _rewrite(message, "future_timestamp", "future_timestamp", decoded.serialize())
    document = _document(message)
    if not _shift_times(document, FUTURE_SHIFT_S):
        return None  # Heartbeat, BootNotification: no time to move
    return _rewrite(message, "future_timestamp", "future_timestamp", _dump(document))


def _unknown_device(message: SimMessage, draw: Random) -> SimMessage | None:
    if message.wire not in REGISTERED_WIRES:
        return None  # GTFS-RT vehicles need no registration (the adapter's default)
    ghost = f"{message.device}-ghost{draw.randrange(100)}"
    topic = message.topic.replace(message.device, ghost)
    return _rewrite(
        message, "unknown_device", "unknown_device", message.payload, topic=topic, device=ghost
    )


@dataclass(slots=True)
class _Protobuf:
    """A decoded GTFS-RT payload (FeedMessage or FeedEntity) that can be changed and sent."""

    message: Any

    def vehicle_holder(self) -> Any:
        entity = (
            self.message.entity[0] if isinstance(self.message, pb.FeedMessage) else self.message
        )
        return entity.vehicle

    def position_holder(self) -> Any:
        return self.vehicle_holder().position

    def serialize(self) -> bytes:
        return self.message.SerializeToString()


def _decode_protobuf(payload: bytes) -> _Protobuf:
    feed = pb.FeedMessage()
    try:
        feed.ParseFromString(payload)
        if feed.header.HasField("gtfs_realtime_version"):
            return _Protobuf(feed)
    except DecodeError:
        pass
    entity = pb.FeedEntity()
    entity.ParseFromString(payload)
    return _Protobuf(entity)


# Faults that replace the message by a bad one (the stream faults are handled in ``inject``).
PAYLOAD_FAULTS: dict[str, Mutation] = {
    "truncated_json": _truncated,
    "garbage": _garbage,
    "wrong_type": _wrong_type,
    "nan": _nan,
    "future_timestamp": _future,
    "unknown_device": _unknown_device,
}
STREAM_FAULTS = ("duplicate", "out_of_order", "late", "burst")
FAULT_KINDS: tuple[str, ...] = (*PAYLOAD_FAULTS, *STREAM_FAULTS)


def _marked(message: SimMessage, kind: str, detail: str, **changes: Any) -> SimMessage:
    return replace(message, fault=InjectedFault(kind, None, detail), **changes)


def inject(messages: Iterable[SimMessage], plan: FaultPlan, seed: int) -> Iterator[SimMessage]:
    """``messages`` with faults injected per ``plan``, still in send order (delayed messages
    take their new send time). Deterministic for a given seed and input."""
    draw = rng(seed, "faults", plan.probability, *plan.kinds)
    delayed: list[tuple[int, int, SimMessage]] = []
    held: list[SimMessage] = []  # a burst being held back
    counter = 0
    for message in messages:
        if held and message.send_ns > held[0].send_ns + BURST_WINDOW_S * NS_PER_S:
            yield from _due(delayed, held[-1].send_ns)
            yield from _release(held)
            held = []
        yield from _due(delayed, message.send_ns)
        if held:
            held.append(message)
            continue
        if draw.random() >= plan.probability:
            yield message
            continue
        kind = draw.choice(plan.kinds)
        if kind in PAYLOAD_FAULTS:
            yield PAYLOAD_FAULTS[kind](message, draw) or message
        elif kind == "duplicate":
            yield message
            yield _marked(message, "duplicate", "the same message again")
        elif kind == "burst":
            held.append(message)
        else:
            low, high = OUT_OF_ORDER_S if kind == "out_of_order" else LATE_S
            send_ns = message.send_ns + draw.randrange(low, high) * NS_PER_S
            counter += 1
            detail = f"sent {(send_ns - message.send_ns) // NS_PER_S} s late"
            late = _marked(message, kind, detail, send_ns=send_ns)
            heapq.heappush(delayed, (send_ns, counter, late))
    if held:
        yield from _due(delayed, held[-1].send_ns)
        yield from _release(held)
    yield from _due(delayed, None)


def _due(delayed: list[tuple[int, int, SimMessage]], until_ns: int | None) -> Iterator[SimMessage]:
    """Pop the delayed messages due by ``until_ns`` (None: all), earliest first."""
    while delayed and (until_ns is None or delayed[0][0] <= until_ns):
        yield heapq.heappop(delayed)[2]


def _release(held: list[SimMessage]) -> Iterator[SimMessage]:
    """A held-back burst, sent all at once (at the last one's send time, without pacing)."""
    if not held:
        return
    send_ns = held[-1].send_ns
    detail = f"{len(held)} messages held back and sent at once"
    for message in held:
        yield _marked(message, "burst", detail, send_ns=send_ns, burst=True)
