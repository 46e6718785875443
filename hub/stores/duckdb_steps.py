"""Stored counter steps in DuckDB rollups: each row's step from the series' previous reading.

Every rollup row of a numeric field ``f`` also holds ``f_step``: the counter step (the rule of
:func:`hub.increase.counter_step`, :func:`hub.stores.duckdb_rollups.step_sql`) from the last
reading of ``f`` before the row's interval, wherever it is, to the interval's first reading;
and ``f_prev_offset_ns``: when that previous reading was, from the interval's start (negative;
exact as a float for gaps under 104 days, and for any gap between readings on whole
microseconds). Both are NULL when the series has no earlier reading of ``f``.

An ``increase`` from a rollup then needs no window function (:func:`increase_sql`): the raw rule
takes as the anchor the last reading in ``[start - lookback, start)``, so a row counts its step
when its previous reading is at or after ``start - lookback`` (a previous reading inside the
range always is).

**Maintenance.** A finest row's previous reading is the last reading before its interval; a
coarser row's step is that of its first finer row holding ``f`` (composed by
:func:`hub.stores.duckdb_rollups.compose_sql`). A point that lands in an interval changes the
previous reading of the *next* interval holding each field, so after the finest rows of the
pending intervals are composed, :func:`restep_sql` recomputes the steps of, per series: the
composed rows (unless every one only appended to a stored row, bringing no field that row did
not hold, and nothing is stored after them: then each keeps its stored step), and every stored
row whose previous reading of some field lies in a composed row. It reads the finest rows from
the start of the coarsest interval holding the series' first pending one up to the first reading
of every field after the coarsest interval holding its last (found in the coarsest rollup), and
takes the previous reading of the first of them from the coarsest rollup's rows before: none of
those rows is pending, so they are current. The restepped stored rows join ``composed``, so the
coarser rollups recompute the intervals holding them.

Files whose rollups predate these columns get them (NULL) on their first flush; a rollup's steps
are read only from ``cityhub_meta.rollup_steps.since_ns`` on (a new rollup: always;
``cityhub rollups rebuild`` sets it to the first coarsest interval with raw points from where it
started), else ``increase`` takes the previous interval's ``f_last`` with a window function, as
before (:func:`hub.stores.duckdb_rollups.aggregate_sql`).
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.query import AggregateQuery
from hub.rollups.plan import Rollup, rollup_field
from hub.stores.duckdb_sql import quote as _q

__all__ = [
    "NO_STEP",
    "STEP_STATS",
    "increase_sql",
    "prev_aggregates",
    "prev_element",
    "restep_sql",
    "step_columns",
    "step_series_bounds",
]

STEP_STATS = ("step", "prev_offset_ns")
# The element of a raw reading: its step is taken by the restep pass, not composed.
NO_STEP = "NULL::STRUCT(step DOUBLE, t BIGINT)"
_TOUCHED = "cityhub_restep_touched"  # a column of the restep pass's own


def step_columns(fields: Sequence[str]) -> list[str]:
    """The step columns of the numeric ``fields`` (``DOUBLE``)."""
    return [rollup_field(f, stat) for f in fields for stat in STEP_STATS]


def prev_element(alias: str, field: str) -> str:
    """A stored row's step and previous reading's time (absolute ns) as one struct, never
    NULL itself (a composed interval takes that of its first element holding ``field``)."""
    step = _q(rollup_field(field, "step"))
    offset = _q(rollup_field(field, "prev_offset_ns"))
    return (
        f"{{'step': {alias}.{step}, 't': epoch_ns({alias}.time) + {alias}.{offset}::BIGINT}}"
        f"::STRUCT(step DOUBLE, t BIGINT) AS {_q(field + '_prev')}"
    )


def prev_aggregates(field: str) -> list[str]:
    """The composed interval's step columns of ``field``: those of its first element holding
    it (``arg_min`` skips the elements whose struct is NULL: raw readings)."""
    first = f"arg_min({_q(field + '_prev')}, {_q(field + '_first_t')})"
    return [
        f"struct_extract({first}, 'step') AS {_q(rollup_field(field, 'step'))}",
        f"(struct_extract({first}, 't') - bucket)::DOUBLE "
        f"AS {_q(rollup_field(field, 'prev_offset_ns'))}",
    ]


def restep_sql(
    finest: Rollup, coarsest: Rollup, fields: Sequence[str], step_sql: str
) -> tuple[str, str]:
    """Two statements: the temporary table ``step_series`` (the series whose steps are
    recomputed, each with the range of finest rows read), with the named parameters of
    :func:`step_series_bounds` (bounds DuckDB skips row groups by); then ``stepped``: the
    restepped rows, those of ``composed`` and the stored ones whose steps change.
    ``step_sql`` is a ``str.format`` template of the step with ``{prev}`` and ``{first}``."""
    table, coarse = _q(finest.name), _q(coarsest.name)
    c = coarsest.interval_ns
    col = {(f, stat): _q(rollup_field(f, stat)) for f in fields for stat in _ALL}
    gained = " OR ".join(
        f"(r.{col[f, 'count']} IS NULL AND n.{col[f, 'count']} IS NOT NULL)" for f in fields
    )
    firsts = ", ".join(
        f"min(epoch_ns(k.time) + k.{col[f, 'first_offset_ns']}::BIGINT)" for f in fields
    )
    series = f"""
        CREATE OR REPLACE TEMP TABLE step_series AS
        WITH spans AS (
            SELECT series, min(bucket) AS low, max(bucket) AS high, bool_and(keep_row) AS kept
            FROM touched GROUP BY series
        ), later AS (  -- rows stored after the first pending one of a series that appends
            SELECT s.series FROM spans s JOIN (
                SELECT series, time FROM {table}
                WHERE time > make_timestamp_ns($low) AND time < make_timestamp_ns($beyond)
            ) r ON r.series = s.series AND r.time > make_timestamp_ns(s.low)
             AND r.time < make_timestamp_ns(s.low - s.low % {c} + {c})
            WHERE s.kept
            UNION
            SELECT s.series FROM spans s JOIN (
                SELECT series, time FROM {coarse} WHERE time >= make_timestamp_ns($next)
            ) k ON k.series = s.series AND k.time >= make_timestamp_ns(s.low - s.low % {c} + {c})
            WHERE s.kept
            UNION  -- an append that brought a field its stored row did not hold: its first
            SELECT n.series FROM composed n JOIN (  -- reading of it needs a step
                SELECT * FROM {table}
                WHERE time >= make_timestamp_ns($low) AND time < make_timestamp_ns($beyond)
            ) r ON r.series = n.series AND r.time = n.time
            WHERE {gained}
        ), wanted AS (
            SELECT series, low - low % {c} AS from_ns, high - high % {c} + {c} AS beyond_ns
            FROM spans WHERE NOT kept OR series IN (SELECT series FROM later)
        )
        SELECT w.series, w.from_ns, greatest(w.beyond_ns - 1, {firsts}) AS until_ns
        FROM wanted w LEFT JOIN (
            SELECT * FROM {coarse} WHERE time >= make_timestamp_ns($next)
        ) k ON k.series = w.series AND k.time >= make_timestamp_ns(w.beyond_ns)
        GROUP BY w.series, w.from_ns, w.beyond_ns"""

    def reading(alias: str, f: str, touched: str) -> str:
        return (
            f"{{'v': {alias}.{col[f, 'last']}, 't': epoch_ns({alias}.time) + "
            f"{alias}.{col[f, 'last_offset_ns']}::BIGINT, 'touched': {touched}}}"
        )

    lags = ", ".join(
        f"lag(CASE WHEN r.{col[f, 'count']} IS NOT NULL THEN {reading('r', f, f'r.{_TOUCHED}')} "
        f"END IGNORE NULLS) OVER w AS {_q('cityhub_prev_' + f)}"
        for f in fields
    )
    fallbacks = ", ".join(
        f"arg_max({reading('k', f, 'false')}, epoch_ns(k.time)) "
        f"FILTER (WHERE k.{col[f, 'count']} IS NOT NULL) AS {_q('cityhub_prev_' + f)}"
        for f in fields
    )
    prev = {
        f: f"COALESCE(o.{_q('cityhub_prev_' + f)}, b.{_q('cityhub_prev_' + f)})" for f in fields
    }
    steps = ", ".join(
        f"CASE WHEN o.{col[f, 'count']} IS NOT NULL THEN "
        + step_sql.format(prev=f"struct_extract({prev[f]}, 'v')", first=f"o.{col[f, 'first']}")
        + f" END AS {col[f, 'step']}, CASE WHEN o.{col[f, 'count']} IS NOT NULL THEN "
        f"(struct_extract({prev[f]}, 't') - epoch_ns(o.time))::DOUBLE "
        f"END AS {col[f, 'prev_offset_ns']}"
        for f in fields
    )
    excluded = ", ".join(
        [_TOUCHED]
        + [_q("cityhub_prev_" + f) for f in fields]
        + [col[f, stat] for f in fields for stat in STEP_STATS]
    )
    changed = " OR ".join(
        [f"o.{_TOUCHED}"]
        + [
            f"(o.{col[f, 'count']} IS NOT NULL "
            f"AND struct_extract(o.{_q('cityhub_prev_' + f)}, 'touched'))"
            for f in fields
        ]
    )
    stepped = f"""
        CREATE OR REPLACE TEMP TABLE stepped AS
        WITH bounds AS (
            SELECT min(from_ns) AS low, max(until_ns) AS high FROM step_series
        ), rows AS (
            SELECT r.*, false AS {_TOUCHED}
            FROM {table} r JOIN step_series s
              ON r.series = s.series AND r.time >= make_timestamp_ns(s.from_ns)
             AND r.time <= make_timestamp_ns(s.until_ns)
            WHERE r.time >= make_timestamp_ns((SELECT low FROM bounds))
              AND r.time <= make_timestamp_ns((SELECT high FROM bounds))
              AND NOT EXISTS (
                  SELECT 1 FROM composed n WHERE n.series = r.series AND n.time = r.time
              )
            UNION ALL BY NAME
            SELECT n.*, true AS {_TOUCHED} FROM composed n
            WHERE n.series IN (SELECT series FROM step_series)
        ), ordered AS (
            SELECT r.*, {lags} FROM rows r WINDOW w AS (PARTITION BY r.series ORDER BY r.time)
        ), fallback AS (
            SELECT s.series, {fallbacks}
            FROM step_series s JOIN {coarse} k
              ON k.series = s.series AND k.time < make_timestamp_ns(s.from_ns)
            WHERE k.time < make_timestamp_ns((SELECT max(from_ns) FROM step_series))
            GROUP BY s.series
        )
        SELECT o.* EXCLUDE ({excluded}), {steps}
        FROM ordered o LEFT JOIN fallback b ON b.series = o.series
        WHERE {changed}"""
    return series, stepped


def step_series_bounds(coarsest: Rollup, low_ns: int, high_ns: int) -> dict[str, int]:
    """The parameters of the first statement of :func:`restep_sql`, for pending finest
    buckets from ``low_ns`` to ``high_ns``."""
    c = coarsest.interval_ns
    return {"low": low_ns, "next": low_ns - low_ns % c + c, "beyond": high_ns - high_ns % c + c}


_ALL = ("count", "first", "last", "first_offset_ns", "last_offset_ns", *STEP_STATS)


def increase_sql(
    query: AggregateQuery, rollup: Rollup, group_cols: list[str], conditions: str, bucket: str
) -> str:
    """The ``increase`` of ``query`` from ``rollup``'s stored steps: one aggregate, no window.
    Parameters: the anchor range's start (``start - lookback``), the range's start and end,
    the tag filter values."""
    within = _q(rollup_field(query.field, "increase_within"))
    step = _q(rollup_field(query.field, "step"))
    offset = _q(rollup_field(query.field, "prev_offset_ns"))
    return f"""
        SELECT {bucket} AS bucket, {"".join(f"{c}, " for c in group_cols)}
               sum({within} + CASE WHEN epoch_ns(time) + {offset}::BIGINT >= ?
                                   THEN {step} ELSE 0 END)
        FROM {_q(rollup.name)}
        WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?) AND {conditions}
        GROUP BY ALL HAVING count(*) > 0"""
