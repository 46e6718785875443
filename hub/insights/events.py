"""Raw events of a measurement, read through the ``points`` primitive.

One :class:`~hub.query.PointsQuery` reads the points of the range that carry any of the
wanted fields, in time order, at their exact times: two events of one entity within one
second are two events. An event is a point carrying the first wanted field; its tags are
the ones that identify an entity (``group_by``, "" where the point lacks one), so series that
differ only in another tag (a bus's ``route``) make one entity. A range holding more than
``max_points`` such points (the first field or any other wanted one) is refused with
:class:`TooMuchData`: the query asks for ``max_points + 1`` rows and checks, so a refusal
costs no more than reading ``max_points`` points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub.contracts import Store
from hub.errors import QueryError
from hub.points import FieldValue
from hub.query import PointsQuery

__all__ = ["NS_PER_S", "Event", "TooMuchData", "read_events"]

NS_PER_S = 1_000_000_000


class TooMuchData(QueryError):
    """A request would read or return more than the configured limit. ``count`` is ``None``
    when only the excess is known (the read stopped one past the limit)."""

    def __init__(self, what: str, count: int | None, limit: int, advice: str) -> None:
        if count is None:
            super().__init__(f"more than the limit of {limit} {what}: {advice}")
        else:
            super().__init__(f"{count} {what} is more than the limit of {limit}: {advice}")
        self.count = count
        self.limit = limit


@dataclass(frozen=True)
class Event:
    """One reading of an entity: its identifying tags ("" where absent), time, fields."""

    tags: dict[str, str]
    time_ns: int
    fields: dict[str, FieldValue]


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
) -> list[Event]:
    """Events in time order (ties by series key); ``fields[0]`` is the field every event has,
    the other fields come along where the point carries them."""
    query = PointsQuery(
        measurement,
        start_ns,
        end_ns,
        fields=tuple(fields),
        where=dict(where or {}),
        limit=max_points + 1,
    )
    rows = store.points(query)
    if len(rows) > max_points:
        raise TooMuchData(
            f"{measurement} points in the range", None, max_points, "shorten the range"
        )
    return [
        Event({tag: row.tags.get(tag, "") for tag in group_by}, row.time_ns, row.fields)
        for row in rows
        if fields[0] in row.fields
    ]
