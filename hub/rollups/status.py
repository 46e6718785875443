"""Status rollups: per connector and interval, the time spent in each status, kept by both
stores as data lands, so that utilization over months reads a row per connector and hour
(or day) rather than every status report.

A connector's status holds from one report to the next (:mod:`hub.insights.status`, OCPP
2.0.1 charging states folded in by :func:`~hub.insights.status.with_charging_states`). A row
depends only on the reports inside its own interval, as ``f_increase_within`` does for
counters: the time from the interval's start to its first report belongs to whatever status
came before, which an earlier interval knows, so late data in one interval never changes
another's row. The measurement ``charger_status_<I>`` (``_1h``, ``_1d``: ``CITYHUB_ROLLUPS__
STATUS_INTERVALS``) has one point per connector with a report in the interval, at the
interval's start, tagged ``device``, ``connector``, ``site`` and ``district``:

=================== ======================================================================
``observed_s``      seconds from the first report in the interval to the last
``charging_s``      of those, seconds ``Charging``
``occupied_s``      of those, seconds with a vehicle plugged in (any of ``OCCUPIED``)
``first_offset_ns`` the first report's time from the interval's start (a float, exact
``first_status``    under 104 days), and its status
``last_offset_ns``  the last report's time, and its status
``last_status``
=================== ======================================================================

InfluxQL and Grafana read it as any measurement (``SUM("charging_s") / SUM("observed_s")``
is the share of the reported stretches; the exact share adds the stretches between rows, as
:func:`hub.insights.status_rollups` does). A day's row is the composition of its hours'
(:meth:`Span.then`: the gap between two rows is the earlier row's last status).

**Maintenance** (:func:`recompute`, shared by the stores): the intervals a batch of
``charger_status`` or ``charger_session`` points touched are recomputed whole from the raw
reports of their devices, per device and interval (a transaction's later events name no
connector; they are matched to it through its first event, looked for up to
:data:`SESSION_MATCH_NS` before), then each coarser rollup's intervals from the finer rows.
Rows are rewritten whole, so a redelivery is a no-op and a late report corrects its
interval. A transaction's first event arriving after its later ones were rolled up does not
reach back to their intervals (``cityhub rollups rebuild`` does).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from hub.insights.events import Event
from hub.insights.status import Connector, StatusTime, by_connector, with_charging_states
from hub.points import Point
from hub.query import PointRow, PointsQuery
from hub.rollups.plan import STATUS_MEASUREMENT, Rollup

__all__ = [
    "ENTITY",
    "ROW_FIELDS",
    "SESSION_MATCH_NS",
    "SOURCES",
    "Span",
    "folded_reports",
    "rebuild",
    "recompute",
    "spans",
    "touched_by",
]

SESSION_MEASUREMENT = "charger_session"
SOURCES = frozenset({STATUS_MEASUREMENT, SESSION_MEASUREMENT})
ENTITY = ("device", "site", "district", "connector")
STATUS_FIELDS = ("status",)
ROW_FIELDS = (
    "first_status",
    "first_offset_ns",
    "last_status",
    "last_offset_ns",
    "observed_s",
    "charging_s",
    "occupied_s",
)
SESSION_FIELDS = ("session_id", "event", "charging_state")
# How far before an interval a transaction's first event (the one naming its EVSE) is looked
# for: the hub's default CITYHUB_INSIGHTS__SESSION_LOOKBACK_S, its longest session.
SESSION_MATCH_NS = 2 * 86_400 * 10**9
_ALL = 2**62  # a maintenance read is never cut short
_DEVICES_FILTERED = 200  # more devices than this: read them all, rather than name each

_NOTHING = StatusTime()

Read = Callable[[PointsQuery], list[PointRow]]
Write = Callable[[list[Point]], None]
ReadEvents = Callable[[str, tuple[str, ...], int, int], list[Event]]


@dataclass(frozen=True)
class Span:
    """One connector's reports over a stretch of time: the first and last, and the status
    time between them (``within``)."""

    first_ns: int
    first_status: str
    last_ns: int
    last_status: str
    within: StatusTime = _NOTHING

    @classmethod
    def report(cls, time_ns: int, status: str) -> Span:
        return cls(time_ns, status, time_ns, status)

    def then(self, later: Span) -> Span:
        """This span followed by ``later``: the gap between them is this one's last status."""
        gap = StatusTime.of(self.last_status, later.first_ns - self.last_ns)
        return Span(
            self.first_ns,
            self.first_status,
            later.last_ns,
            later.last_status,
            self.within + gap + later.within,
        )

    def fields(self, bucket_ns: int) -> dict[str, str | float]:
        """The fields of its rollup row at ``bucket_ns``."""
        return {
            "observed_s": self.within.observed_ns / 1e9,
            "charging_s": self.within.charging_ns / 1e9,
            "occupied_s": self.within.occupied_ns / 1e9,
            "first_offset_ns": float(self.first_ns - bucket_ns),
            "first_status": self.first_status,
            "last_offset_ns": float(self.last_ns - bucket_ns),
            "last_status": self.last_status,
        }

    @classmethod
    def of_row(cls, bucket_ns: int, fields: Mapping[str, object]) -> Span:
        """The span of a rollup row at ``bucket_ns`` with ``fields`` (seconds back to whole
        nanoseconds: exact, see the fields)."""

        def ns(name: str, scale: float = 1.0) -> int:
            return round(float(fields[name]) * scale)  # type: ignore[arg-type]

        return cls(
            bucket_ns + ns("first_offset_ns"),
            str(fields["first_status"]),
            bucket_ns + ns("last_offset_ns"),
            str(fields["last_status"]),
            StatusTime(ns("observed_s", 1e9), ns("charging_s", 1e9), ns("occupied_s", 1e9)),
        )


