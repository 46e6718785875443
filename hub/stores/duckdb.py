"""The embedded default store: one DuckDB file, one table per measurement.

Each table has ``series`` (the canonical tag-set key), ``time`` (``TIMESTAMP_NS``, UTC), one
``VARCHAR`` column per tag key (with the column comment ``tag``) and one column per field
(``DOUBLE``, ``BOOLEAN`` or ``VARCHAR``), added as new ones appear. The primary key
``(series, time)`` makes writes idempotent: a redelivered message updates the row it already
wrote, and fields written separately for the same instant merge, as InfluxDB merges them.
Batches go in as Arrow tables, never through ``executemany``; a batch is one transaction,
durable in DuckDB's WAL when ``write`` returns. A batch is appended (``INSERT``), which the
primary key refuses when one of its keys is stored already; then the transaction is rolled
back and the batch merged (``INSERT ... ON CONFLICT DO UPDATE``, twice as costly), and so is
that table's next few batches, as redeliveries come in runs.

DuckDB locks its file: the ingest pipeline and the API share one ``DuckDBStore`` in one
process, each thread on its own cursor.

Retention deletes old points in small transactions (:meth:`DuckDBStore.delete_before`, at
most ``limit`` rows each) under the same write lock as a batch, so a batch waits for one
small delete at most, never for a whole sweep (:mod:`hub.stores.duckdb_retention`).

Rollups (:mod:`hub.stores.duckdb_rollups`) are brought up to date by a thread of the store's
every ``rollup_flush_s`` (less often when a flush is costly: :data:`FLUSH_DUTY`), and by any
query that would read a pending one, each measurement in a transaction that runs beside the
ingest's rather than under its write lock.

A failing disk must not break the store for good: a write that fails (full disk, failed
checkpoint) is rolled back where DuckDB still can (a ROLLBACK that fails in turn is ignored,
the transaction is gone either way) and reported as :class:`StoreUnavailable`; a database
DuckDB invalidated after a fatal error is closed and opened again (WAL replay) on the next
write or ping, so the hub heals by itself when space returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from hub.contracts import RefusedPoint
from hub.errors import QueryError, StoreUnavailable
from hub.points import FieldValue, Point, naming_problem
from hub.query import (
    RESET_BELOW,
    AggregateQuery,
    Bucket,
    Catalog,
    DeviceInfo,
    LatestQuery,
    LatestRow,
    MeasurementInfo,
    PointRow,
    PointsQuery,
    SeriesResult,
    SumOfMeansQuery,
)
from hub.rollups import Rollup, RollupPlan, rollup_for
from hub.rollups import status as status_rollups
from hub.rollups.plan import STATUS_MEASUREMENT, rollup_field
from hub.rollups.routing import EXACT_FUNCTIONS
from hub.rollups.split import cuts, whole_windows
from hub.stores import duckdb_rollups, duckdb_steps
from hub.stores.duckdb_sql import quote as _quote
from hub.stores.latest import LatestIndex

__all__ = ["DuckDBStore"]

log = logging.getLogger(__name__)

_RESERVED = frozenset({"series", "time"})
_EVER = -(2**62)  # "since the beginning": the coverage of a rollup made with its table
_NEVER = 2**62  # "from no instant on": a rollup whose steps were never recorded
_SQL_TYPE = {float: "DOUBLE", bool: "BOOLEAN", str: "VARCHAR"}
_ARROW_TYPE = {"DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(), "VARCHAR": pa.string()}
_KIND = {"DOUBLE": "float", "BOOLEAN": "bool", "VARCHAR": "str"}
_UNCHECKED = "\x00unchecked"  # sentinel of the name-check cache (compared by identity)
_NAME_CHECKS_MAX = 10_000  # distinct (measurement, tag keys, field keys) combinations cached
# After an append met a stored key, the table is merged into (upsert) for this many batches:
# redeliveries come in runs (a restarted hub gets its unacknowledged window back), and an
# append that fails costs its batch a second transaction. Appends are about twice as cheap.
_MERGE_BATCHES = 100
# Pending marks recorded since a flush's snapshot, remembered so as not to record them again:
# past this many in all (a backfill touching a new interval with each point) they are all
# forgotten, which only costs recording some again (an entry holds a series key: ~100 bytes).
_RECORDED_MARKS_MAX = 100_000
_T = TypeVar("_T")
TAG = "TAG"  # in-memory column kind of a tag column (VARCHAR commented 'tag' in the file)
# A counter's step: the difference to the previous reading, or after a reset (a fall below
# RESET_BELOW of it) the reading itself, counted from zero; the first reading counts nothing.
# The rule of hub.increase.counter_step, in SQL (tests/stores/test_increase_rule.py checks it).
_INCREASE = (
    f"sum(CASE WHEN prev IS NULL THEN 0 WHEN v >= {RESET_BELOW} * prev THEN v - prev ELSE v END)"
)
_AGGREGATES = {
    "mean": "avg({f})",
    "sum": "sum({f})",
    "min": "min({f})",
    "max": "max({f})",
    "count": "count({f})",
    "first": "arg_min({f}, time)",
    "last": "arg_max({f}, time)",
    # InfluxQL's nearest rank: sorted[floor(n * p / 100 + 0.5)], 1-based, NULL below rank 1
    "percentile": "list_sort(list({f}))[floor(count({f}) * {p} / 100 + 0.5)::BIGINT]",
}


class _PendingMarks:
    """The intervals a batch touched, per measurement, recorded in its transaction in one
    statement (``cityhub_meta.rollup_pending``) however many tables it wrote: a statement
    costs DuckDB about a millisecond, a tenth of a small batch's write.

    A mark that a committed batch recorded since the last flush's snapshot, with a point as
    early or earlier, is not recorded again (``recorded``: measurement → (series, interval
    start) → earliest point): the flush recomputes the interval from that point on, so it
    holds this batch's points too. A stream adds about one point per series per batch to
    the same quarter of an hour, so this records one mark for dozens of batches, where each
    batch once recorded one per point (their rows in the WAL, their cost in each write, in
    each checkpoint and in the flush that read them back). A flush forgets a measurement's
    marks when it takes its snapshot (:meth:`DuckDBStore._forget_marks`), and only marks of
    a committed transaction are remembered (:meth:`committed`)."""

    def __init__(self, recorded: dict[str, dict[tuple[str, int], int]]) -> None:
        self._recorded = recorded
        self._new: list[tuple[str, dict[tuple[str, int], int]]] = []
        self.measurements: list[str] = []
        self.series: list[str] = []
        self.buckets: list[int] = []
        self.earliest: list[int] = []

    def add(self, measurement: str, earliest: dict[tuple[str, int], int]) -> None:
        """``earliest``: (series, interval start) → the earliest new point in it."""
        recorded = self._recorded.get(measurement)
        if recorded:
            earliest = {
                pair: time_ns
                for pair, time_ns in earliest.items()
                if time_ns < recorded.get(pair, time_ns + 1)
            }
        self._new.append((measurement, earliest))
        self.measurements += [measurement] * len(earliest)
        self.series += [series for series, _ in earliest]
        self.buckets += [bucket for _, bucket in earliest]
        self.earliest += earliest.values()

    def committed(self) -> None:
        """Remember the marks the batch's committed transaction recorded (each is new, or
        earlier than the one remembered). Caller holds the write lock."""
        added = sum(len(earliest) for _, earliest in self._new)
        if sum(map(len, self._recorded.values())) + added > _RECORDED_MARKS_MAX:
            self._recorded.clear()
            if added > _RECORDED_MARKS_MAX:
                return
        for measurement, earliest in self._new:
            self._recorded.setdefault(measurement, {}).update(earliest)

    def record(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self.series:
            return
        # a local name no table has: DuckDB's replacement scan reads it below
        pending_pairs = pa.table(  # noqa: F841
            {
                "measurement": pa.array(self.measurements, pa.string()),
                "series": pa.array(self.series, pa.string()),
                "bucket": pa.array(self.buckets, pa.int64()),
                "min_ns": pa.array(self.earliest, pa.int64()),
            }
        )
        con.execute("INSERT INTO cityhub_meta.rollup_pending SELECT * FROM pending_pairs")


class _KeyStored(Exception):
    """An append to ``table`` met a key that is stored already: merge instead."""

    def __init__(self, table: str) -> None:
        super().__init__(table)
        self.table = table


@dataclasses.dataclass(frozen=True, slots=True)
class _Shape:
    """How the points of one shape go into a table in a batch: refused (``conflict``), or
    their tags' and fields' columns, in the order of the points' own keys."""

    conflict: str | None
    tag_columns: tuple[list[Any], ...] = ()
    field_columns: tuple[list[Any], ...] = ()


def _shape(
    table: str,
    tags: dict[str, str],
    fields: dict[str, FieldValue],
    kinds: dict[str, str],
    added: dict[str, str],
    values: dict[str, list[Any]],
    size: int,
) -> _Shape:
    """Check a shape's names and value types against ``kinds``, adding the columns it brings
    (to ``kinds`` and ``added``); when its points are accepted, the ``values`` columns (of
    ``size`` rows) they fill."""
    conflict = None
    for name, value in fields.items():
        kind = _SQL_TYPE.get(type(value), "DOUBLE")
        known = kinds.get(name)
        if known is None:
            kinds[name] = added[name] = kind
        elif known != kind and conflict is None:
            conflict = (
                f"field {name!r} is {_KIND.get(known, known)} in "
                f"{table!r}, got {type(value).__name__}"
            )
    for name in tags:
        known = kinds.get(name)
        if known is None:
            kinds[name] = added[name] = TAG
        elif known != TAG and conflict is None:
            conflict = "a tag key of this point is a field in this measurement"
    if conflict:
        return _Shape(conflict)

    def column(name: str) -> list[Any]:
        found = values.get(name)
        if found is None:
            found = values[name] = [None] * size
        return found

    return _Shape(None, tuple(map(column, tags)), tuple(map(column, fields)))


