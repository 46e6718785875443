"""Rollups in DuckDB: the SQL that keeps them up to date with the writes, and reads them.

**Maintenance.** Each write records, in its own transaction, the (series, finest interval)
pairs it touched and each pair's earliest new point (``cityhub_meta.rollup_pending``), so a
crash never loses track of them. A thread of the store rolls them up every ``rollup_flush_s``
while data flows (one pass for many batches costs far less than one per batch), in a
transaction of its own beside the ingest's, and a query that would read pending rollups rolls
them up first, so a query never sees rollups that lack a committed point. For each rollup of
the measurement, finest first:

1. the pending (series, interval) pairs, each with its earliest new point;
2. per pair, whether the new points only *append* (its earliest point is after the interval's
   stored last point, ``last_offset_ns``): then the stored row and the raw points after it are
   combined; otherwise (late or redelivered data, a new row) the interval is recomputed from
   all its raw points. Either way the row is rewritten whole, so the result is the same as a
   recomputation and a redelivery is a no-op;
3. a coarser rollup recomputes the intervals containing the touched ones from the finer
   rollup's rows (at most 24 hours of a day, 4 quarters of an hour), taking the counter
   steps between them from the steps those rows store (below) where they hold.

Combining is one rule for every source: a raw point is an *element* with count 1, sum, min,
max, first and last its value and no increase within; a rollup row is an element too. The
elements of an interval, in time order, give ``count`` and ``sum`` (summed), ``min``, ``max``,
``first`` and ``last`` (by time) and ``increase_within`` (their own, plus the counter step from
each element's predecessor's last to its first, by :func:`hub.increase.counter_step`).

Each row also stores its counter step from the series' previous reading, and when that was
(:mod:`hub.stores.duckdb_steps`): a raw element carries none, a composed row takes its first
element's, and after the finest rows are composed the steps of those rows, and of the stored
rows whose previous reading they hold, are recomputed.

**Reading**: the functions map onto the stored statistics (``mean`` is ``sum(f_sum) /
sum(f_count)``); ``increase`` sums each row's ``f_increase_within`` and stored step
(:func:`hub.stores.duckdb_steps.increase_sql`). On rows without stored steps (a file older
than them, until ``cityhub rollups rebuild``) :func:`aggregate_sql` adds, per series, the
step from the previous interval's last reading to each interval's first, with the last
reading of the last interval in ``[start - lookback, start)`` as the anchor: the raw rule,
interval by interval. The series are told apart by a 64-bit hash of their key, as on raw
points: the window function then sorts integers rather than carrying the keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.query import RESET_BELOW, AggregateQuery
from hub.rollups.path import PATH_FIELDS, has_path
from hub.rollups.plan import LAST_OFFSET, STATS, Rollup, rollup_field
from hub.stores import duckdb_path, duckdb_steps
from hub.stores.duckdb_sql import quote as _q

__all__ = [
    "aggregate_sql",
    "compose_sql",
    "mean_sql",
    "reading_as_row",
    "replace_sql",
    "rollup_columns",
    "row_columns",
    "row_means_sql",
    "step_sql",
    "touched_sql",
]


def step_sql(prev: str, first: str) -> str:
    """The counter step of :func:`hub.increase.counter_step` from ``prev`` to ``first``."""
    return (
        f"CASE WHEN {prev} IS NULL OR {first} IS NULL THEN NULL "
        f"WHEN {first} >= {RESET_BELOW} * {prev} THEN {first} - {prev} ELSE {first} END"
    )


def _element_of_row(alias: str, field: str) -> str:
    """A stored rollup row as an element: its statistics, and its first and last times
    absolute (``<field>_first_t``, ``<field>_last_t``)."""
    c = {stat: _q(rollup_field(field, stat)) for stat in STATS}
    values = ", ".join(f"{alias}.{c[stat]}" for stat in STATS[:7])
    return (
        f"{values}, epoch_ns({alias}.time) + {alias}.{c['first_offset_ns']}::BIGINT "
        f"AS {_q(field + '_first_t')}, epoch_ns({alias}.time) + "
        f"{alias}.{c['last_offset_ns']}::BIGINT AS {_q(field + '_last_t')}, "
        f"{duckdb_steps.prev_element(alias, field)}"
    )


def rollup_columns(fields: Sequence[str]) -> list[str]:
    """The rollup's field columns for the numeric raw ``fields`` (all ``DOUBLE``): the
    statistics, the stored steps (:mod:`hub.stores.duckdb_steps`) and the path."""
    path = PATH_FIELDS if has_path(fields) else ()
    stats = (rollup_field(f, stat) for f in fields for stat in STATS)
    return [LAST_OFFSET, *stats, *duckdb_steps.step_columns(fields), *path]


def touched_sql(rollup: Rollup) -> str:
    """The temporary table ``touched``: per pair of the registered ``touched_new`` (series,
    bucket, min_ns), where the new raw points to combine start (``after_ns``) and whether the
    stored row is kept. Parameters: the lowest and highest bucket."""
    return f"""
        CREATE OR REPLACE TEMP TABLE touched AS
        SELECT t.series, t.bucket,
               COALESCE(t.min_ns > t.bucket + o.{LAST_OFFSET}, false) AS keep_row,
               CASE WHEN t.min_ns > t.bucket + o.{LAST_OFFSET}
                    THEN t.bucket + o.{LAST_OFFSET}::BIGINT ELSE t.bucket - 1 END AS after_ns
        FROM touched_new t LEFT JOIN {_q(rollup.name)} o
          ON o.series = t.series AND o.time = make_timestamp_ns(t.bucket)
         AND o.time >= make_timestamp_ns(?) AND o.time <= make_timestamp_ns(?)"""


def compose_sql(
    target: Rollup,
    source: str,
    source_is_raw: bool,
    fields: Sequence[str],
    tags: Sequence[str],
    touched: str = "touched",
    *,
    source_steps: bool = False,
) -> str:
    """The temporary table ``composed``: the target's rows of the ``touched`` pairs
    (series, bucket, keep_row, after_ns) from their elements: ``source``'s rows in
    ``(after_ns, bucket + interval)`` (raw points, or a finer rollup's rows), plus the stored
    row where ``keep_row``. Parameters: the lowest ``after_ns`` and highest bucket end (so
    DuckDB skips the row groups outside), then the lowest and highest bucket.

    The counter steps between an interval's elements are taken with a window function
    (``lag`` of each field's last reading), unless ``source_steps``: the source is a finer
    rollup whose rows in range hold current steps (:mod:`hub.stores.duckdb_steps`). Then an
    element's stored step is the step from its predecessor in the interval exactly when its
    previous reading lies inside the interval (the first element's lies before it), and the
    sum needs no window: the same rows, 15 % faster for the bench's hours and days."""
    interval = target.interval_ns
    tag_cols = [_q(t) for t in tags]
    if source_is_raw:
        elements = []
        for f in fields:
            c = {stat: _q(rollup_field(f, stat)) for stat in STATS}
            present = f"CASE WHEN {_q(f)} IS NULL THEN NULL ELSE"
            elements.append(
                f"{present} 1.0 END AS {c['count']}, {_q(f)} AS {c['sum']}, "
                f"{_q(f)} AS {c['min']}, {_q(f)} AS {c['max']}, {_q(f)} AS {c['first']}, "
                f"{_q(f)} AS {c['last']}, {present} 0.0 END AS {c['increase_within']}, "
                f"{present} epoch_ns(s.time) END AS {_q(f + '_first_t')}, "
                f"{present} epoch_ns(s.time) END AS {_q(f + '_last_t')}, "
                f"{duckdb_steps.NO_STEP} AS {_q(f + '_prev')}"
            )
        last_ns = "epoch_ns(s.time)"
    else:
        elements = [_element_of_row("s", f) for f in fields]
        last_ns = f"epoch_ns(s.time) + s.{LAST_OFFSET}::BIGINT"
    stored = [_element_of_row("o", f) for f in fields]
    if has_path(fields):  # the path through the fixes (hub.rollups.path)
        elements.append(
            duckdb_path.raw_element() if source_is_raw else duckdb_path.row_element("s")
        )
        stored.append(duckdb_path.row_element("o"))
    select_tags = "".join(f"s.{c}, " for c in tag_cols)
    source_steps = source_steps and not source_is_raw
    lags = "".join(
        f", lag({_q(rollup_field(f, 'last'))} IGNORE NULLS) OVER w AS {_q('prev_' + f)}"
        for f in fields
        if not source_steps
    ) + (duckdb_path.lag() if has_path(fields) else "")
    window = " WINDOW w AS (PARTITION BY series, bucket ORDER BY t)" if lags else ""
    aggregates = duckdb_path.aggregates() if has_path(fields) else []
    for f in fields:
        c = {stat: _q(rollup_field(f, stat)) for stat in STATS}
        first_t, last_t = _q(f + "_first_t"), _q(f + "_last_t")
        if source_steps:  # the steps from a reading inside the interval
            prev = _q(f + "_prev")
            steps = (
                f"sum(struct_extract({prev}, 'step')) "
                f"FILTER (WHERE struct_extract({prev}, 't') >= bucket)"
            )
        else:
            steps = f"sum({step_sql(_q('prev_' + f), c['first'])})"
        aggregates += [
            f"sum({c['count']}) AS {c['count']}",
            f"sum({c['sum']}) AS {c['sum']}",
            f"min({c['min']}) AS {c['min']}",
            f"max({c['max']}) AS {c['max']}",
            f"arg_min({c['first']}, {first_t}) AS {c['first']}",
            f"arg_max({c['last']}, {last_t}) AS {c['last']}",
            f"sum({c['increase_within']}) + COALESCE({steps}, 0) AS {c['increase_within']}",
            f"(min({first_t}) - bucket)::DOUBLE AS {c['first_offset_ns']}",
            f"(max({last_t}) - bucket)::DOUBLE AS {c['last_offset_ns']}",
            *duckdb_steps.prev_aggregates(f),
        ]
    return f"""
        CREATE OR REPLACE TEMP TABLE composed AS
        WITH elements AS (
            SELECT s.series, {select_tags}s.time AS t, {last_ns} AS lt, k.bucket,
                   {", ".join(elements)}
            FROM {_q(source)} s JOIN {touched} k
              ON s.series = k.series AND s.time > make_timestamp_ns(k.after_ns)
             AND s.time < make_timestamp_ns(k.bucket + {interval})
            WHERE s.time > make_timestamp_ns(?) AND s.time < make_timestamp_ns(?)
            UNION ALL BY NAME
            SELECT o.series, {"".join(f"o.{c}, " for c in tag_cols)}o.time AS t,
                   epoch_ns(o.time) + o.{LAST_OFFSET}::BIGINT AS lt, k.bucket,
                   {", ".join(stored)}
            FROM {_q(target.name)} o JOIN {touched} k
              ON o.series = k.series AND o.time = make_timestamp_ns(k.bucket) AND k.keep_row
            WHERE o.time >= make_timestamp_ns(?) AND o.time <= make_timestamp_ns(?)
        ), ordered AS (
            SELECT *{lags} FROM elements{window}
        )
        SELECT series, make_timestamp_ns(bucket) AS time,
               {"".join(f"any_value({c}) AS {c}, " for c in tag_cols)}
               (max(lt) - bucket)::DOUBLE AS {LAST_OFFSET}, {", ".join(aggregates)}
        FROM ordered GROUP BY series, bucket"""


def replace_sql(target: Rollup) -> tuple[str, str]:
    """Swap the target's rows for those of ``composed`` (a delete and an insert: an upsert of
    every column costs DuckDB several times more). Parameters of the first: the lowest and
    highest bucket."""
    table = _q(target.name)
    return (
        f"DELETE FROM {table} WHERE time >= make_timestamp_ns(?) AND time <= make_timestamp_ns(?)"
        f" AND (series, time) IN (SELECT series, time FROM composed)",
        f"INSERT INTO {table} BY NAME SELECT * FROM composed",
    )


_DIRECT = {
    "sum": "sum({sum})",
    "count": "sum({count})",
    "min": "min({min})",
    "max": "max({max})",
    "first": "arg_min({first}, epoch_ns(time) + {first_offset_ns}::BIGINT)",
    "last": "arg_max({last}, epoch_ns(time) + {last_offset_ns}::BIGINT)",
    "mean": "sum({sum}) / sum({count})",
}


def aggregate_expression(query: AggregateQuery) -> str:
    """The SQL aggregate over rollup rows for every function but ``increase``."""
    columns = {stat: _q(rollup_field(query.field, stat)) for stat in STATS}
    return _DIRECT[query.function].format(**columns)


# The statistics of a rollup row each function reads (those of _DIRECT, and increase's).
_READS = {
    "sum": ("sum",),
    "count": ("count",),
    "min": ("min",),
    "max": ("max",),
    "first": ("first", "first_offset_ns"),
    "last": ("last", "last_offset_ns"),
    "mean": ("sum", "count"),
    "increase": ("first", "last", "increase_within"),
}
# A raw reading as a rollup row of that one reading (at the reading's own time): counted
# once, nothing increased within it, first and last at offset 0; else the value itself.
_READING_STATS = {
    "count": "1.0",
    "increase_within": "0.0",
    "first_offset_ns": "0.0",
    "last_offset_ns": "0.0",
}


def row_columns(function: str, field: str) -> str:
    """The select list of the statistics of ``field`` that ``function`` reads from a rollup
    row, named as the row names them."""
    return ", ".join(_q(rollup_field(field, stat)) for stat in _READS[function])


def reading_as_row(function: str, field: str) -> str:
    """The select list presenting a raw reading of ``field`` (not NULL) as a rollup row of
    that one reading: the columns of :func:`row_columns`, so the two read as one."""
    return ", ".join(
        f"{_READING_STATS.get(stat, _q(field))} AS {_q(rollup_field(field, stat))}"
        for stat in _READS[function]
    )


def aggregate_sql(
    query: AggregateQuery, rollup: Rollup, group_cols: list[str], conditions: str, bucket: str
) -> str:
    """The ``increase`` of ``query`` from ``rollup``'s rows without stored steps (a window
    function over them; see :func:`hub.stores.duckdb_steps.increase_sql`). Parameters: the
    anchor range's start rounded down to the interval, the range's start, the anchor range's
    start, the tag filter values, the range's start and end, the tag filter values, the
    range's start."""
    table = _q(rollup.name)
    first = _q(rollup_field(query.field, "first"))
    last = _q(rollup_field(query.field, "last"))
    within = _q(rollup_field(query.field, "increase_within"))
    last_at = _q(rollup_field(query.field, "last_offset_ns"))
    columns_sql = "".join(f"{c}, " for c in group_cols)
    group_refs = "".join(f"g{i}, " for i in range(len(group_cols)))
    return f"""
        WITH anchors AS (
            SELECT hash(series) AS series, {columns_sql}max(time) AS time,
                   arg_max({last}, time) AS last_v,
                   NULL::DOUBLE AS first_v, 0.0 AS within_v
            FROM {table}
            WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?)
              AND epoch_ns(time) + {last_at}::BIGINT >= ? AND {conditions}
            GROUP BY ALL
        ), readings AS (
            SELECT hash(series) AS series, {columns_sql}time, {last} AS last_v,
                   {first} AS first_v,
                   {within} AS within_v
            FROM {table}
            WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?) AND {conditions}
        ), steps AS (
            SELECT *, lag(last_v) OVER (PARTITION BY series ORDER BY time) AS prev
            FROM (SELECT * FROM anchors UNION ALL BY NAME SELECT * FROM readings)
        )
        SELECT {bucket} AS bucket, {group_refs}
               sum(within_v + COALESCE({step_sql("prev", "first_v")}, 0))
        FROM steps WHERE time >= make_timestamp_ns(?)
        GROUP BY ALL HAVING count(*) > 0"""


def mean_sql(field: str) -> tuple[str, str]:
    """The mean of ``field`` over a group of rollup rows (their readings' sum over their
    count, never a mean of means), and the condition a row holding ``field`` meets."""
    total, count = _q(rollup_field(field, "sum")), _q(rollup_field(field, "count"))
    return f"sum({total}) / sum({count})", f"{count} IS NOT NULL"


def row_means_sql(table: str, field: str, conditions: str) -> str:
    """Per window, the sum of the means of ``field`` of a rollup's rows, each one series' one
    window. Grouped by the stored ``time`` column, not by a bucket computed from it per row
    (a year of quarters city-wide: 40 % less). Parameters: the range's start and end, then
    those of ``conditions``."""
    total, count = _q(rollup_field(field, "sum")), _q(rollup_field(field, "count"))
    return f"""
        SELECT epoch_ns(time), demand FROM (
            SELECT time, sum({total} / {count}) AS demand
            FROM {_q(table)}
            WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?) AND {conditions}
            GROUP BY time
        ) ORDER BY time"""