def spans(reports: Iterable[Event], interval_ns: int) -> dict[int, Span]:
    """One connector's reports (in time order) as a span per interval they fall in."""
    out: dict[int, Span] = {}
    for report in reports:
        bucket = report.time_ns - report.time_ns % interval_ns
        span = Span.report(report.time_ns, str(report.fields.get("status", "")))
        earlier = out.get(bucket)
        out[bucket] = span if earlier is None else earlier.then(span)
    return out


def folded_reports(read: ReadEvents, low_ns: int, high_ns: int) -> dict[Connector, list[Event]]:
    """Each connector's status reports in ``[low_ns, high_ns)``, with the charging states of
    OCPP 2.0.1 transactions folded in (their first event looked for up to
    :data:`SESSION_MATCH_NS` before)."""
    status = read(STATUS_MEASUREMENT, STATUS_FIELDS, low_ns, high_ns)
    sessions = read(SESSION_MEASUREMENT, SESSION_FIELDS, low_ns - SESSION_MATCH_NS, high_ns)
    folded = [e for e in with_charging_states(status, sessions) if e.time_ns >= low_ns]
    return by_connector(folded)


def touched_by(points: Iterable[Point]) -> dict[str, set[int]]:
    """The times of the status and session points, per device (what :func:`recompute`
    takes); points without a device tag are no connector's."""
    touched: dict[str, set[int]] = defaultdict(set)
    for point in points:
        device = point.tags.get("device")
        if point.measurement in SOURCES and device:
            touched[device].add(point.time_ns)
    return dict(touched)


def _reader(read: Read, devices: Sequence[str]) -> ReadEvents:
    where = {"device": tuple(devices)} if len(devices) <= _DEVICES_FILTERED else {}
    wanted = set(devices)

    def events(measurement: str, fields: tuple[str, ...], low: int, high: int) -> list[Event]:
        rows = read(PointsQuery(measurement, low, high, fields=fields, where=where, limit=_ALL))
        return [
            Event({tag: row.tags.get(tag, "") for tag in ENTITY}, row.time_ns, row.fields)
            for row in rows
            if fields[0] in row.fields and row.tags.get("device") in wanted
        ]

    return events


def _row(rollup: Rollup, tags: Mapping[str, str], bucket: int, span: Span) -> Point:
    kept = {tag: tags[tag] for tag in ENTITY if tags.get(tag)}
    return Point(rollup.name, kept, span.fields(bucket), bucket)


def recompute(
    read: Read, write: Write, rollups: Sequence[Rollup], touched: Mapping[str, Iterable[int]]
) -> None:
    """Rewrite the rows of ``rollups`` (finest first) of the intervals holding the times in
    ``touched`` (per device), from the raw reports and then from the finer rows."""
    interval = rollups[0].interval_ns
    buckets = {device: {t - t % interval for t in times} for device, times in touched.items()}
    if not any(buckets.values()):
        return
    devices = sorted(buckets)
    low = min(min(b) for b in buckets.values() if b)
    high = max(max(b) for b in buckets.values() if b) + interval
    rows = []
    for connector, reports in folded_reports(_reader(read, devices), low, high).items():
        for bucket, span in spans(reports, interval).items():
            if bucket in buckets[connector.device]:
                rows.append(_row(rollups[0], reports[0].tags, bucket, span))
    write(rows)
    for finer, coarser in itertools.pairwise(rollups):
        step = coarser.interval_ns
        buckets = {device: {b - b % step for b in bs} for device, bs in buckets.items()}
        write(_composed(read, finer, coarser, buckets))


def _composed(
    read: Read, finer: Rollup, coarser: Rollup, buckets: Mapping[str, set[int]]
) -> list[Point]:
    """The rows of ``coarser`` for ``buckets`` (per device), composed of ``finer``'s rows."""
    step = coarser.interval_ns
    devices = sorted(buckets)
    where = {"device": tuple(devices)} if len(devices) <= _DEVICES_FILTERED else {}
    low = min(min(b) for b in buckets.values() if b)
    high = max(max(b) for b in buckets.values() if b) + step
    composed: dict[tuple[tuple[str, ...], int], tuple[dict[str, str], Span]] = {}
    for row in read(PointsQuery(finer.name, low, high, where=where, limit=_ALL)):
        bucket = row.time_ns - row.time_ns % step
        if bucket not in buckets.get(row.tags.get("device", ""), ()):
            continue
        key = (tuple(row.tags.get(tag, "") for tag in ENTITY), bucket)
        span = Span.of_row(row.time_ns, row.fields)
        earlier = composed.get(key)
        composed[key] = (row.tags, span if earlier is None else earlier[1].then(span))
    return [_row(coarser, tags, bucket, span) for (_, bucket), (tags, span) in composed.items()]


def rebuild(read: Read, write: Write, rollups: Sequence[Rollup], low_ns: int, high_ns: int) -> None:
    """Recompute every row of ``rollups`` in ``[low_ns, high_ns)`` (whole intervals of the
    coarsest): ``cityhub rollups rebuild`` one chunk at a time."""
    touched: dict[str, set[int]] = defaultdict(set)
    for measurement, fields in (
        (STATUS_MEASUREMENT, STATUS_FIELDS),
        (SESSION_MEASUREMENT, SESSION_FIELDS),
    ):
        for row in read(PointsQuery(measurement, low_ns, high_ns, fields=fields, limit=_ALL)):
            device = row.tags.get("device")
            if device:
                touched[device].add(row.time_ns)
    recompute(read, write, rollups, touched)
