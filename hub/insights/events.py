"""Raw events of a measurement, read through the ``aggregate`` primitive.

The store contract has no "list the points" primitive, so events are read as ``last`` per
field in windows of ``resolution_ns`` (1 s by default: OCPP and GTFS-Realtime times are whole
seconds), grouped by the tags that identify an entity, and joined on (tags, window). Two
events of one entity inside one window collapse into the last one. Before reading, one
``count`` says how many points the range holds, and a range holding more than ``max_points``
is refused with :class:`TooMuchData` instead of being read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub.contracts import Store
from hub.errors import QueryError
from hub.points import FieldValue
from hub.query import AggregateQuery

__all__ = ["NS_PER_S", "Event", "TooMuchData", "count_points", "read_events"]

NS_PER_S = 1_000_000_000


class TooMuchData(QueryError):
    """A request would read or return more than the configured limit."""

    def __init__(self, what: str, count: int, limit: int, advice: str) -> None:
        super().__init__(f"{count} {what} is more than the limit of {limit}: {advice}")
        self.count = count
        self.limit = limit


@dataclass(frozen=True)
class Event:
    """One reading of an entity: its identifying tags ("" where absent), time, fields."""

    tags: dict[str, str]
    time_ns: int
    fields: dict[str, FieldValue]


def count_points(
    store: Store,
    measurement: str,
    field: str,
    start_ns: int,
    end_ns: int,
    where: Mapping[str, tuple[str, ...]] | None = None,
) -> int:
    """How many points of ``measurement`` with ``field`` lie in ``[start_ns, end_ns)``."""
    query = AggregateQuery(measurement, field, "count", start_ns, end_ns, where=dict(where or {}))
    return int(sum(b.value or 0 for s in store.aggregate(query) for b in s.buckets))


def read_events(
    store: Store,
    measurement: str,
    fields: Sequence[str],
    *,
    start_ns: int,
    end_ns: int,
    group_by: Sequence[str],
    max_points: int,
    where: Mapping[str, tuple[str, ...]] | None = None,
    resolution_ns: int = NS_PER_S,
) -> list[Event]:
    """Events in time order; ``fields[0]`` is the field every event has (it is counted)."""
    filters = dict(where or {})
    total = count_points(store, measurement, fields[0], start_ns, end_ns, filters)
    if total > max_points:
        raise TooMuchData(
            f"{measurement} points in the range", total, max_points, "shorten the range"
        )
    merged: dict[tuple[tuple[tuple[str, str], ...], int], dict[str, FieldValue]] = {}
    for field in fields:
        query = AggregateQuery(
            measurement,
            field,
            "last",
            start_ns,
            end_ns,
            every_ns=resolution_ns,
            group_by=tuple(group_by),
            where=filters,
        )
        for series in store.aggregate(query):
            key = tuple(sorted(series.tags.items()))
            for bucket in series.buckets:
                if bucket.value is not None:
                    merged.setdefault((key, bucket.time_ns), {})[field] = bucket.value
    events = [
        Event(dict(tags), time_ns, values)
        for (tags, time_ns), values in merged.items()
        if fields[0] in values
    ]
    events.sort(key=lambda e: (e.time_ns, sorted(e.tags.items())))
    return events
