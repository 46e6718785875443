"""The messages a charge point sends (time-ordered, lazily), on ``ocpp/cp/<id>``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from simulators.charging.model import ChargePoint
from simulators.charging.ocpp16 import Frame, encode_16
from simulators.charging.ocpp201 import encode_201
from simulators.charging.timeline import ChargerEvent, charger_events
from simulators.simtime import NS_PER_S
from simulators.truth import SimMessage

__all__ = ["ENCODERS", "charger_messages"]

ENCODERS: dict[str, Callable[[ChargePoint, ChargerEvent], list[Frame]]] = {
    "1.6": encode_16,
    "2.0.1": encode_201,
}


def charger_messages(cp: ChargePoint, start_s: int, end_s: int | None) -> Iterator[SimMessage]:
    """Messages of ``cp`` sent in ``[start_s, end_s)`` (``end_s`` None: forever)."""
    topic = f"ocpp/cp/{cp.cp_id}"
    wire = f"ocpp{cp.ocpp}"
    encode = ENCODERS[cp.ocpp]
    for event in charger_events(cp, start_s, end_s):
        for payload, truth in encode(cp, event):
            yield SimMessage(topic, payload, truth, event.time_s * NS_PER_S, wire, cp.cp_id)