def _series_groups(columns: dict[str, str], series_by: Sequence[str]) -> list[str]:
    """The expressions telling apart the series of a sum of means; a series tag the table
    lacks is "" for every point: it splits nothing."""
    return [f"COALESCE({_quote(tag)}, '')" for tag in series_by if columns.get(tag) == TAG]


# The most of the time the background flush of the rollups takes: a flush of the default
# rollups costs about the same whatever it recomputes (0.8 to 0.9 s on 2 cores, most of it
# DuckDB binding the wide statements), and under a heavy drain it took that CPU from the
# ingest every ``rollup_flush_s``. Queries do not wait for it (they read raw points where
# rollups are pending), so a later flush costs freshness of nothing a user reads.
FLUSH_DUTY = 0.1


def flush_wait_s(flush_s: float, spent_s: float) -> float:
    """The wait before the next background flush, ``flush_s`` at least: long enough that a
    round which took ``spent_s`` keeps the flush within :data:`FLUSH_DUTY` of the time."""
    return max(flush_s, spent_s * (1 - FLUSH_DUTY) / FLUSH_DUTY)


class DuckDBStore:
    """A :class:`hub.contracts.Store` on one DuckDB file."""

    def __init__(
        self,
        path: Path,
        memory_limit: str = "256MB",
        *,
        checkpoint_threshold: str = "16MB",
        rollups: RollupPlan | None = None,
        rollup_flush_s: float = 1.0,
        threads: int = 0,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": memory_limit,
            "checkpoint_threshold": checkpoint_threshold,
        }
        if threads:  # else DuckDB's default: one per core
            self._config["threads"] = threads
        self._con = self._connect()
        self._write_lock = threading.Lock()
        self._generation = 0  # bumped at each reopen: thread-local cursors of older ones go
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._broken: str | None = None  # why the connection must be reopened before use
        self._name_checks: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str | None] = {}
        self._local = threading.local()
        self._columns: dict[str, dict[str, str]] = self._load_schema()
        self._schema_seq = 0  # odd while a commit that changes ``_columns`` is under way
        self._schema_lock = threading.Lock()  # taken by such commits, and by reads they starve
        self._latest = LatestIndex()
        self._rollups = rollups or RollupPlan({})
        self._covered: dict[str, int] = self._load_coverage()
        # Since when each rollup's stored steps hold (hub.stores.duckdb_steps); a rollup of
        # a file older than them has none until `cityhub rollups rebuild`.
        self._steps_since: dict[str, int] = dict(
            self._con.execute("SELECT * FROM cityhub_meta.rollup_steps").fetchall()
        )
        self._rollup_flush_s = rollup_flush_s
        self._rollup_sources = {rollup.name: rollup.measurement for rollup in self._rollups}
        self._pending: set[str] = {  # measurements with raw points not yet rolled up
            name
            for (name,) in self._con.execute(
                "SELECT DISTINCT measurement FROM cityhub_meta.rollup_pending"
            ).fetchall()
            if self._rollups.of(name) or (name == STATUS_MEASUREMENT and self._rollups.status)
        }
        # The earliest pending interval per measurement with numeric rollups (a bound: never
        # later than the earliest one): the rollups hold every point before it, so a query of
        # the windows before it reads them without a flush (:meth:`_before_pending`).
        self._pending_low: dict[str, int] = {
            name: low
            for name, low in self._con.execute(
                "SELECT measurement, min(bucket) FROM cityhub_meta.rollup_pending "
                "GROUP BY measurement"
            ).fetchall()
            if name in self._pending and name != STATUS_MEASUREMENT
        }
        # Batches committed per measurement with rollups: a flush that took its snapshot
        # before one of them leaves the measurement pending.
        self._dirty: dict[str, int] = defaultdict(int)
        self._flush_lock = threading.Lock()  # one flush at a time; taken before the write lock
        # Tables that met a stored key lately, with the batches they are still merged into.
        self._merging: dict[str, int] = {}
        # Pending marks committed since each measurement's last flush snapshot (_PendingMarks)
        self._recorded_marks: dict[str, dict[tuple[str, int], int]] = {}
        self._closing = threading.Event()
        self._flusher: threading.Thread | None = None
        if rollup_flush_s > 0 and (self._rollups.by_measurement or self._rollups.status):
            self._flusher = threading.Thread(
                target=self._flush_in_background, name="duckdb-rollups", daemon=True
            )
            self._flusher.start()

    # -- schema ---------------------------------------------------------------------------

    def _load_schema(self) -> dict[str, dict[str, str]]:
        rows = self._con.execute(
            "SELECT table_name, column_name, data_type, comment FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND NOT internal ORDER BY table_name, column_index"
        ).fetchall()
        schema: dict[str, dict[str, str]] = defaultdict(dict)
        for table, column, data_type, comment in rows:
            schema[table][column] = TAG if comment == "tag" else data_type
        return dict(schema)

    def _load_coverage(self) -> dict[str, int]:
        """Since when each rollup holds every interval (``cityhub_meta.rollup_coverage``).
        A rollup seen for the first time covers what comes after the raw points already
        stored (everything, on a new file); ``rebuild`` extends it back."""
        con = self._con
        con.execute("CREATE SCHEMA IF NOT EXISTS cityhub_meta")
        con.execute(
            "CREATE TABLE IF NOT EXISTS cityhub_meta.rollup_coverage "
            "(rollup VARCHAR PRIMARY KEY, since_ns BIGINT NOT NULL)"
        )
        con.execute(
            "CREATE TABLE IF NOT EXISTS cityhub_meta.rollup_steps "
            "(rollup VARCHAR PRIMARY KEY, since_ns BIGINT NOT NULL)"
        )
        con.execute(
            "CREATE TABLE IF NOT EXISTS cityhub_meta.rollup_pending "
            "(measurement VARCHAR, series VARCHAR, bucket BIGINT, min_ns BIGINT)"
        )
        covered = dict(con.execute("SELECT * FROM cityhub_meta.rollup_coverage").fetchall())
        for rollup in self._rollups:
            if rollup.name in covered:
                continue
            last = None
            if rollup.measurement in self._columns:
                (last,) = con.execute(
                    f"SELECT epoch_ns(max(time)) FROM {_quote(rollup.measurement)}"
                ).fetchone() or (None,)
            interval = rollup.interval_ns
            since = _EVER if last is None else last - last % interval + interval
            self._set_coverage(con, rollup, since)
            covered[rollup.name] = since
        return covered

    @staticmethod
    def _set_coverage(con: duckdb.DuckDBPyConnection, rollup: Rollup, since_ns: int) -> None:
        con.execute(
            "INSERT OR REPLACE INTO cityhub_meta.rollup_coverage VALUES (?, ?)",
            [rollup.name, since_ns],
        )

    def _set_steps_since(
        self, con: duckdb.DuckDBPyConnection, rollup: Rollup, since_ns: int
    ) -> None:
        con.execute(
            "INSERT OR REPLACE INTO cityhub_meta.rollup_steps VALUES (?, ?)",
            [rollup.name, since_ns],
        )
        self._steps_since[rollup.name] = since_ns

    @property
    def rollup_coverage(self) -> dict[str, int]:
        """Each rollup's name and the first instant from which it holds every interval."""
        return dict(self._covered)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            # DuckDB would cache up to 80 % of the machine's memory; the hub shares it with the
            # broker and the rest, so its buffer pool is capped (queries spill beyond it).
            return duckdb.connect(str(self._path), config=self._config)
        except duckdb.Error as error:
            raise StoreUnavailable(f"cannot open DuckDB file {self._path}: {error}") from error

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        local = self._local
        if getattr(local, "generation", None) != self._generation:
            local.cursor = None
        cursor: duckdb.DuckDBPyConnection | None = getattr(local, "cursor", None)
        if cursor is None:
            cursor = self._con.cursor()
            with self._cursors_lock:
                self._cursors.append(cursor)
            local.cursor, local.generation = cursor, self._generation
        return cursor

    def _reopen(self) -> None:
        """Close every cursor and the connection (DuckDB keeps an invalidated database
        instance alive while any of them exists) and open the file again. Caller holds the
        write lock; raises :class:`StoreUnavailable` while the file cannot be opened."""
        with self._cursors_lock:
            cursors, self._cursors = self._cursors, []
        for con in (*cursors, self._con):
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                con.close()
        self._generation += 1
        self._con = self._connect()
        with self._schema_lock:
            self._schema_seq += 1
            try:
                self._columns = self._load_schema()
            finally:
                self._schema_seq += 1
        self._latest = LatestIndex()
        self._recorded_marks.clear()  # the file's marks are what counts: record again
        self._broken = None
        log.warning("DuckDB file %s reopened", self._path)

    def _recover(self, con: duckdb.DuckDBPyConnection, error: BaseException) -> None:
        """After a failed write: roll back if DuckDB still can, and find out whether the
        database was invalidated (then the next write or ping reopens it)."""
        with contextlib.suppress(Exception):  # "no transaction is active" on a full disk
            con.execute("ROLLBACK")
        try:
            con.execute("SELECT 1").fetchone()
        except Exception as probe:
            self._broken = f"{error} (then: {probe})"

    def _commit(self, con: duckdb.DuckDBPyConnection, schema: dict[str, dict[str, str]]) -> None:
        """Commit, and publish the schema the transaction leaves (tables and columns it
        added) to readers together with its rows: a read that overlaps the commit of a schema
        change is read again (:meth:`_consistent`), else it could list the columns from before
        and the rows from after (a session's end without its new ``stop_reason`` field). Caller
        holds the write lock."""
        if schema == self._columns:
            con.execute("COMMIT")
            return
        with self._schema_lock:
            self._schema_seq += 1
            try:
                con.execute("COMMIT")
                self._columns = schema
            finally:
                self._schema_seq += 1

    def _consistent(self, read: Callable[[], _T]) -> _T:
        """``read()`` against one published schema (see :meth:`_commit`): read again if a
        schema change was committed meanwhile, then, if one was again, with schema changes held
        off (and rollups read only when current without a flush, which would need the write
        lock that a held-off writer holds: else raw points answer)."""
        for _ in range(2):
            seq = self._schema_seq
            if not seq % 2:
                result = read()
                if self._schema_seq == seq:
                    return result
        with self._schema_lock, self._flag("no_flush"):
            return read()

    @contextlib.contextmanager
    def _flag(self, name: str) -> Iterator[None]:
        """Set a flag of this thread's reads for the block (``no_flush``: rollups are read
        only when current without a flush; ``before_pending``: the reads end before every
        pending interval, so the rollups are current for them)."""
        before = getattr(self._local, name, False)
        setattr(self._local, name, True)
        try:
            yield
        finally:
            setattr(self._local, name, before)

    @staticmethod
    def _ensure_columns(
        con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str], wanted: dict[str, str]
    ) -> None:
        """Create the table and add the ``wanted`` columns it lacks, updating ``columns``. A
        new table is made with all of them in one statement (a rollup table has dozens of
        columns, and a statement each held the write lock for 300 ms on its first flush)."""
        if not columns:
            defined = "".join(
                f", {_quote(column)} {'VARCHAR' if kind == TAG else kind}"
                for column, kind in wanted.items()
            )
            con.execute(
                f"CREATE TABLE {_quote(table)} (series VARCHAR NOT NULL, "
                f"time TIMESTAMP_NS NOT NULL{defined}, PRIMARY KEY (series, time))"
            )
            columns.update(series="VARCHAR", time="TIMESTAMP_NS")
            for column, kind in wanted.items():
                if kind == TAG:
                    con.execute(f"COMMENT ON COLUMN {_quote(table)}.{_quote(column)} IS 'tag'")
                columns[column] = kind
            return
        for column, kind in wanted.items():
            if column not in columns:
                sql_type = "VARCHAR" if kind == TAG else kind
                con.execute(f"ALTER TABLE {_quote(table)} ADD COLUMN {_quote(column)} {sql_type}")
                if kind == TAG:
                    con.execute(f"COMMENT ON COLUMN {_quote(table)}.{_quote(column)} IS 'tag'")
                columns[column] = kind

    # -- writing --------------------------------------------------------------------------

    def write(self, points: Sequence[Point]) -> list[RefusedPoint]:
        refused: list[RefusedPoint] = []
        by_table: dict[str, dict[tuple[str, int], Point]] = defaultdict(dict)
        checked = self._name_checks
        for point in points:
            # Whether the names are valid depends on the names only: check each combination
            # of measurement, tag keys and field keys once (a regex per name per point was
            # a noticeable share of the drain's profile).
            names = (point.measurement, tuple(point.tags), tuple(point.fields))
            problem = checked.get(names, _UNCHECKED)
            if problem is _UNCHECKED:
                problem = naming_problem(point, _RESERVED)
                if len(checked) >= _NAME_CHECKS_MAX:
                    checked.clear()
                checked[names] = problem
            if problem:
                refused.append(RefusedPoint(point, problem))
                continue
            rows = by_table[point.measurement]
            key = (point.series, point.time_ns)
            earlier = rows.get(key)
            if earlier is not None:  # one row per key per statement: merge fields, later wins
                point = Point(
                    point.measurement, point.tags, earlier.fields | point.fields, point.time_ns
                )
            rows[key] = point
        if not by_table:
            return refused
        with self._write_lock:
            if self._broken is not None:
                self._reopen()
            con = self._cursor()
            try:
                while True:
                    try:
                        rejected = self._transaction(con, by_table)
                        break
                    except _KeyStored as stored:
                        # A key of this batch is stored already (a redelivery, or fields of
                        # one instant arriving in two batches): the batch again, merging into
                        # that table's rows, and into each further table that meets one
                        # (each time one more table merges: at most one retry per table).
                        con.execute("ROLLBACK")
                        self._merging[stored.table] = _MERGE_BATCHES
                refused += rejected
                refused_ids = {id(r.point) for r in refused}
                for table, rows in by_table.items():
                    self._latest.update(
                        table, (p for p in rows.values() if id(p) not in refused_ids)
                    )
            except Exception as error:  # duckdb.Error, or an OSError of a failing disk
                self._recover(con, error)
                raise StoreUnavailable(f"DuckDB write failed: {error}") from error
        if self._pending and self._flusher is None:  # rollup_flush_s 0: after every batch
            self._flush_rollups()
        return refused

    def _transaction(
        self, con: duckdb.DuckDBPyConnection, by_table: dict[str, dict[tuple[str, int], Point]]
    ) -> list[RefusedPoint]:
        """Write every table's rows in one transaction (its schema changes published with
        its commit); returns the points refused. A table that saw a stored key
        lately is merged into (upsert); the others are appended, and an append that meets a
        stored key raises :class:`_KeyStored` with the transaction still to roll back."""
        schema = {table: dict(columns) for table, columns in self._columns.items()}
        refused: list[RefusedPoint] = []
        merging = self._merging
        marks = _PendingMarks(self._recorded_marks)
        con.execute("BEGIN")
        for table, rows in by_table.items():
            merge = merging.get(table, 0) > 0
            columns = schema.setdefault(table, {})
            try:
                refused += self._write_table(con, table, columns, rows, merge=merge)
            except duckdb.ConstraintException as error:
                if merge:
                    raise
                raise _KeyStored(table) from error
            if self._rollups.of(table):
                low = self._mark_pending(marks, table, rows)
                # flagged before the commit: a query never reads rollups that lack
                # a committed batch (a failed commit only costs an empty flush)
                self._dirty[table] += 1
                self._pending_low[table] = min(low, self._pending_low.get(table, low))
                self._pending.add(table)
            if self._rollups.status and table in status_rollups.SOURCES:
                self._mark_status_pending(marks, rows)
                self._dirty[STATUS_MEASUREMENT] += 1
                self._pending.add(STATUS_MEASUREMENT)
        marks.record(con)
        self._commit(con, schema)
        marks.committed()
        for table in by_table:  # a committed batch counts against the merging ones' budget
            if merging.get(table, 0) > 0:
                merging[table] -= 1
        return refused

    def _write_table(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        columns: dict[str, str],
        rows: dict[tuple[str, int], Point],
        *,
        merge: bool,
    ) -> list[RefusedPoint]:
        # Points of one shape (tag keys, field names, value types) fare alike against the
        # table's columns, so each shape is checked once per batch: each value against its
        # column's kind (a new column takes the kind of its first value in the batch, refused
        # points included, as before any check). An accepted point's values then go straight
        # into the Arrow columns its shape names (this runs for every field of every point).
        kinds = dict(columns)
        added: dict[str, str] = {}
        size = len(rows)
        values: dict[str, list[Any]] = {}  # only the columns the accepted points use
        shapes: dict[tuple[tuple[Any, ...], ...], _Shape] = {}
        series_column: list[str] = []
        times: list[int] = []
        refused: list[RefusedPoint] = []
        for (series, time_ns), point in rows.items():
            tags, fields = point.tags, point.fields
            key = (tuple(tags), tuple(fields), tuple(map(type, fields.values())))
            shape = shapes.get(key)
            if shape is None:
                shape = shapes[key] = _shape(table, tags, fields, kinds, added, values, size)
            if shape.conflict:
                refused.append(RefusedPoint(point, shape.conflict))
                continue
            row = len(times)
            times.append(time_ns)
            series_column.append(series)
            for column, tag in zip(shape.tag_columns, tags.values(), strict=True):
                column[row] = tag
            for column, value in zip(shape.field_columns, fields.values(), strict=True):
                column[row] = value
        self._ensure_columns(con, table, columns, added)
        if times:
            self._insert(con, table, series_column, times, values, kinds, merge)
        return refused

    def _mark_pending(
        self, marks: _PendingMarks, table: str, rows: dict[tuple[str, int], Point]
    ) -> int:
        """Note the (series, finest interval) pairs ``rows`` touched, with each pair's
        earliest new point, for the write's transaction to record (:meth:`_PendingMarks.
        record`): :meth:`_flush_rollups` brings those intervals up to date (see
        :mod:`hub.stores.duckdb_rollups`)."""
        interval = self._rollups.of(table)[0].interval_ns
        earliest: dict[tuple[str, int], int] = {}
        for series, time_ns in rows:
            key = (series, time_ns - time_ns % interval)
            if time_ns < earliest.get(key, time_ns + 1):
                earliest[key] = time_ns
        marks.add(table, earliest)
        return min(bucket for _, bucket in earliest)  # the earliest interval touched

    def _flush_in_background(self) -> None:
        """Bring the rollups up to date every ``rollup_flush_s`` while data flows, beside the
        ingest rather than in it: a flush of the default rollups costs hundreds of
        milliseconds, which inside a write held the write lock (and the live latency) that
        long. Queries flush first when what they read is pending; the flush lock is taken
        one source at a time, so that such a query waits for one source's flush at most,
        not for every one's. A round that took long spaces out the next ones
        (:func:`flush_wait_s`)."""
        wait_s = self._rollup_flush_s
        while not self._closing.wait(wait_s):
            started = time.monotonic()
            for table in sorted(self._pending):
                try:
                    with self._flush_lock:
                        self._flush_pending(only=table)
                except Exception:  # the next round retries
                    log.exception("rollups of %s not brought up to date", table)
            wait_s = flush_wait_s(self._rollup_flush_s, time.monotonic() - started)

    def _flush_rollups(self) -> bool:
        """Bring every rollup up to date with the raw points committed so far, one
        transaction per measurement; ``False`` when that failed (the pending intervals stay
        recorded, and queries read raw points until a flush succeeds). Caller holds neither
        lock."""
        with self._flush_lock:
            return self._flush_pending()

    def _flush_pending(self, only: str | None = None) -> bool:
        """:meth:`_flush_rollups` for a caller holding the flush lock; with ``only``, just
        that source's rollups (what a query reads: the others' flush would make it wait for
        rollups it does not read, a second or more under ingest)."""
        for table in sorted(self._pending if only is None else self._pending & {only}):
            if table == STATUS_MEASUREMENT:
                if not self._flush_status():
                    return False
            elif not self._flush_table(table):
                return False
        return True

    def _flush_table(self, table: str) -> bool:
        """Recompute the pending intervals of ``table``'s rollups in one transaction that
        runs beside the ingest's: its rollup tables made, and its snapshot taken, under the
        write lock (so that it holds exactly the batches counted in ``_dirty`` so far), the
        rest without it. Only the flush writes rollup tables, and it deletes only the pending
        marks its snapshot holds, so the two transactions never meet. Caller holds the flush
        lock."""
        rollups = self._rollups.of(table)
        con = self._cursor()
        try:
            with self._write_lock:
                if self._broken is not None:
                    return False  # the next write reopens the file
                schema = {name: dict(columns) for name, columns in self._columns.items()}
                con.execute("BEGIN")
                self._ensure_rollup_tables(con, schema, table, rollups)
                self._commit(con, schema)
                seen = self._dirty[table]
                con.execute("BEGIN")
                con.execute(  # the transaction's first read of the file: its snapshot
                    "CREATE OR REPLACE TEMP TABLE touched_new AS SELECT series, bucket, "
                    "min(min_ns) AS min_ns FROM cityhub_meta.rollup_pending "
                    "WHERE measurement = ? GROUP BY series, bucket",
                    [table],
                )
                self._forget_marks(table)
            low, high = con.execute(
                "SELECT min(bucket), max(bucket) FROM touched_new"
            ).fetchone() or (None, None)
            if low is not None:
                con.execute(duckdb_rollups.touched_sql(rollups[0]), [low, high])
                self._compose(con, schema, table, rollups)
            con.execute("DELETE FROM cityhub_meta.rollup_pending WHERE measurement = ?", [table])
            con.execute("COMMIT")
        except Exception as error:  # duckdb.Error, or an OSError of a failing disk
            self._recover(con, error)
            log.warning("rollups of %s not brought up to date: %s", table, error)
            return False
        self._pending.discard(table)
        if self._dirty[table] != seen:  # a batch committed after the snapshot: still pending
            self._pending.add(table)
        with self._write_lock:  # no batch between the check and the pop (both under it)
            if self._dirty[table] == seen:
                self._pending_low.pop(table, None)
        return True

    def _forget_marks(self, measurement: str) -> None:
        """A flush took its snapshot of ``measurement``'s pending marks, which it deletes
        when it commits: the next batches record theirs again (:class:`_PendingMarks`).
        Caller holds the write lock, so no batch commits between the snapshot and this."""
        self._recorded_marks.pop(measurement, None)

    def _rollups_current(self, table: str) -> bool:
        """Whether the rollups of ``table`` (or, for a rollup, its own source's) hold every
        committed raw point, flushing them first if not."""
        table = self._rollup_sources.get(table, table)
        if table in status_rollups.SOURCES and self._rollups.status:
            table = STATUS_MEASUREMENT  # both sources feed the status rollups
        if table not in self._pending:
            return True
        if getattr(self._local, "before_pending", False):  # see _before_pending
            return True
        if getattr(self._local, "no_flush", False):  # see _consistent
            return False
        with self._flush_lock:
            return table not in self._pending or self._flush_pending(only=table)

    def rebuild_rollups(
        self, since_ns: int, progress: Callable[[str, int, int], None] | None = None
    ) -> dict[str, int]:
        """Recompute every rollup from the raw points stored from ``since_ns`` on (rounded
        down to the coarsest interval), one coarsest interval per transaction, then record
        that the rollups cover everything from there. ``progress(measurement, done, total)``
        is called after each interval. Returns the new coverage."""
        if self._pending and not self._flush_rollups():
            raise StoreUnavailable("DuckDB: pending rollups could not be brought up to date")
        plans = dict(self._rollups.by_measurement)
        if self._rollups.status:
            plans[STATUS_MEASUREMENT] = self._rollups.status
        for measurement, rollups in plans.items():
            if measurement not in self._columns:
                continue
            chunk = rollups[-1].interval_ns
            start = since_ns - since_ns % chunk
            (last,) = self._cursor().execute(
                f"SELECT epoch_ns(max(time)) FROM {_quote(measurement)}"
            ).fetchone() or (None,)
            total = 0 if last is None else max(0, (last - start) // chunk + 1)
            for done in range(total):
                low = start + done * chunk
                if measurement == STATUS_MEASUREMENT:
                    self._rebuild_status_chunk(low, low + chunk)
                else:
                    self._rebuild_chunk(measurement, rollups, low, low + chunk)
                if progress:
                    progress(measurement, done + 1, total)
            restepped = _NEVER if measurement == STATUS_MEASUREMENT else start
            if restepped != _NEVER:  # from the first coarsest interval with raw points on:
                # a file older than stored steps keeps none in those before, whose raw points
                # retention deleted
                (first,) = self._cursor().execute(
                    f"SELECT epoch_ns(min(time)) FROM {_quote(measurement)} "
                    "WHERE time >= make_timestamp_ns(?)",
                    [start],
                ).fetchone() or (None,)
                restepped = _NEVER if first is None else first - first % chunk
            with self._write_lock:
                con = self._cursor()
                for rollup in rollups:
                    since = min(self._covered.get(rollup.name, start), start)
                    self._set_coverage(con, rollup, since)
                    self._covered[rollup.name] = since
                    steps = min(self._steps_since.get(rollup.name, _NEVER), restepped)
                    if steps != _NEVER:
                        self._set_steps_since(con, rollup, steps)
        return dict(self._covered)

    def _rebuild_chunk(
        self, measurement: str, rollups: Sequence[Rollup], low_ns: int, high_ns: int
    ) -> None:
        interval = rollups[0].interval_ns
        with self._flush_lock, self._write_lock:  # no flush writes the rollups meanwhile
            con = self._cursor()
            schema = {table: dict(columns) for table, columns in self._columns.items()}
            try:
                con.execute("BEGIN")
                self._ensure_rollup_tables(con, schema, measurement, rollups)
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE touched AS SELECT DISTINCT series, "
                    f"epoch_ns(time) // {interval} * {interval} AS bucket, false AS keep_row, "
                    f"epoch_ns(time) // {interval} * {interval} - 1 AS after_ns "
                    f"FROM {_quote(measurement)} "
                    "WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?)",
                    [low_ns, high_ns],
                )
                self._compose(con, schema, measurement, rollups)
                self._commit(con, schema)
            except Exception as error:
                self._recover(con, error)
                raise StoreUnavailable(f"DuckDB rollup rebuild failed: {error}") from error

    # -- status rollups (hub.rollups.status) ----------------------------------------------

    def _mark_status_pending(
        self, marks: _PendingMarks, rows: dict[tuple[str, int], Point]
    ) -> None:
        """Note the (device, finest interval) pairs of the status rollups ``rows`` touched
        (``series`` holds the device)."""
        interval = self._rollups.status[0].interval_ns
        marks.add(
            STATUS_MEASUREMENT,
            {
                (device, t - t % interval): t - t % interval
                for device, times in status_rollups.touched_by(rows.values()).items()
                for t in times
            },
        )

    def _flush_status(self) -> bool:
        """Recompute the status rollups' pending intervals beside the ingest, as
        :meth:`_flush_table` does for the others: the pending marks read (the transaction's
        snapshot) under the write lock, the recompute (tens of milliseconds of Python, which
        inside the lock held every batch that long) without it. ``False`` when that failed
        (they stay pending). Caller holds the flush lock."""
        touched: dict[str, set[int]] = defaultdict(set)
        seen = 0

        def snapshot(con: duckdb.DuckDBPyConnection) -> None:
            nonlocal seen
            seen = self._dirty[STATUS_MEASUREMENT]
            for device, bucket in con.execute(
                "SELECT DISTINCT series, bucket FROM cityhub_meta.rollup_pending "
                "WHERE measurement = ?",
                [STATUS_MEASUREMENT],
            ).fetchall():
                touched[device].add(bucket)
            self._forget_marks(STATUS_MEASUREMENT)

        def recompute(read: status_rollups.Read, write: status_rollups.Write) -> None:
            status_rollups.recompute(read, write, self._rollups.status, touched)
            # only the marks of the snapshot: a batch's marks committed since stay
            self._cursor().execute(
                "DELETE FROM cityhub_meta.rollup_pending WHERE measurement = ?",
                [STATUS_MEASUREMENT],
            )

        try:
            self._in_status_transaction(recompute, snapshot=snapshot)
        except StoreUnavailable as error:
            log.warning("status rollups not brought up to date: %s", error)
            return False
        self._pending.discard(STATUS_MEASUREMENT)
        if self._dirty[STATUS_MEASUREMENT] != seen:  # a batch committed after the snapshot
            self._pending.add(STATUS_MEASUREMENT)
        return True

    def _rebuild_status_chunk(self, low_ns: int, high_ns: int) -> None:
        rollups = self._rollups.status
        with self._flush_lock, self._write_lock:
            self._in_status_transaction(
                lambda read, write: status_rollups.rebuild(read, write, rollups, low_ns, high_ns)
            )

    def _in_status_transaction(
        self,
        work: Callable[[status_rollups.Read, status_rollups.Write], None],
        snapshot: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    ) -> None:
        """Run ``work`` (reading raw points and rollup rows, writing rollup rows) in one
        transaction; the rollup tables are made first, on their own, so that reads inside the
        transaction see them. Without ``snapshot`` the caller holds the write lock. With it,
        the caller holds the flush lock only: the tables are made, the transaction begun and
        ``snapshot`` (its first read) run under the write lock, ``work`` without it (only
        a flush or a rebuild, both under the flush lock, write the status rollups), and the
        commit again under it, publishing any column ``work`` added."""
        con = self._cursor()
        locked = self._write_lock if snapshot is not None else contextlib.nullcontext()
        wanted = dict.fromkeys(status_rollups.ENTITY, TAG) | {
            name: _SQL_TYPE[type(value)]
            for name, value in status_rollups.Span.report(0, "").fields(0).items()
        }
        names = [rollup.name for rollup in self._rollups.status]
        schema: dict[str, dict[str, str]] = {}

        def write(points: list[Point]) -> None:
            by_table: dict[str, dict[tuple[str, int], Point]] = defaultdict(dict)
            for point in points:
                by_table[point.measurement][point.series, point.time_ns] = point
            for table, rows in by_table.items():
                columns = schema.setdefault(table, {})
                self._write_table(con, table, columns, rows, merge=True)

        try:
            with locked:
                if self._broken is not None:
                    raise StoreUnavailable(f"DuckDB is being reopened: {self._broken}")
                schema = {name: dict(columns) for name, columns in self._columns.items()}
                if any(name not in schema for name in names):
                    con.execute("BEGIN")
                    for name in names:
                        self._ensure_columns(con, name, schema.setdefault(name, {}), wanted)
                    self._commit(con, {name: dict(columns) for name, columns in schema.items()})
                con.execute("BEGIN")
                if snapshot is not None:
                    snapshot(con)
                    self._local.columns = schema  # what its reads see (_points)
            try:
                work(self._points, write)
            finally:
                self._local.columns = None
            with locked:
                if snapshot is not None:  # the others' columns as they are now
                    schema = self._columns | {name: schema[name] for name in names}
                self._commit(con, schema)
        except Exception as error:  # duckdb.Error, or an OSError of a failing disk
            self._recover(con, error)
            raise StoreUnavailable(f"DuckDB status rollups failed: {error}") from error
        self._latest.forget(names)

    def _ensure_rollup_tables(
        self,
        con: duckdb.DuckDBPyConnection,
        schema: dict[str, dict[str, str]],
        table: str,
        rollups: Sequence[Rollup],
    ) -> None:
        """Give each rollup table the tags of ``table`` and the statistics of its numeric
        fields."""
        columns = schema[table]
        fields = [c for c, kind in columns.items() if kind == "DOUBLE"]
        wanted = {c: TAG for c, kind in columns.items() if kind == TAG} | {
            c: "DOUBLE" for c in duckdb_rollups.rollup_columns(fields)
        }
        for rollup in rollups:
            if not schema.get(rollup.name):  # made with its step columns: its steps hold
                self._set_steps_since(con, rollup, _EVER)
            self._ensure_columns(con, rollup.name, schema.setdefault(rollup.name, {}), wanted)

    def _compose(
        self,
        con: duckdb.DuckDBPyConnection,
        schema: dict[str, dict[str, str]],
        table: str,
        rollups: Sequence[Rollup],
    ) -> None:
        """Rewrite the finest rollup's rows of the temporary table ``touched`` from ``table``,
        with the stored rows whose steps they change (:mod:`hub.stores.duckdb_steps`), then
        each coarser one's holding those from the finer (from the finer rows' stored steps
        where they hold: every row of those intervals is current once the finest are
        restepped)."""
        columns = schema[table]
        fields = [c for c, kind in columns.items() if kind == "DOUBLE"]
        tags = [c for c, kind in columns.items() if kind == TAG]
        source, source_is_raw, touched = table, True, "touched"
        for index, rollup in enumerate(rollups):
            if index:
                bucket = f"epoch_ns(time) - epoch_ns(time) % {rollup.interval_ns}"
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE touched_{index} AS "
                    f"SELECT DISTINCT series, {bucket} AS bucket, "
                    f"false AS keep_row, {bucket} - 1 AS after_ns FROM composed"
                )
                touched = f"touched_{index}"
            low, high, low_after = con.execute(
                f"SELECT min(bucket), max(bucket), min(after_ns) FROM {touched}"
            ).fetchone() or (None, None, None)
            if low is None:
                return
            steps_held = self._steps_since.get(source, _NEVER) <= low
            con.execute(
                duckdb_rollups.compose_sql(
                    rollup, source, source_is_raw, fields, tags, touched, source_steps=steps_held
                ),
                [low_after, high + rollup.interval_ns, low, high],
            )
            if not index:
                self._restep(con, rollups, fields, low, high)
                low, high = con.execute(
                    "SELECT epoch_ns(min(time)), epoch_ns(max(time)) FROM composed"
                ).fetchone() or (low, high)
            delete, insert = duckdb_rollups.replace_sql(rollup)
            con.execute(delete, [low, high])
            con.execute(insert)
            source, source_is_raw = rollup.name, False
        self._latest.forget(rollup.name for rollup in rollups)

    @staticmethod
    def _restep(
        con: duckdb.DuckDBPyConnection,
        rollups: Sequence[Rollup],
        fields: list[str],
        low: int,
        high: int,
    ) -> None:
        """Recompute the steps of the finest rows ``composed`` holds, and add to it the stored
        rows whose steps those change (:func:`hub.stores.duckdb_steps.restep_sql`)."""
        series, stepped = duckdb_steps.restep_sql(
            rollups[0], rollups[-1], fields, duckdb_rollups.step_sql("{prev}", "{first}")
        )
        con.execute(series, duckdb_steps.step_series_bounds(rollups[-1], low, high))
        if con.execute("SELECT count(*) FROM step_series").fetchone() == (0,):
            return  # appends only, with nothing stored after them: each keeps its step
        con.execute(stepped)
        con.execute(
            "DELETE FROM composed WHERE (series, time) IN (SELECT series, time FROM stepped)"
        )
        con.execute("INSERT INTO composed BY NAME SELECT * FROM stepped")

    @staticmethod
    def _insert(
        con: duckdb.DuckDBPyConnection,
        table: str,
        series: list[str],
        times: list[int],
        values: dict[str, list[Any]],
        kinds: dict[str, str],
        merge: bool,
    ) -> None:
        """Write the rows (``values``: columns of at least ``len(times)`` entries)."""
        count = len(times)
        data: dict[str, Any] = {
            "series": pa.array(series, pa.string()),
            "time": pa.array(times, pa.timestamp("ns")),
        }
        for name, column in values.items():
            kind = kinds[name]
            del column[count:]  # room was made for the refused points too
            data[name] = pa.array(column, pa.string() if kind == TAG else _ARROW_TYPE[kind])
        batch = pa.table(data)  # noqa: F841  (read by DuckDB's replacement scan below)
        if not merge:  # an append: the primary key refuses a stored key (ConstraintException)
            con.execute(f"INSERT INTO {_quote(table)} BY NAME SELECT * FROM batch")
            return
        updates = ", ".join(
            f"{_quote(f)} = COALESCE(excluded.{_quote(f)}, {_quote(f)})"
            for f in values
            if kinds[f] != TAG
        )
        con.execute(
            f"INSERT INTO {_quote(table)} BY NAME SELECT * FROM batch "
            f"ON CONFLICT (series, time) DO UPDATE SET {updates}"
        )

    # -- retention ------------------------------------------------------------------------

    def measurements(self) -> list[str]:
        """The measurements (tables) the file holds."""
        return sorted(self._columns)

    def delete_before(self, measurement: str, before_ns: int, limit: int) -> int:
        """Delete at most ``limit`` points of ``measurement`` older than ``before_ns``, in one
        transaction under the write lock; returns how many were deleted (fewer than ``limit``:
        none older is left). Raises ``StoreUnavailable`` as a failed write does.

        A measurement with rollups keeps its rollups whole: the pending intervals are rolled up
        before any raw point goes (they are computed from the raw points), and only whole
        intervals of its coarsest rollup are deleted (``before_ns`` rounded down to one)."""
        if measurement not in self._columns:
            return 0
        rollups = self._rollups.of(measurement)
        if self._rollups.status and measurement in status_rollups.SOURCES:
            rollups = self._rollups.status
        if rollups:
            before_ns -= before_ns % rollups[-1].interval_ns
        source = rollups[0].measurement if rollups else measurement
        with self._flush_lock:  # no flush reads the raw points while they go
            for _ in range(3):
                if source in self._pending and not self._flush_pending(only=source):
                    raise StoreUnavailable(f"{measurement}: its pending rollups failed")
                with self._write_lock:
                    if self._broken is not None:
                        self._reopen()
                    con = self._cursor()
                    # a batch since the flush may have brought a point older than the cut
                    if source in self._pending and con.execute(
                        "SELECT count(*) FROM cityhub_meta.rollup_pending "
                        "WHERE measurement = ? AND bucket < ?",
                        [source, before_ns],
                    ).fetchone() != (0,):
                        continue
                    return self._delete(con, measurement, before_ns, limit)
        raise StoreUnavailable(f"{measurement}: points older than the cut keep arriving")

    def _delete(
        self, con: duckdb.DuckDBPyConnection, measurement: str, before_ns: int, limit: int
    ) -> int:
        table = _quote(measurement)
        try:
            con.execute("BEGIN")
            row = con.execute(
                f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} "
                f"WHERE time < make_timestamp_ns(?) LIMIT {int(limit)})",
                [before_ns],
            ).fetchone()
            con.execute("COMMIT")
        except Exception as error:  # duckdb.Error, or an OSError of a failing disk
            self._recover(con, error)
            raise StoreUnavailable(f"DuckDB delete failed: {error}") from error
        deleted = int(row[0]) if row else 0
        if deleted < limit:  # none older is left: neither may the latest values show one
            self._latest.drop_before(measurement, before_ns)
        return deleted

    # -- queries --------------------------------------------------------------------------

    def _where(
        self, columns: dict[str, str], where: dict[str, tuple[str, ...]]
    ) -> tuple[list[str], list[Any]] | None:
        """SQL conditions for tag filters; ``None`` when a filter can match nothing."""
        clauses: list[str] = []
        params: list[Any] = []
        for tag, values in where.items():
            if columns.get(tag) != TAG or not values:
                return None
            clauses.append(f"{_quote(tag)} IN ({', '.join('?' * len(values))})")
            params.extend(values)
        return clauses, params

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """A read on a database that a fatal error invalidated (or on a failing disk) is a
        503 for the caller, and the next ping or write reopens the file."""
        try:
            yield
        except (duckdb.FatalException, duckdb.IOException) as error:
            if isinstance(error, duckdb.FatalException):
                self._broken = str(error)
            raise StoreUnavailable(f"DuckDB file {self._path} is not readable: {error}") from error

    def aggregate(self, query: AggregateQuery) -> list[SeriesResult]:
        with self._reading():
            if query.measurement in self._rollup_sources:  # a rollup read as a measurement
                self._rollups_current(query.measurement)
            q = query
            before = (
                self._before_pending(q.measurement, q.start_ns, q.end_ns, q.every_ns)
                if q.function in EXACT_FUNCTIONS
                else None
            )
            if before is not None:
                with self._flag("before_pending"):
                    early = self.aggregate(dataclasses.replace(query, end_ns=before))
                if before >= query.end_ns:
                    return early
                with self._flag("no_flush"):
                    late = self.aggregate(dataclasses.replace(query, start_ns=before))
                return _concatenated(early, late)
            if (
                query.function in EXACT_FUNCTIONS
                and self._rollups.of(query.measurement)
                and self._rollups_current(query.measurement)
                and not rollup_for(query, self._rollups, self._covered)
            ):
                cut = self._consistent(lambda: self._aggregate_cut(query))
                if cut is not None:
                    return cut
            return self._consistent(lambda: self._aggregate(query))

    def _before_pending(
        self, measurement: str, start_ns: int, end_ns: int, every_ns: int | None
    ) -> int | None:
        """Where to cut a query of ``every_ns`` windows over ``[start_ns, end_ns)`` so as not
        to wait for a flush, or ``None`` (answer it
        whole, rolling up first when it reads pending rollups). Under ingest the last
        intervals' rollups are pending nearly always, and rolling them up costs a query the
        better part of a second (the default plan, 1,000 msg/s): instead, the windows before
        the earliest pending interval are read as they are (the rollups hold every point of
        them), the windows from there on from raw points (recent ones: few), and the two
        answers put together. Cut at a window boundary, so no window is split; a query
        every window of which holds a pending interval is answered whole."""
        low = self._pending_low.get(measurement)
        if (
            low is None
            or not every_ns
            or getattr(self._local, "before_pending", False)
            or getattr(self._local, "no_flush", False)
        ):
            return None
        cut = low - low % every_ns
        return min(cut, end_ns) if cut > start_ns else None

    def _aggregate(self, query: AggregateQuery) -> list[SeriesResult]:
        columns = self._columns.get(query.measurement)
        if columns is None or columns.get(query.field, TAG) == TAG:
            return []
        kind = columns[query.field]
        if kind != "DOUBLE" and query.function not in ("count", "first", "last"):
            raise QueryError(
                f"{query.function} needs a numeric field; {query.field!r} is {_KIND[kind]}"
            )
        filters = self._where(columns, query.where)
        if filters is None:
            return []
        clauses, params = filters
        rollup = (
            rollup_for(query, self._rollups, self._covered)
            if kind == "DOUBLE" and self._rollups_current(query.measurement)
            else None
        )
        if rollup is not None and rollup_field(query.field, "count") in self._columns.get(
            rollup.name, {}
        ):
            return self._aggregate_rollup(query, rollup, clauses, params)
        field = _quote(query.field)
        groups = [
            f"COALESCE({_quote(tag)}, '')" if columns.get(tag) == TAG else "''"
            for tag in query.group_by
        ]
        group_cols = [f"{expr} AS g{i}" for i, expr in enumerate(groups)]
        group_refs = [f"g{i}" for i in range(len(groups))]
        bucket = (
            f"(epoch_ns(time) // {query.every_ns}) * {query.every_ns}"
            if query.every_ns
            else str(query.start_ns)
        )
        conditions = " AND ".join([f"{field} IS NOT NULL", *clauses])
        if query.function == "increase":
            # The reading just before the range anchors each series: one cheap aggregate over
            # the lookback, so the window function (LAG) only runs over the range itself. It
            # is partitioned by a 64-bit hash of the series key, which sorts about a third
            # faster than the strings; two series would have to collide in it to be mixed.
            columns_sql = ", ".join(group_cols)
            sql = f"""
                WITH anchors AS (
                    SELECT series, {columns_sql}{", " if group_cols else ""}
                           max(time) AS time, arg_max({field}, time) AS v
                    FROM {_quote(query.measurement)}
                    WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?)
                      AND {conditions}
                    GROUP BY ALL
                ), readings AS (
                    SELECT series, {columns_sql}{", " if group_cols else ""}
                           time, {field} AS v
                    FROM {_quote(query.measurement)}
                    WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?)
                      AND {conditions}
                ), steps AS (
                    SELECT *, lag(v) OVER (PARTITION BY hash(series) ORDER BY time) AS prev
                    FROM (SELECT * FROM anchors UNION ALL BY NAME SELECT * FROM readings)
                )
                SELECT {bucket} AS bucket, {", ".join([*group_refs, _INCREASE])}
                FROM steps WHERE time >= make_timestamp_ns(?)
                GROUP BY ALL HAVING count(*) > 0 ORDER BY ALL"""
            args = [
                query.start_ns - query.counter_lookback_ns,
                query.start_ns,
                *params,
                query.start_ns,
                query.end_ns,
                *params,
                query.start_ns,
            ]
        else:
            expression = _AGGREGATES[query.function].format(f=field, p=query.percentile)
            # empty windows are omitted (without a group key DuckDB answers one NULL row), and
            # so is a window whose nearest rank is below 1, as InfluxQL omits it
            having = "HAVING count(*) > 0"
            if query.function == "percentile":
                having += f" AND {expression} IS NOT NULL"
            sql = f"""
                SELECT {bucket} AS bucket, {", ".join([*group_cols, expression])}
                FROM {_quote(query.measurement)}
                WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?)
                  AND {conditions}
                GROUP BY ALL {having} ORDER BY ALL"""
            args = [query.start_ns, query.end_ns, *params]
        rows = self._cursor().execute(sql, args).fetchall()
        return _to_series(rows, query.group_by)

    # The whole windows of a sum of means are read from a rollup when one answers them: the
    # retention guard lets questions before the raw horizon through then.
    sum_of_means_from_rollups = True

    def sum_of_means(self, query: SumOfMeansQuery) -> list[Bucket]:
        with self._reading():
            if not self._rollups.of(query.measurement):
                return self._consistent(lambda: self._sum_of_means(query))
            q = query
            before = self._before_pending(q.measurement, q.start_ns, q.end_ns, q.every_ns)
            if before is not None:  # as in aggregate: no wait for pending rollups
                with self._flag("before_pending"):
                    early = self.sum_of_means(dataclasses.replace(query, end_ns=before))
                if before >= query.end_ns:
                    return early
                with self._flag("no_flush"):
                    return early + self.sum_of_means(dataclasses.replace(query, start_ns=before))
            # The windows the range cuts (at most its first and last) from raw points, the
            # whole windows between them from a rollup when one answers them: each window is
            # read whole from one source, so nothing is merged.
            return self._consistent(
                lambda: [
                    bucket
                    for low, high in whole_windows(query.start_ns, query.end_ns, query.every_ns)
                    for bucket in self._sum_of_means(
                        dataclasses.replace(query, start_ns=low, end_ns=high)
                    )
                ]
            )

    def _sum_of_means(self, query: SumOfMeansQuery) -> list[Bucket]:
        columns = self._columns.get(query.measurement)
        if columns is None or columns.get(query.field, TAG) == TAG:
            return []
        if columns[query.field] != "DOUBLE":
            raise QueryError(
                f"mean needs a numeric field; {query.field!r} is {_KIND[columns[query.field]]}"
            )
        rollup = self._means_rollup(query)
        table = query.measurement if rollup is None else rollup.name
        columns = self._columns.get(table, {})
        filters = self._where(columns, query.where)
        if filters is None:
            return []
        clauses, params = filters
        if rollup is None:
            field = _quote(query.field)
            mean, present = f"avg({field})", f"{field} IS NOT NULL"
        else:
            mean, present = duckdb_rollups.mean_sql(query.field)
        conditions = " AND ".join([present, *clauses])
        if (
            rollup is not None
            and rollup.interval_ns == query.every_ns
            and self._one_series_per_group(query)
        ):
            # each row is one series' one window: its mean is one of those summed, no need to
            # group 10M rows by series and window first (a year of quarters city-wide: 20x)
            sql = duckdb_rollups.row_means_sql(table, query.field, conditions)
        else:
            sql = f"""
                WITH means AS (
                    SELECT (epoch_ns(time) // {query.every_ns}) * {query.every_ns} AS bucket,
                           {mean} AS mean
                    FROM {_quote(table)}
                    WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?)
                      AND {conditions}
                    GROUP BY {", ".join(["bucket", *_series_groups(columns, query.series_by)])}
                )
                SELECT bucket, sum(mean) FROM means GROUP BY bucket ORDER BY bucket"""
        rows = self._cursor().execute(sql, [query.start_ns, query.end_ns, *params]).fetchall()
        return [Bucket(int(bucket), float(value)) for bucket, value in rows]

    def _means_rollup(self, query: SumOfMeansQuery) -> Rollup | None:
        """The coarsest rollup that answers a ``mean`` of ``query``'s windows exactly (stored
        sums over stored counts, never a mean of means), if any: else raw points."""
        as_mean = AggregateQuery(
            query.measurement, query.field, "mean", query.start_ns, query.end_ns, query.every_ns
        )
        if not (self._rollups.of(query.measurement) and self._rollups_current(query.measurement)):
            return None
        rollup = rollup_for(as_mean, self._rollups, self._covered)
        if rollup is None or rollup_field(query.field, "count") not in self._columns.get(
            rollup.name, {}
        ):
            return None
        return rollup

    def _one_series_per_group(self, query: SumOfMeansQuery) -> bool:
        """Whether no two series matching ``query.where`` share their ``series_by`` tags in
        its range (then a series' mean is its group's). Asked of the coarsest rollup, over the
        whole intervals holding the range: a row per series and day, not per reading."""
        coarsest = self._rollups.of(query.measurement)[-1]
        low = query.start_ns - query.start_ns % coarsest.interval_ns
        columns = self._columns.get(coarsest.name, {})
        filters = self._where(columns, query.where)
        if (
            filters is None
            or self._covered.get(coarsest.name, low + 1) > low
            or rollup_field(query.field, "count") not in columns
        ):
            return False
        clauses, params = filters
        _, present = duckdb_rollups.mean_sql(query.field)
        groups = ", ".join(_series_groups(columns, query.series_by)) or "''"
        (one,) = self._cursor().execute(
            f"""
            SELECT count(DISTINCT series) = count(DISTINCT ({groups})) FROM {_quote(coarsest.name)}
            WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?)
              AND {" AND ".join([present, *clauses])}""",
            [low, query.end_ns, *params],
        ).fetchone() or (False,)
        return bool(one)

    def _aggregate_rollup(
        self, query: AggregateQuery, rollup: Rollup, clauses: list[str], params: list[Any]
    ) -> list[SeriesResult]:
        """``query`` answered from ``rollup``'s rows (see :mod:`hub.stores.duckdb_rollups`)."""
        columns = self._columns[rollup.name]
        groups = [
            f"COALESCE({_quote(tag)}, '') AS g{i}" if columns.get(tag) == TAG else f"'' AS g{i}"
            for i, tag in enumerate(query.group_by)
        ]
        bucket = (
            f"(epoch_ns(time) // {query.every_ns}) * {query.every_ns}"
            if query.every_ns
            else str(query.start_ns)
        )
        present = f"{_quote(rollup_field(query.field, 'count'))} IS NOT NULL"
        conditions = " AND ".join([present, *clauses])
        anchor_start = query.start_ns - query.counter_lookback_ns
        if query.function == "increase" and self._steps_hold(rollup, query):
            sql = duckdb_steps.increase_sql(query, rollup, groups, conditions, bucket)
            args = [anchor_start, query.start_ns, query.end_ns, *params]
        elif query.function == "increase":  # a file older than stored steps: lag() over rows
            sql = duckdb_rollups.aggregate_sql(query, rollup, groups, conditions, bucket)
            args = [
                anchor_start - anchor_start % rollup.interval_ns,
                query.start_ns,
                anchor_start,
                *params,
                query.start_ns,
                query.end_ns,
                *params,
                query.start_ns,
            ]
        else:
            expression = duckdb_rollups.aggregate_expression(query)
            sql = f"""
                SELECT {bucket} AS bucket, {", ".join([*groups, expression])}
                FROM {_quote(rollup.name)}
                WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?)
                  AND {conditions}
                GROUP BY ALL HAVING count(*) > 0"""
            args = [query.start_ns, query.end_ns, *params]
        return self._series_lists(sql, args, query.group_by)

    def _steps_hold(self, rollup: Rollup, query: AggregateQuery) -> bool:
        """Whether ``rollup``'s rows in ``query``'s range hold their steps."""
        return (
            rollup_field(query.field, "step") in self._columns.get(rollup.name, {})
            and self._steps_since.get(rollup.name, query.start_ns + 1) <= query.start_ns
        )

    def _series_lists(
        self, sql: str, args: list[Any], group_by: tuple[str, ...]
    ) -> list[SeriesResult]:
        """The series of ``sql``'s rows (bucket, g0, ..., value), in the order of
        :func:`_to_series` on them sorted, fetched as one row per group with its windows as a
        list: a year of days city-wide is 365k windows, and as rows, fetching and grouping
        them in Python cost more than the query. The windows are listed as (bucket, value)
        pairs sorted once (two lists each ``ORDER BY bucket`` sort twice) and come as Arrow
        arrays, made Python values in one call per column (DuckDB's own conversion, value by
        value, took longer than the query). Every value must be a DOUBLE (or NULL)."""
        group_refs = [f"g{i}" for i in range(len(group_by))]
        sql = f"""
            SELECT {"".join(f"{g}, " for g in group_refs)}
                   list_sort(list({{'time_ns': bucket, 'value': value}}))
            FROM ({sql}) AS answer(bucket, {"".join(f"{g}, " for g in group_refs)}value)
            GROUP BY ALL HAVING count(*) > 0 ORDER BY {", ".join(["min(bucket)", *group_refs])}"""
        # A cursor of its own: a relation (the Arrow path) is refused on a connection that
        # still holds an unfinished result of execute(), as the thread's cursor may.
        with self._cursor().cursor() as con, _collection_paused():
            answer = pa.table(con.sql(sql, params=args))
            tags = [answer.column(i).to_pylist() for i in range(len(group_by))]
            windows = answer.column(len(group_by)).combine_chunks()
            pairs = windows.flatten()
            time_ns = pairs.field("time_ns").to_pylist()
            value = pairs.field("value").to_pylist()
            series = []
            end = 0
            for index, count in enumerate(windows.value_lengths().to_pylist()):
                start, end = end, end + count
                series.append(
                    SeriesResult(
                        {tag: column[index] for tag, column in zip(group_by, tags, strict=True)},
                        list(map(Bucket, time_ns[start:end], value[start:end])),
                    )
                )
            return series

    def _aggregate_cut(self, query: AggregateQuery) -> list[SeriesResult] | None:
        """An aggregate no rollup answers whole (a range not on interval boundaries,
        ``start=-365d``) in one query: the range cut as :func:`hub.rollups.split.cuts` cuts
        it, each piece read from the coarsest rollup holding it (else raw points: the ragged
        edges, each raw reading as a rollup row of that one reading), and the rows of all the
        pieces aggregated together per window as rollup rows are (a mean: their sums over
        their counts). An ``increase`` chains them per series in time order from the last raw
        reading in the lookback, as raw points are. One statement rather than one per piece
        and statistic (a mean cut in 7 pieces was 14, each ragged edge scanning the raw table
        twice). ``None`` when no piece is read from a rollup."""
        columns = self._columns.get(query.measurement)
        if columns is None or columns.get(query.field) != "DOUBLE":
            return None
        filters = self._where(columns, query.where)
        if filters is None:
            return None
        clauses, params = filters
        field = _quote(query.field)
        increase = query.function == "increase"

        def groups(table_columns: dict[str, str]) -> str:
            return ("hash(series) AS series, " if increase else "") + "".join(
                f"COALESCE({_quote(tag)}, '') AS g{i}, "
                if table_columns.get(tag) == TAG
                else f"'' AS g{i}, "
                for i, tag in enumerate(query.group_by)
            )

        raw = _quote(query.measurement)
        raw_conditions = " AND ".join([f"{field} IS NOT NULL", *clauses])
        pieces: list[str] = []
        args: list[Any] = []
        read_rollup = False
        for low, high in cuts(query, self._rollups):
            rollup = self._piece_rollup(query, low, high)
            if rollup is None:
                pieces.append(
                    f"SELECT {groups(columns)}time, "
                    f"{duckdb_rollups.reading_as_row(query.function, query.field)} FROM {raw} "
                    f"WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?) "
                    f"AND {raw_conditions}"
                )
            else:
                read_rollup = True
                count = _quote(rollup_field(query.field, "count"))
                pieces.append(
                    f"SELECT {groups(self._columns[rollup.name])}time, "
                    f"{duckdb_rollups.row_columns(query.function, query.field)} "
                    f"FROM {_quote(rollup.name)} "
                    f"WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?) "
                    f"AND {' AND '.join([f'{count} IS NOT NULL', *clauses])}"
                )
            args += [low, high, *params]
        if not read_rollup:
            return None
        bucket = (
            f"(epoch_ns(time) // {query.every_ns}) * {query.every_ns}"
            if query.every_ns
            else str(query.start_ns)
        )
        group_refs = "".join(f"g{i}, " for i in range(len(query.group_by)))
        rows = " UNION ALL BY NAME ".join(f"({piece})" for piece in pieces)
        if not increase:
            sql = f"""
                SELECT {bucket} AS bucket, {group_refs}{duckdb_rollups.aggregate_expression(query)}
                FROM ({rows}) GROUP BY ALL HAVING count(*) > 0"""
            return self._series_lists(sql, args, query.group_by)
        first, last, within = (
            _quote(rollup_field(query.field, stat)) for stat in ("first", "last", "increase_within")
        )
        sql = f"""
            WITH anchors AS (
                SELECT {groups(columns)}max(time) AS time, arg_max({field}, time) AS {last},
                       NULL::DOUBLE AS {first}, 0.0 AS {within}
                FROM {raw}
                WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?)
                  AND {raw_conditions}
                GROUP BY ALL
            ), steps AS (
                SELECT *, lag({last}) OVER (PARTITION BY series ORDER BY time) AS prev
                FROM (SELECT * FROM anchors UNION ALL BY NAME {rows})
            )
            SELECT {bucket} AS bucket, {group_refs}
                   sum({within} + COALESCE({duckdb_rollups.step_sql("prev", first)}, 0))
            FROM steps WHERE time >= make_timestamp_ns(?)
            GROUP BY ALL HAVING count(*) > 0"""
        anchor_args = [query.start_ns - query.counter_lookback_ns, query.start_ns, *params]
        return self._series_lists(sql, [*anchor_args, *args, query.start_ns], query.group_by)

    def _piece_rollup(self, query: AggregateQuery, low_ns: int, high_ns: int) -> Rollup | None:
        """The coarsest rollup holding every interval of ``[low_ns, high_ns)`` (a piece of
        :meth:`_aggregate_cut`) whose intervals make up ``query``'s windows, if any."""
        return next(
            (
                r
                for r in reversed(self._rollups.of(query.measurement))
                if (query.every_ns is None or query.every_ns % r.interval_ns == 0)
                and low_ns % r.interval_ns == 0
                and high_ns % r.interval_ns == 0
                and self._covered.get(r.name, low_ns + 1) <= low_ns
                and rollup_field(query.field, "count") in self._columns.get(r.name, {})
            ),
            None,
        )

    def latest(self, query: LatestQuery) -> list[LatestRow]:
        with self._reading():
            return self._latest_rows(query)

    def _latest_rows(self, query: LatestQuery) -> list[LatestRow]:
        columns = self._columns.get(query.measurement)
        if columns is None:
            return []
        fields = [
            f
            for f in (query.fields or columns)
            if f not in _RESERVED and columns.get(f, TAG) != TAG
        ]
        if not fields or any(columns.get(tag) != TAG for tag in query.where):
            return []
        if not self._latest.loaded(query.measurement):
            with self._write_lock:  # no batch may commit between the scan and the install
                if not self._latest.loaded(query.measurement):
                    self._load_latest(query.measurement, self._columns[query.measurement])
        return self._latest.query(query.measurement, fields, query.where)

    def _load_latest(self, table: str, columns: dict[str, str]) -> None:
        tag_keys = [c for c, kind in columns.items() if kind == TAG]
        fields = [c for c, kind in columns.items() if c not in _RESERVED and kind != TAG]
        if not fields:
            self._latest.load(table, [])
            return
        selected = [
            f"arg_max({_quote(f)}, time) FILTER (WHERE {_quote(f)} IS NOT NULL), "
            f"epoch_ns(max(time) FILTER (WHERE {_quote(f)} IS NOT NULL))"
            for f in fields
        ]
        sql = f"""
            SELECT {", ".join(["series", *(_quote(t) for t in tag_keys), *selected])}
            FROM {_quote(table)} GROUP BY ALL"""

        def rows() -> Iterator[tuple[str, dict[str, str], str, int, FieldValue]]:
            for row in self._cursor().execute(sql).fetchall():
                tags = {k: v for k, v in zip(tag_keys, row[1:], strict=False) if v is not None}
                base = 1 + len(tag_keys)
                for index, field in enumerate(fields):
                    value, time_ns = row[base + 2 * index], row[base + 2 * index + 1]
                    if time_ns is not None:
                        yield row[0], tags, field, time_ns, value

        self._latest.load(table, rows())

    def points(self, query: PointsQuery) -> list[PointRow]:
        with self._reading():
            if query.measurement in self._rollup_sources:
                self._rollups_current(query.measurement)
            return self._consistent(lambda: self._points(query))

    def _points(self, query: PointsQuery) -> list[PointRow]:
        # a status flush reads in its transaction's snapshot: with that schema, not the one
        # published since (a table or column a batch added meanwhile is not in its snapshot)
        columns = (getattr(self._local, "columns", None) or self._columns).get(query.measurement)
        if columns is None:
            return []
        fields = [
            f
            for f in dict.fromkeys(query.fields or columns)
            if f not in _RESERVED and columns.get(f, TAG) != TAG
        ]
        filters = self._where(columns, query.where)
        if not fields or filters is None:
            return []
        clauses, params = filters
        tag_keys = [c for c, kind in columns.items() if kind == TAG]
        present = " OR ".join(f"{_quote(f)} IS NOT NULL" for f in fields)
        conditions = " AND ".join([f"({present})", *clauses])
        selected = ", ".join(
            ["epoch_ns(time)", *(_quote(t) for t in tag_keys), *(_quote(f) for f in fields)]
        )
        sql = f"""
            SELECT {selected} FROM {_quote(query.measurement)}
            WHERE time >= make_timestamp_ns(?) AND time < make_timestamp_ns(?) AND {conditions}
            ORDER BY time, series LIMIT {int(query.limit)}"""
        rows = self._cursor().execute(sql, [query.start_ns, query.end_ns, *params]).fetchall()
        base = 1 + len(tag_keys)
        return [
            PointRow(
                tags={k: v for k, v in zip(tag_keys, row[1:base], strict=True) if v is not None},
                time_ns=row[0],
                fields={f: v for f, v in zip(fields, row[base:], strict=True) if v is not None},
            )
            for row in rows
        ]

    def catalog(self) -> Catalog:
        for table in list(self._pending):  # the rollups it lists hold every committed point
            self._rollups_current(table)
        with self._reading():
            return self._consistent(self._catalog)

    def _catalog(self) -> Catalog:
        cursor = self._cursor()
        measurements: list[MeasurementInfo] = []
        devices: list[DeviceInfo] = []
        for table, columns in sorted(self._columns.items()):
            quoted = _quote(table)
            points, series, first, last = cursor.execute(
                f"SELECT count(*), count(DISTINCT series), epoch_ns(min(time)), "
                f"epoch_ns(max(time)) FROM {quoted}"
            ).fetchone() or (0, 0, None, None)
            tag_keys = [c for c, kind in columns.items() if kind == TAG]
            measurements.append(
                MeasurementInfo(
                    name=table,
                    fields={
                        c: _KIND[kind]
                        for c, kind in columns.items()
                        if c not in _RESERVED and kind != TAG
                    },
                    tag_keys=tag_keys,
                    series=series,
                    points=points,
                    first_ns=first,
                    last_ns=last,
                )
            )
            # a rollup's rows carry the device tag too, but they are not what a device sent
            if columns.get("device") == TAG and table not in self._rollups.names:
                for device, first_seen, last_seen, count in cursor.execute(
                    f"SELECT device, epoch_ns(min(time)), epoch_ns(max(time)), count(*) "
                    f"FROM {quoted} WHERE device IS NOT NULL GROUP BY device ORDER BY device"
                ).fetchall():
                    devices.append(DeviceInfo(device, table, first_seen, last_seen, count))
        return Catalog(measurements, devices)

    def ping(self) -> None:
        try:
            if self._broken is not None:
                with self._write_lock:
                    if self._broken is not None:
                        self._reopen()
            self._cursor().execute("SELECT 1").fetchone()
        except duckdb.Error as error:
            self._broken = str(error)
            raise StoreUnavailable(f"DuckDB file {self._path} is not usable: {error}") from error

    def close(self) -> None:
        self._closing.set()
        if self._flusher is not None:
            self._flusher.join()
        with self._write_lock:
            with self._cursors_lock:
                cursors, self._cursors = self._cursors, []
            for cursor in cursors:
                with contextlib.suppress(Exception):
                    cursor.close()
            self._con.close()


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while an answer's objects are made: hundreds of
    thousands of buckets (none in a cycle) otherwise set off collections that scan them all
    again and again (measured: 365k buckets in 60 ms paused, 140 to 290 ms not). Another
    thread's pause ending first only lets the collector run earlier."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _concatenated(early: list[SeriesResult], late: list[SeriesResult]) -> list[SeriesResult]:
    """The answers of two queries whose windows follow each other as one: each group's
    windows in time order, the groups in the order they first appear."""
    merged: dict[tuple[tuple[str, str], ...], list[Bucket]] = {}
    for series in (*early, *late):
        merged.setdefault(tuple(series.tags.items()), []).extend(series.buckets)
    return [SeriesResult(dict(key), buckets) for key, buckets in merged.items()]


def _to_series(rows: list[tuple[Any, ...]], group_by: tuple[str, ...]) -> list[SeriesResult]:
    series: dict[tuple[str, ...], list[Bucket]] = {}
    for row in rows:
        key = tuple(row[1 : 1 + len(group_by)])
        value = row[-1]
        series.setdefault(key, []).append(
            Bucket(
                int(row[0]),
                float(value)
                if isinstance(value, int | float) and not isinstance(value, bool)
                else value,
            )
        )
    return [
        SeriesResult(dict(zip(group_by, key, strict=True)), buckets)
        for key, buckets in series.items()
    ]
