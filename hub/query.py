"""The generic query primitives every store answers, as plain values.

* **aggregate**: one field of one measurement, reduced by a function over windows of
  ``every_ns`` (aligned to the Unix epoch, as InfluxQL aligns ``GROUP BY time()``) inside
  ``[start_ns, end_ns)``, grouped by tags, filtered by tag values. Empty windows are omitted.
* **latest**: the last value of each field for every series (entity).
* **points**: the raw points of one measurement in ``[start_ns, end_ns)`` that carry at least
  one of the selected fields (every field when none is named), filtered by tag values, in time
  order, ties by series key (``k1=v1,k2=v2``, keys sorted, compared as strings). Each is a
  :class:`PointRow`: its tags (a tag the point lacks is left out), its exact time in
  nanoseconds, and the selected fields it carries (a field it lacks is left out; unknown field
  names are ignored). At most ``limit`` rows, the first ones in that order: a caller that must
  know whether the range holds more asks for one row more than it wants and checks.
* **sum of means**: per window of ``every_ns``, the mean of one field of each series (a series
  is one combination of the ``series_by`` tags, "" where a point lacks one), summed over the
  series: a building's demand is the sum of its meters' mean power. The store does the work
  (one answer row per window), where asking ``aggregate`` for every series' means would carry
  series × windows buckets to the caller. Empty windows are omitted.
* **catalog**: measurements with their fields, tag keys, series and devices with last-seen.

**Retention**: a query whose range starts before the oldest points its tier keeps is refused
by :func:`check_retention` (:class:`~hub.errors.BeyondRetention`, a 400 that names the
setting), never answered from what is left, unless the rollups answer everything before the
horizon (``from_rollups``: :func:`hub.rollups.split.rollups_cover_before`).

Semantics both stores implement identically (the conformance suite checks):

* ``first``/``last`` are by time; ``percentile`` is nearest-rank like InfluxQL's
  ``PERCENTILE()``: the value at rank ``floor(n * p / 100 + 0.5)`` of the sorted values.
* ``increase`` is for cumulative counters: per series, the sum of the differences between
  consecutive readings whose later reading lies in the window. A fall below
  :data:`RESET_BELOW` of the previous reading is a counter reset or a replaced meter, and the
  reading after it counts from zero; a smaller dip (a gateway's rounding, a re-sent older
  value) is only a negative difference, which the recovery cancels. This is Home Assistant's
  ``total_increasing`` rule: Prometheus' ``increase()`` takes every dip for a reset, which
  turns a 0.2 Wh rounding dip of a 200 MWh register into 200 MWh of phantom consumption. The
  reading just before ``start_ns`` (looked up to ``counter_lookback_ns`` back) anchors the
  first window, so hourly increases add up to the daily one. Series are computed apart, then
  summed per group. The rule itself is :func:`hub.increase.increase`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from hub.errors import BeyondRetention
from hub.increase import RESET_BELOW
from hub.points import NAME, FieldValue
from hub.retention import Retention

__all__ = [
    "FUNCTIONS",
    "RESET_BELOW",
    "ROLLUPS_HINT",
    "AggregateQuery",
    "Bucket",
    "Catalog",
    "DeviceInfo",
    "LatestQuery",
    "LatestRow",
    "MeasurementInfo",
    "PointRow",
    "PointsQuery",
    "SeriesResult",
    "SumOfMeansQuery",
    "check_retention",
    "parse_duration_ns",
]

Function = Literal["mean", "sum", "min", "max", "count", "first", "last", "increase", "percentile"]
FUNCTIONS: tuple[str, ...] = Function.__args__  # type: ignore[attr-defined]

_DURATION = re.compile(r"(\d+)(ns|us|ms|s|m|h|d|w)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}


def parse_duration_ns(text: str) -> int:
    """``15m``, ``1h``, ``1d``, ``1h30m`` to nanoseconds; ``ValueError`` names the format."""
    position, total = 0, 0
    for match in _DURATION.finditer(text):
        if match.start() != position:
            break
        total += int(match.group(1)) * _UNIT_NS[match.group(2)]
        position = match.end()
    if position != len(text) or total <= 0:
        raise ValueError(f"{text!r} is not a duration like 15m, 1h or 1d")
    return total


@dataclass(frozen=True)
class AggregateQuery:
    measurement: str
    field: str
    function: Function
    start_ns: int
    end_ns: int
    every_ns: int | None = None  # None: one window for the whole range
    group_by: tuple[str, ...] = ()
    where: dict[str, tuple[str, ...]] = dataclasses.field(
        default_factory=dict
    )  # tag -> allowed values
    percentile: float | None = None
    counter_lookback_ns: int = _UNIT_NS["d"]

    def __post_init__(self) -> None:
        for name in (self.measurement, self.field, *self.group_by, *self.where):
            if not NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid measurement, field or tag name")
        if self.function not in FUNCTIONS:
            raise ValueError(f"function {self.function!r} is not one of {', '.join(FUNCTIONS)}")
        if self.function == "percentile" and not (
            self.percentile is not None and 0 < self.percentile <= 100
        ):
            raise ValueError("percentile needs p in (0, 100]")
        if self.end_ns <= self.start_ns:
            raise ValueError("the range is empty: end must be after start")
        if self.every_ns is not None and self.every_ns <= 0:
            raise ValueError("every must be a positive duration")

    def window_start(self, time_ns: int) -> int:
        """The start of the window holding ``time_ns``."""
        if self.every_ns is None:
            return self.start_ns
        return time_ns - time_ns % self.every_ns


@dataclass(frozen=True)
class SumOfMeansQuery:
    """Per window: the mean of ``field`` per series (``series_by`` tags), summed over the series
    matching ``where``. Windows are aligned to the Unix epoch, as for :class:`AggregateQuery`."""

    measurement: str
    field: str
    start_ns: int
    end_ns: int
    every_ns: int
    series_by: tuple[str, ...]
    where: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (self.measurement, self.field, *self.series_by, *self.where):
            if not NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid measurement, field or tag name")
        if self.end_ns <= self.start_ns:
            raise ValueError("the range is empty: end must be after start")
        if self.every_ns <= 0:
            raise ValueError("every must be a positive duration")


@dataclass(frozen=True, slots=True)
class Bucket:
    time_ns: int  # window start
    value: float | None


@dataclass(frozen=True)
class SeriesResult:
    tags: dict[str, str]  # the group-by tags ("" where a series lacks the tag)
    buckets: list[Bucket]


@dataclass(frozen=True)
class LatestQuery:
    measurement: str
    fields: tuple[str, ...] = ()  # () means every field
    where: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (self.measurement, *self.fields, *self.where):
            if not NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid measurement, field or tag name")


@dataclass(frozen=True)
class LatestRow:
    tags: dict[str, str]
    time_ns: int  # the newest time of any returned field
    fields: dict[str, FieldValue]


@dataclass(frozen=True)
class PointsQuery:
    measurement: str
    start_ns: int
    end_ns: int
    fields: tuple[str, ...] = ()  # () means every field
    where: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    limit: int = 10_000  # at most this many rows; ask for one more to detect truncation

    def __post_init__(self) -> None:
        for name in (self.measurement, *self.fields, *self.where):
            if not NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid measurement, field or tag name")
        if self.end_ns <= self.start_ns:
            raise ValueError("the range is empty: end must be after start")
        if self.limit < 1:
            raise ValueError("limit must be at least 1")


@dataclass(frozen=True)
class PointRow:
    tags: dict[str, str]  # the point's tags (absent ones left out)
    time_ns: int  # the point's own time, exact to the nanosecond
    fields: dict[str, FieldValue]  # the selected fields the point carries


@dataclass(frozen=True)
class MeasurementInfo:
    name: str
    fields: dict[str, str]  # name -> "float" | "bool" | "str"
    tag_keys: list[str]
    series: int
    points: int
    first_ns: int | None
    last_ns: int | None


@dataclass(frozen=True)
class DeviceInfo:
    device: str
    measurement: str
    first_seen_ns: int
    last_seen_ns: int
    points: int


@dataclass(frozen=True)
class Catalog:
    measurements: list[MeasurementInfo]
    devices: list[DeviceInfo]


# -- retention ------------------------------------------------------------------------------

RangeQuery = AggregateQuery | SumOfMeansQuery | PointsQuery


def _iso(time_ns: int) -> str:
    moment = datetime.fromtimestamp(time_ns // 1_000_000_000, tz=UTC)
    return moment.isoformat().replace("+00:00", "Z")


ROLLUPS_HINT = (
    "ask an aggregate the rollups answer (windows of whole rollup intervals, "
    "CITYHUB_ROLLUPS__INTERVALS, from an interval boundary on; not percentile)"
)


def check_retention(
    query: RangeQuery,
    now_ns: int,
    retention: Retention,
    from_rollups: Callable[[Any, int], bool] | None = None,
    rollups_hint: str = ROLLUPS_HINT,
) -> None:
    """Refuse ``query`` when its range starts before the oldest point its tier keeps at
    ``now_ns``: the points before are deleted (or about to be), and an answer from the rest
    would be silently partial. Raises :class:`~hub.errors.BeyondRetention`. The reading an
    ``increase`` looks up just before ``start`` (its anchor) is not checked: it lies within
    retention unless the meter was silent from the horizon to ``start``. ``rollups_hint``
    says what the rollups would answer instead (for a raw measurement)."""
    keep_ns = retention.keep_ns(query.measurement)
    if keep_ns is None or query.start_ns >= now_ns - keep_ns:
        return
    rollup = retention.is_rollup(query.measurement)
    horizon_ns = now_ns - keep_ns
    if not rollup and from_rollups is not None and from_rollups(query, horizon_ns):
        return  # what lies before the horizon is read from the rollups
    # whole seconds, rounded up: asking from the time the message names is then answered
    from_ns = -(-horizon_ns // 1_000_000_000) * 1_000_000_000
    setting = retention.setting(query.measurement)
    tier = "rollups" if rollup else "raw points"
    hint = "" if rollup else f", or {rollups_hint}"
    raise BeyondRetention(
        f"{tier} are kept {retention.days(query.measurement)} days ({setting}); "
        f"start={_iso(query.start_ns)} is older than the oldest time they cover: ask from "
        f"{_iso(from_ns)} on{hint}",
        setting,
        query.start_ns,
        horizon_ns,
    )
