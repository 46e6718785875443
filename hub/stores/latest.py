"""The newest value of every field of every series, kept in memory beside an embedded store.

Answering "latest" with SQL means an ``arg_max`` over the whole table: hundreds of
milliseconds at ten million rows, on every request of a dashboard that polls. The embedded
store is the only writer of its file, so it can instead keep the answer up to date as it
writes: a table's index is loaded from the file on its first ``latest`` question, then every
committed batch updates it (a few dictionary operations per point).

Semantics are the SQL ones: per field, the value with the newest time (a later write of the
same instant wins, as the upsert does); a row's time is the newest of its selected fields.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from hub.points import FieldValue, Point
from hub.query import LatestRow

__all__ = ["LatestIndex"]


@dataclass(slots=True)
class _Series:
    tags: dict[str, str]
    values: dict[str, tuple[int, FieldValue]]  # field -> (time_ns, value)


class LatestIndex:
    def __init__(self) -> None:
        self._tables: dict[str, dict[str, _Series]] = {}
        self._lock = threading.Lock()

    def loaded(self, table: str) -> bool:
        return table in self._tables

    def drop_before(self, table: str, before_ns: int) -> None:
        """Retention deleted every point of ``table`` older than ``before_ns``: a value that
        old has no row left (nor has any older one), so it goes, and a series left without
        values with it. Exact, and no rescan of the table (which would hold the write lock)."""
        with self._lock:
            series = self._tables.get(table)
            if series is None:
                return
            for key in list(series):
                values = series[key].values
                for field in [f for f, (time_ns, _) in values.items() if time_ns < before_ns]:
                    del values[field]
                if not values:
                    del series[key]

    def load(
        self, table: str, rows: Iterable[tuple[str, dict[str, str], str, int, FieldValue]]
    ) -> None:
        """Install ``table``'s index from ``(series, tags, field, time_ns, value)`` rows."""
        series: dict[str, _Series] = {}
        for key, tags, field, time_ns, value in rows:
            entry = series.get(key)
            if entry is None:
                entry = series[key] = _Series(tags, {})
            entry.values[field] = (time_ns, value)
        with self._lock:
            self._tables[table] = series

    def forget(self, tables: Iterable[str]) -> None:
        """Drop the index of ``tables`` (rewritten in place, as rollups are): the next query
        loads it again."""
        with self._lock:
            for table in tables:
                self._tables.pop(table, None)

    def update(self, table: str, points: Iterable[Point]) -> None:
        """Fold committed ``points`` of ``table`` in (nothing to do before it is loaded)."""
        with self._lock:
            series = self._tables.get(table)
            if series is None:
                return
            for point in points:
                entry = series.get(point.series)
                if entry is None:
                    entry = series[point.series] = _Series(point.tags, {})
                values, time_ns = entry.values, point.time_ns
                for field, value in point.fields.items():
                    known = values.get(field)
                    if known is None or time_ns >= known[0]:
                        values[field] = (time_ns, value)

    def query(
        self, table: str, fields: list[str], where: dict[str, tuple[str, ...]]
    ) -> list[LatestRow]:
        with self._lock:
            series = self._tables.get(table, {})
            matching = [
                (key, entry)
                for key, entry in series.items()
                if all(entry.tags.get(tag) in allowed for tag, allowed in where.items())
            ]
            rows = []
            for _key, entry in sorted(matching, key=lambda item: item[0]):
                found = {f: entry.values[f] for f in fields if f in entry.values}
                if found:
                    rows.append(
                        LatestRow(
                            tags=dict(entry.tags),
                            time_ns=max(time_ns for time_ns, _ in found.values()),
                            fields={f: value for f, (_, value) in found.items()},
                        )
                    )
        return rows
