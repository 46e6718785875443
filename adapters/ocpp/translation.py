"""What every action translator shares: who sent the message, and the points it produces.

A translator reads one validated OCPP payload and adds canonical points to a
:class:`PointSet`, which merges points of the same measurement, tags and time into one
(several sampled values of one meter value become one ``charger_meter`` point).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.errors import Rejected
from hub.points import FieldValue, Point
from hub.timestamps import TimePolicy
from hub.validation import WireModel

__all__ = [
    "CHARGER_HEARTBEAT",
    "CHARGER_METER",
    "CHARGER_SESSION",
    "CHARGER_STATUS",
    "CHARGER_TRANSACTION_METER",
    "Action",
    "PointSet",
    "Station",
    "merge_field",
]

CHARGER_METER = "charger_meter"
# 1.6 StopTransaction.transactionData: readings of a connector the frame does not name. Kept
# apart from charger_meter, where a connector-less register series would be counted again on
# top of the connector's own series by every site-level increase.
CHARGER_TRANSACTION_METER = "charger_transaction_meter"
CHARGER_STATUS = "charger_status"
CHARGER_SESSION = "charger_session"
CHARGER_HEARTBEAT = "charger_heartbeat"


@dataclass(frozen=True, slots=True)
class Station:
    """The charge point a message came from: its id, its tags (registry + ``device``) and the
    hub's time policy."""

    device: str
    tags: dict[str, str]
    time: TimePolicy

    def connector_tags(self, connector: int | None) -> dict[str, str]:
        """The station's tags, plus ``connector`` when the message names one."""
        if connector is None:
            return self.tags
        return {**self.tags, "connector": str(connector)}

    def now_ns(self) -> int:
        return self.time.clock.now_ns()


class PointSet:
    """Points of one message, merged by (measurement, tags, time). The same field twice with
    different values at one instant is a contradiction the adapter cannot resolve:
    ``conflicting_values``."""

    def __init__(self) -> None:
        self._points: dict[tuple[str, tuple[tuple[str, str], ...], int], Point] = {}
        self.rejects: list[Rejected] = []

    def refuse(self, reading: str, error: Rejected) -> None:
        """Refuse one independent reading of the message (a sampled value), naming it."""
        self.rejects.append(Rejected(error.reason, f"{reading}: {error.detail}"))

    def add(
        self, measurement: str, tags: dict[str, str], time_ns: int, fields: dict[str, FieldValue]
    ) -> None:
        key = (measurement, tuple(sorted(tags.items())), time_ns)
        point = self._points.get(key)
        if point is None:
            self._points[key] = Point(measurement, tags, dict(fields), time_ns)
            return
        for name, value in fields.items():
            merge_field(point.fields, name, value, measurement, time_ns)

    def points(self) -> list[Point]:
        return list(self._points.values())


def merge_field(
    fields: dict[str, FieldValue], name: str, value: FieldValue, measurement: str, time_ns: int
) -> None:
    """Add ``name`` = ``value`` to the ``fields`` of ``measurement`` at ``time_ns``; the same
    value again is no change, another one is ``conflicting_values``. Translators gather the
    readings of one instant with it before adding them to the :class:`PointSet` in one go."""
    known = fields.setdefault(name, value)
    if known is not value and not _same(known, value):
        moment = datetime.fromtimestamp(time_ns / 1e9, tz=UTC)
        raise Rejected(
            "conflicting_values",
            f"{measurement}.{name} at {moment.isoformat()} is both {known!r} and {value!r}",
        )


def _same(left: FieldValue, right: FieldValue) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)
    return left == right


@dataclass(frozen=True, slots=True)
class Action:
    """One OCPP action of one version: its payload model and its translator."""

    model: type[WireModel]
    translate: Callable[[Any, Station, PointSet], None]
