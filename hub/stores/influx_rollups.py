"""Rollups on InfluxDB: maintained by the store after each write, read in InfluxQL.

**Maintenance.** After a batch is written, the (series, interval) pairs it touched are
recomputed: the raw points of those intervals are read back (``SELECT <numeric fields> ...
GROUP BY *``), folded by :func:`hub.rollups.compose.combine`, and written as rollup points;
each coarser rollup is then folded from the finer one's rows. Rows are rewritten whole, so a
redelivery or late point gives the same rows as a recomputation. The store runs behind the
spool, whose forwarder calls ``write``: a crash before the rollups are written leaves the batch
in the spool, and it is forwarded (and rolled up) again. Unlike DuckDB's, this maintenance
rereads each touched interval whole (no append-only shortcut): cheap at hourly rates per
series, a cost to watch with many fast series.

**Reading.** ``sum``/``count``/``min``/``max`` are InfluxQL aggregates of the stored
statistics; ``mean`` is ``SUM(f_sum) / SUM(f_count)`` per window; ``first``/``last`` and
``increase`` read the rows of the range and pick or step through them here (by the readings'
own times; counter steps between intervals from each interval's first and the previous one's
last, anchored by the last row in ``[start - lookback, start)``).

**Where rollups live.** Every statement names a rollup through ``source`` (the store's
``_source``): on InfluxDB 1.x that qualifies it with the rollups' retention policy
(``"rollups"."building_energy_1h"``), so they outlive the raw points; raw measurements stay
unqualified (the raw policy, the ``rp`` of every query).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence

from hub.increase import counter_step
from hub.points import Point
from hub.query import AggregateQuery, Bucket, SeriesResult
from hub.rollups import path
from hub.rollups.compose import Stats, combine, reading, row_fields, stats_of_row
from hub.rollups.plan import Rollup, rollup_field
from hub.stores.influxql import (
    field_types,
    influxql_identifier,
    json_number,
    ordered,
    series_of,
    tag_conditions,
    time_range,
)

__all__ = ["aggregate_from_rollup", "recompute", "roll_up"]

Query = Callable[..., list[list[dict]]]
Write = Callable[[list[Point]], None]
Source = Callable[[str], str]  # a measurement's name -> its (qualified) InfluxQL identifier


def _rows(series: list[dict]) -> list[tuple[dict[str, str], int, dict[str, object]]]:
    """(tags, time, values by column) of every row of a ``GROUP BY *`` answer."""
    rows = []
    for block in series:
        tags = {k: v for k, v in (block.get("tags") or {}).items() if v}
        columns = block.get("columns", [])[1:]
        for time, *values in block.get("values", []):
            rows.append((tags, int(time), dict(zip(columns, values, strict=True))))
    return rows


def roll_up(
    query: Query, write: Write, source: Source, rollups: Sequence[Rollup], points: Sequence[Point]
) -> None:
    """Recompute the intervals of ``rollups`` (one measurement's, finest first) that
    ``points`` touched."""
    interval = rollups[0].interval_ns
    touched = {(p.series, p.time_ns - p.time_ns % interval) for p in points}
    low = min(bucket for _, bucket in touched)
    recompute(query, write, source, rollups, low, max(b for _, b in touched) + interval, touched)


def recompute(
    query: Query,
    write: Write,
    source: Source,
    rollups: Sequence[Rollup],
    low_ns: int,
    high_ns: int,
    touched: set[tuple[str, int]] | None = None,
) -> None:
    """Recompute the intervals of ``rollups`` in ``[low_ns, high_ns)`` (whole intervals of
    the finest), only the (series, finest interval) pairs in ``touched`` when given."""
    measurement = influxql_identifier(rollups[0].measurement)
    (field_keys,) = query([f"SHOW FIELD KEYS FROM {measurement}"])
    fields = [f for f, kind in field_types(field_keys).items() if kind == "float"]
    if not fields:
        return
    origin, source_is_raw = measurement, True
    with_path = path.has_path(fields)
    for rollup in rollups:
        interval = rollup.interval_ns
        low, high = low_ns - low_ns % interval, high_ns + (-high_ns) % interval
        if touched is not None:
            touched = {(series, bucket - bucket % interval) for series, bucket in touched}
        columns = ", ".join(influxql_identifier(f) for f in fields) if source_is_raw else "*"
        (answer,) = query(
            [f"SELECT {columns} FROM {origin} WHERE {time_range(low, high)} GROUP BY *"],
            chunked=True,
        )
        elements: dict[tuple[str, int], tuple[dict[str, str], dict[str, list[Stats]]]] = {}
        legs: dict[tuple[str, int], list[path.Leg]] = defaultdict(list)
        for tags, time, values in _rows(answer):
            key = (series_of({"tags": tags}), time - time % interval)
            if touched is not None and key not in touched:
                continue
            per_field = elements.setdefault(key, (tags, defaultdict(list)))[1]
            for field in fields:
                if source_is_raw:
                    value = values.get(field)
                    element = None if value is None else reading(time, float(value))  # type: ignore[arg-type]
                else:
                    element = stats_of_row(values, field, time)
                if element is not None:
                    per_field[field].append(element)
            leg = (path.leg_of_fix if source_is_raw else path.leg_of_row)(values)
            if with_path and leg is not None:
                legs[key].append(leg)
        write(
            [
                Point(
                    rollup.name,
                    tags,
                    row_fields({f: combine(e) for f, e in per_field.items() if e}, key[1])
                    | (path.path_fields(path.combine_legs(legs[key])) if with_path else {}),
                    key[1],
                )
                for key, (tags, per_field) in elements.items()
                if per_field
            ]
        )
        origin, source_is_raw = source(rollup.name), False


def aggregate_from_rollup(
    query: Query,
    source: Source,
    aggregate: Callable[[AggregateQuery], list[SeriesResult]],
    request: AggregateQuery,
    rollup: Rollup,
) -> list[SeriesResult]:
    """``request`` answered from ``rollup`` (``aggregate`` is the store's raw aggregate,
    which names the rollup through ``source`` as well)."""
    stat = {"sum": "sum", "count": "sum", "min": "min", "max": "max"}
    if request.function in stat:
        statistic = {"sum": "sum", "count": "count", "min": "min", "max": "max"}[request.function]
        return aggregate(
            dataclasses.replace(
                request,
                measurement=rollup.name,
                field=rollup_field(request.field, statistic),
                function=stat[request.function],  # type: ignore[arg-type]
            )
        )
    if request.function == "mean":
        sums, counts = (
            aggregate(
                dataclasses.replace(
                    request,
                    measurement=rollup.name,
                    field=rollup_field(request.field, part),
                    function="sum",
                )
            )
            for part in ("sum", "count")
        )
        count_of = {(tuple(s.tags.items()), b.time_ns): b.value for s in counts for b in s.buckets}
        return [
            SeriesResult(
                s.tags,
                [
                    Bucket(b.time_ns, b.value / count_of[tuple(s.tags.items()), b.time_ns])  # type: ignore[operator]
                    for b in s.buckets
                ],
            )
            for s in sums
        ]
    return _from_rows(query, source, request, rollup)


def _from_rows(
    query: Query, source: Source, request: AggregateQuery, rollup: Rollup
) -> list[SeriesResult]:
    """``first``, ``last`` and ``increase`` from the rollup's rows of the range."""
    measurement = source(rollup.name)
    conditions = tag_conditions(request.where)
    stats = ("first", "last", "increase_within", "first_offset_ns", "last_offset_ns")
    columns = ", ".join(influxql_identifier(rollup_field(request.field, s)) for s in stats)
    last = influxql_identifier(rollup_field(request.field, "last"))
    anchor_start = request.start_ns - request.counter_lookback_ns
    last_at = influxql_identifier(rollup_field(request.field, "last_offset_ns"))
    anchors, rows = query(
        [
            f"SELECT LAST({last}), {last_at} FROM {measurement} WHERE "
            f"{time_range(anchor_start - anchor_start % rollup.interval_ns, request.start_ns)}"
            f"{conditions} GROUP BY *",
            f"SELECT {columns} FROM {measurement} WHERE "
            f"{time_range(request.start_ns, request.end_ns)}{conditions} GROUP BY *",
        ],
        chunked=True,
    )
    previous: dict[str, float] = {}
    if request.function == "increase":
        for block in anchors:  # the anchor only if its reading lies inside the lookback
            for time, value, offset in block.get("values", []):
                if value is not None and int(time) + int(offset) >= anchor_start:
                    previous[series_of(block)] = float(value)
    windows: dict[tuple[str, ...], dict[int, tuple[float, float]]] = defaultdict(dict)
    first, last, within, first_at, last_at = (rollup_field(request.field, s) for s in stats)
    for tags, time, values in _rows(rows):
        if values.get(first) is None:
            continue
        group = tuple(tags.get(tag, "") for tag in request.group_by)
        window = request.window_start(time)
        seen = windows[group].get(window)
        if request.function == "increase":
            key = series_of({"tags": tags})
            step = counter_step(previous.get(key), float(values[first]))  # type: ignore[arg-type]
            previous[key] = float(values[last])  # type: ignore[arg-type]
            total = step + float(values[within]) + (seen[0] if seen else 0.0)  # type: ignore[arg-type]
            windows[group][window] = (total, 0.0)
        elif request.function == "first":
            at = time + int(float(values[first_at]))  # type: ignore[arg-type]
            if seen is None or at < seen[1]:
                windows[group][window] = (json_number(values[first]), at)
        else:
            at = time + int(float(values[last_at]))  # type: ignore[arg-type]
            if seen is None or at > seen[1]:
                windows[group][window] = (json_number(values[last]), at)
    return ordered(
        [
            SeriesResult(
                dict(zip(request.group_by, group, strict=True)),
                [Bucket(time, value) for time, (value, _) in sorted(buckets.items())],
            )
            for group, buckets in windows.items()
            if buckets
        ],
        request.group_by,
    )
