"""The transactionId a central system assigned to an OCPP 1.6 StartTransaction.

In 1.6 the charge point's StartTransaction carries no transaction id: the central system
assigns it in the CALLRESULT, which names only the CALL's message id. When the hub's gateway
is the central system it publishes the CALL and then its CALLRESULT on the charge point's
topic, in that order, so the adapter remembers the last starts it read (charge point, message
id → the start point's series and time) and, reading the reply, adds ``transaction_id`` to
that same point: the store merges the field into the start, and session pairing stops
guessing. This is the one piece of state the adapter keeps; it is bounded, and losing it (a
hub restart between the two frames) only sends that session back to the guessing rules.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from hub.points import Point

__all__ = ["PendingStarts", "StartKey"]

StartKey = tuple[str, str]  # (charge point id, CALL message id)


@dataclass(frozen=True, slots=True)
class _Start:
    measurement: str
    tags: dict[str, str]
    time_ns: int


class PendingStarts:
    """StartTransaction points waiting for their CALLRESULT, the oldest forgotten first."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._starts: OrderedDict[StartKey, _Start] = OrderedDict()
        self._lock = threading.Lock()  # adapters may be called from any thread

    def remember(self, key: StartKey, point: Point) -> None:
        with self._lock:
            self._starts[key] = _Start(point.measurement, dict(point.tags), point.time_ns)
            self._starts.move_to_end(key)
            while len(self._starts) > self._capacity:
                self._starts.popitem(last=False)

    def resolve(self, key: StartKey, transaction_id: str) -> Point | None:
        """The start's point with ``transaction_id`` added, or None for a reply to no start."""
        with self._lock:
            start = self._starts.pop(key, None)
        if start is None:
            return None
        return Point(start.measurement, start.tags, {"transaction_id": transaction_id},
                     start.time_ns)  # fmt: skip
