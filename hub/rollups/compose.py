"""The statistics of one field over one rollup interval, and how they compose, in Python.

DuckDB composes them in SQL (:mod:`hub.stores.duckdb_rollups`); the InfluxDB store here, since
InfluxQL cannot carry a counter step across points. Composition is exact: the statistics of an
interval are the same whether folded from its raw readings or from the rows of a finer rollup
(up to the order of floating-point additions in ``sum``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub.increase import counter_step
from hub.points import FieldValue
from hub.rollups.plan import LAST_OFFSET, rollup_field

__all__ = ["Stats", "combine", "reading", "row_fields", "stats_of_row"]


@dataclass(frozen=True, slots=True)
class Stats:
    """One field over one stretch of time; ``first_ns``/``last_ns`` absolute, in ns."""

    count: float
    sum: float
    min: float
    max: float
    first: float
    last: float
    increase_within: float
    first_ns: int
    last_ns: int


def reading(time_ns: int, value: float) -> Stats:
    """A raw reading as an element."""
    return Stats(1.0, value, value, value, value, value, 0.0, time_ns, time_ns)


def combine(elements: Sequence[Stats]) -> Stats:
    """The statistics of ``elements`` (non-empty, in time order, not overlapping)."""
    increase = 0.0
    before: float | None = None
    for element in elements:
        if before is not None:
            increase += counter_step(before, element.first)
        increase += element.increase_within
        before = element.last
    first = min(elements, key=lambda e: e.first_ns)
    last = max(elements, key=lambda e: e.last_ns)
    return Stats(
        count=sum(e.count for e in elements),
        sum=sum(e.sum for e in elements),
        min=min(e.min for e in elements),
        max=max(e.max for e in elements),
        first=first.first,
        last=last.last,
        increase_within=increase,
        first_ns=first.first_ns,
        last_ns=last.last_ns,
    )


def row_fields(stats: Mapping[str, Stats], bucket_ns: int) -> dict[str, FieldValue]:
    """The fields of a rollup point at ``bucket_ns`` holding ``stats`` per field."""
    fields: dict[str, FieldValue] = {}
    for field, s in stats.items():
        fields |= {
            rollup_field(field, "count"): s.count,
            rollup_field(field, "sum"): s.sum,
            rollup_field(field, "min"): s.min,
            rollup_field(field, "max"): s.max,
            rollup_field(field, "first"): s.first,
            rollup_field(field, "last"): s.last,
            rollup_field(field, "increase_within"): s.increase_within,
            rollup_field(field, "first_offset_ns"): float(s.first_ns - bucket_ns),
            rollup_field(field, "last_offset_ns"): float(s.last_ns - bucket_ns),
        }
    if stats:
        fields[LAST_OFFSET] = float(max(s.last_ns for s in stats.values()) - bucket_ns)
    return fields


def stats_of_row(row: Mapping[str, object], field: str, bucket_ns: int) -> Stats | None:
    """``field``'s statistics from a rollup row's values, ``None`` when it has none."""
    count = row.get(rollup_field(field, "count"))
    if count is None:
        return None

    def value(stat: str) -> float:
        return float(row[rollup_field(field, stat)])  # type: ignore[arg-type]

    return Stats(
        count=value("count"),
        sum=value("sum"),
        min=value("min"),
        max=value("max"),
        first=value("first"),
        last=value("last"),
        increase_within=value("increase_within"),
        first_ns=bucket_ns + int(value("first_offset_ns")),
        last_ns=bucket_ns + int(value("last_offset_ns")),
    )
