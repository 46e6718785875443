"""The canonical data point every adapter produces and every store accepts.

A ``Point`` maps one-to-one onto an InfluxDB line-protocol line and onto one row of the
DuckDB table named after its measurement: ``tags`` are identity (strings), ``fields`` are
values whose names carry their unit (``power_w``, ``energy_import_wh``), ``time_ns`` is UTC
nanoseconds since the epoch.

Numbers are always ``float`` (an integer reading and a fractional one of the same field must
not become two column types), so a field value is ``float``, ``bool`` or ``str``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["NAME", "FieldValue", "Point", "naming_problem", "series_key"]

# Measurement, tag and field names: identifiers, so both stores can use them as they are.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

FieldValue = float | bool | str


@dataclass(frozen=True, slots=True)
class Point:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    time_ns: int
    # The series key, computed on first use and kept: the pipeline's cardinality guard and the
    # store both need it.
    _series: str | None = field(default=None, compare=False, repr=False)

    @property
    def time(self) -> datetime:
        """The point's time as an aware UTC datetime (microsecond precision)."""
        return datetime.fromtimestamp(self.time_ns / 1e9, tz=UTC)

    @property
    def series(self) -> str:
        key = self._series
        if key is None:
            key = series_key(self.tags)
            object.__setattr__(self, "_series", key)
        return key

    def as_dict(self) -> dict[str, object]:
        """The point as plain JSON-able values."""
        return {
            "measurement": self.measurement,
            "tags": self.tags,
            "fields": self.fields,
            "time_ns": self.time_ns,
        }


def series_key(tags: dict[str, str]) -> str:
    """A stable identity for a tag set: ``k1=v1,k2=v2`` with keys sorted."""
    # Remembered per tag set: a device sends the same tags in every message (a fresh dict
    # each time), and sorting and joining them was the costliest thing about a point.
    items = tuple(tags.items())
    key = _SERIES_KEYS.get(items)
    if key is None:
        key = ",".join(f"{name}={value}" for name, value in sorted(items))
        if len(_SERIES_KEYS) >= SERIES_KEYS_KEPT:
            _SERIES_KEYS.clear()  # a flood of new series: start over rather than grow
        _SERIES_KEYS[items] = key
    return key


# Tag sets whose series key is remembered (about 600 bytes each with their strings: 10 MiB).
# With more series sending than that, the memo is dropped when full and keys are made again.
# Only whole reads and writes of the dict: safe across threads.
SERIES_KEYS_KEPT = 16_384
_SERIES_KEYS: dict[tuple[tuple[str, str], ...], str] = {}


def naming_problem(point: Point, reserved: frozenset[str]) -> str | None:
    """Why a store cannot take ``point`` as named (``reserved`` are its own column names)."""
    if not NAME.fullmatch(point.measurement):
        return f"measurement name {point.measurement!r} is not a valid identifier"
    for name in (*point.tags, *point.fields):
        if not NAME.fullmatch(name) or name in reserved:
            return f"tag or field name {name!r} is reserved or not a valid identifier"
    clash = point.tags.keys() & point.fields.keys()
    if clash:
        return f"{sorted(clash)} used both as tag and field"
    if not point.fields:
        return "point has no fields"
    return None
