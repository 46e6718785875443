"""The production store: InfluxDB (1.x, 2.x, 3.x) written in line protocol, read in InfluxQL.

**Writes.** ``influx_api = "v2"``: the v2 write API through ``influxdb-client`` (synchronous,
one request per batch, nanosecond precision), which InfluxDB 2.x and 3.x and other
line-protocol engines (VictoriaMetrics) accept. ``influx_api = "v1"``: InfluxDB 1.x's
``/write?db=&rp=&precision=ns``. The lines come from :mod:`hub.stores.line_protocol`
(which also says which points line protocol cannot carry: those are refused with a reason);
the InfluxQL statements and the parsing of their answers from :mod:`hub.stores.influxql`.

Same measurement, tags and time written twice is one point; fields merge (InfluxDB's own rule).

**Rollups' retention policy** (``rollup_policy``, InfluxDB 1.x, where the hub manages retention:
:mod:`hub.stores.influx_retention`): rollup points and the ``rollup_coverage`` record are
written with ``rp=<rollup_policy>`` and every statement names them qualified
(``"rollups"."building_energy_1h"``, :meth:`InfluxDBStore._source`), so they outlive the raw
points. The store looks the policy up before its first rollup read or write. When it is missing
(the hub's user has no admin rights to create it) the store falls back to the raw points'
policy, as before the rollups had their own, and logs an error naming the setting and the
statement an admin runs: ingest and ``/ready`` do not wait on an admin, the rollups written
meanwhile expire with the raw points. It looks again every minute; once the policy exists it
switches to it, and records the rollups' coverage there anew (so older periods are answered
from raw points until ``cityhub rollups rebuild`` recomputes them into the policy). ``None``
(2.x and 3.x: one bucket, its retention not managed here) keeps them in the bucket.

**Refused points.** When the server refuses a batch (HTTP 400 or 422: a field type conflict, a
point outside the retention policy, an unparsable line), the batch is split in halves
recursively until each refused point stands alone; it comes back as a ``RefusedPoint`` with the
server's message. The good points are stored (InfluxDB applies a partial write already, and the
halves that are resent are idempotent). A batch with ``k`` bad points of ``n`` costs about
``2 k log2 n`` extra requests. Connection errors, timeouts, 5xx, 401/403/404 raise
``StoreUnavailable``: the batch is retried later, never dead-lettered for an outage.

**Queries**, all InfluxQL on ``/query`` (``db=<bucket>``, ``epoch=ns``), no Flux:

* aggregate: ``SHOW FIELD KEYS FROM m`` (the field's type) and ``SELECT MEAN|SUM|MIN|MAX|COUNT|
  FIRST|LAST|PERCENTILE(f) ... WHERE time >= start AND time < end AND ("tag"::tag = '...')
  GROUP BY time(<every>ns), "tags" fill(none)`` in one request; the server does the work.
* increase: InfluxQL cannot say "after a decrease count from zero", so it is computed here from
  ``SELECT LAST(f) ... WHERE time in [start - lookback, start) GROUP BY *`` (one anchor reading
  per series) and ``SELECT f ... WHERE time in [start, end) GROUP BY *`` (every raw reading in
  the range, streamed in chunks). Cost: every reading of the range crosses the network as JSON
  (about 40 bytes each) and is summed in Python, roughly 1 s per million readings, against a
  server-side aggregate for the other functions. Ask for narrow ranges or few series.
* sum of means: one subquery, ``SELECT SUM("mean") FROM (SELECT MEAN(f) ... GROUP BY
  time(<every>ns), "series tags" fill(none)) WHERE time >= <first window> ... GROUP BY
  time(<every>ns) fill(none)``: the server averages each series and sums the means, one row
  per window comes back.
* latest: ``SELECT LAST(f) ... GROUP BY *`` per field (one statement each, so each value keeps
  its own time), in one request after ``SHOW FIELD KEYS`` when every field is wanted.
* points: ``SHOW FIELD KEYS FROM m; SHOW TAG KEYS FROM m``, then ``SELECT "f"::field, ...,
  "t"::tag, ... FROM m WHERE time in [start, end) AND (tags) ORDER BY time ASC LIMIT n``
  (streamed in chunks; InfluxQL answers only the points that carry a selected field, and a tag
  a point lacks as null). InfluxDB orders points of one instant by its own rule, so they are
  sorted here by series key; when the answer is cut at ``n``, the points of its last instant
  are read again in full (``WHERE time = t``) so the cut falls where the contract puts it.
* catalog: ``SHOW MEASUREMENTS``, ``SHOW FIELD KEYS``, ``SHOW TAG KEYS``, then ``SELECT COUNT(*)
  FROM /.*/ GROUP BY *`` and ``SELECT * FROM /.*/ GROUP BY * ORDER BY time ASC|DESC LIMIT 1``:
  a scan of every series (fine for an operator's catalog page, not for a hot path). A series'
  point count is the largest count of any of its fields, exact when every point of a series
  carries the same fields (as every adapter writes them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from time import monotonic, time_ns
from typing import Any, Literal
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from hub.contracts import RefusedPoint
from hub.errors import QueryError, StoreUnavailable
from hub.increase import counter_step
from hub.points import FieldValue, Point, series_key
from hub.query import (
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
from hub.retention import COVERAGE_MEASUREMENT, DAY_NS, ROLLUP_SETTING
from hub.rollups import RollupPlan, rollup_field, rollup_for
from hub.rollups import status as status_rollups
from hub.rollups.plan import STATUS_MEASUREMENT
from hub.rollups.split import split_aggregate
from hub.stores import influx_rollups
from hub.stores.influxql import (
    ANY_TYPE,
    FUNCTIONS,
    devices_by_series,
    error_message,
    field_types,
    influxql_identifier,
    influxql_string,
    json_documents,
    json_number,
    merge_series,
    ordered,
    series_of,
    series_times,
    tag_conditions,
    time_range,
)
from hub.stores.line_protocol import encode_line, point_problem

# encode_line and the quoting functions stay importable from here, where callers found them.
__all__ = ["InfluxDBStore", "encode_line", "influxql_identifier", "influxql_string"]

_REFUSED_STATUS = frozenset({400, 422})
_TOO_LARGE = 413
_CHUNK_ROWS = 10_000
_COVERAGE_TTL_S = 60.0  # how long a reader trusts the rollup coverage it read
_POLICY_RECHECK_S = 60.0  # how often a missing rollups' policy is looked for again

log = logging.getLogger(__name__)


def _first_time(block: dict) -> int:
    return int(block["values"][0][0]) if block.get("values") else 0


class _Refusal(Exception):
    """The server refused a request for its content (HTTP 400/422/413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class InfluxDBStore:
    """A :class:`hub.contracts.Store` on an InfluxDB server (or another line-protocol engine
    for writes). ``bucket`` is the database InfluxQL queries name (v1: the database)."""

    def __init__(
        self,
        url: str,
        bucket: str,
        *,
        api: Literal["v2", "v1"] = "v2",
        token: str | None = None,
        org: str = "",
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        rollups: RollupPlan | None = None,
        rollup_policy: str | None = None,
    ) -> None:
        self._rollups = rollups or RollupPlan({})
        # The policy rollups should go to (1.x), and the one they go to: None (the raw
        # points') until it was found on the server (:meth:`_check_rollup_policy`).
        self._wanted_policy = rollup_policy if api == "v1" else None
        self._rollup_policy: str | None = None
        self._policy_checked_at: float | None = None
        self._covered: dict[str, int] | None = None  # read from the server when first needed
        self._covered_at = 0.0
        self._coverage_recorded = False
        self._coverage_written_ns = 0  # when this store last wrote every coverage record
        self._url = url.rstrip("/")
        self._bucket = bucket
        self._api = api
        self._org = org
        self._retention_policy = retention_policy
        self._timeout = urllib3.Timeout(connect=min(timeout_s, 5.0), read=timeout_s)
        self._headers: dict[str, str] = {}
        # The settings a 401/403 points at: those in use, or those this API version takes.
        self._credentials = (
            "CITYHUB_STORE__INFLUX_TOKEN"
            if token or (api == "v2" and not username)
            else "CITYHUB_STORE__INFLUX_USERNAME and CITYHUB_STORE__INFLUX_PASSWORD"
        )
        if token:
            self._headers["Authorization"] = f"Token {token}"
        elif username:
            self._headers.update(urllib3.make_headers(basic_auth=f"{username}:{password or ''}"))
        self._http = urllib3.PoolManager(retries=False, timeout=self._timeout)
        self._client: Any = None
        self._write_api: Any = None
        if api == "v2":
            from influxdb_client import InfluxDBClient
            from influxdb_client.client.write_api import SYNCHRONOUS

            self._client = InfluxDBClient(
                url=self._url,
                token=token or "",
                org=org,
                timeout=int(timeout_s * 1000),
                retries=False,
            )
            self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    # -- writing --------------------------------------------------------------------------

    def write(self, points: Sequence[Point]) -> list[RefusedPoint]:
        refused: list[RefusedPoint] = []
        lines: list[tuple[Point, str]] = []
        for point in points:
            problem = point_problem(point)
            if problem:
                refused.append(RefusedPoint(point, problem))
            else:
                lines.append((point, encode_line(point)))
        if lines:
            if self._rollups:
                self._check_rollup_policy()
            if self._rollups and (
                not self._coverage_recorded or time_ns() - self._coverage_written_ns > DAY_NS
            ):
                self._record_coverage()  # decided before the first raw point lands
            refused += self._write_isolating(lines)
            if self._rollups:
                self._roll_up([point for point, _ in lines], refused)
        return refused

    # -- rollups (hub.stores.influx_rollups) ----------------------------------------------

    def _roll_up(self, points: list[Point], refused: list[RefusedPoint]) -> None:
        refused_ids = {id(r.point) for r in refused}
        by_measurement: dict[str, list[Point]] = {}
        for point in points:
            if self._rollups.of(point.measurement) and id(point) not in refused_ids:
                by_measurement.setdefault(point.measurement, []).append(point)
        for measurement, written in by_measurement.items():
            influx_rollups.roll_up(
                self._query, self._post_points, self._source, self._rollups.of(measurement), written
            )
        if self._rollups.status:
            written = [point for point in points if id(point) not in refused_ids]
            touched = status_rollups.touched_by(written)
            if touched:
                status_rollups.recompute(
                    self.points, self._post_points, self._rollups.status, touched
                )

    def _post_points(self, points: list[Point]) -> None:
        """Write rollup points (or the coverage record) to the rollups' policy. A row the
        server refuses for its content (older than the policy keeps, say) is logged, never
        raised: the raw points it comes from are stored, and raising would stall ingest
        behind a row that will never be accepted."""
        for start in range(0, len(points), 5000):
            lines = [(p, encode_line(p)) for p in points[start : start + 5000]]
            for refused in self._write_isolating(lines, self._rollup_policy):
                log.error(
                    "InfluxDB refused the rollup row %s at %s: %s (it stays missing: check "
                    "CITYHUB_RETENTION__ROLLUP_DAYS against the rollups' retention policy)",
                    refused.point.measurement, refused.point.time_ns, refused.reason,
                )  # fmt: skip

    def _is_rollup(self, measurement: str) -> bool:
        return measurement in self._rollups.names or measurement == COVERAGE_MEASUREMENT

    def _source(self, measurement: str) -> str:
        """``measurement`` as an InfluxQL statement names it: a rollup qualified with the
        rollups' policy when they have one, else as it is (the ``rp`` of the query)."""
        name = influxql_identifier(measurement)
        if self._wanted_policy is None or not self._is_rollup(measurement):
            return name
        self._check_rollup_policy()  # a rollup read first (``points`` of ``..._1h``) asks too
        if self._rollup_policy:
            return f"{influxql_identifier(self._rollup_policy)}.{name}"
        return name

    def _missing_policy(self, message: str) -> bool:
        policy = self._rollup_policy
        return policy is not None and f"retention policy not found: {policy}" in message

    def _check_rollup_policy(self) -> None:
        """Look up the rollups' policy: before the first rollup read or write, then every
        :data:`_POLICY_RECHECK_S` while it is missing. Found after a fallback: rollups go
        there from now on, with their coverage recorded there anew."""
        if self._wanted_policy is None or self._rollup_policy is not None:
            return
        now = monotonic()
        checked = self._policy_checked_at
        if checked is not None and now - checked < _POLICY_RECHECK_S:
            return
        database = influxql_identifier(self._bucket)
        (answer,) = self._query([f"SHOW RETENTION POLICIES ON {database}"])
        self._policy_checked_at = now
        names = {str(row[0]) for block in answer for row in block.get("values", [])}
        if self._wanted_policy in names:
            self._rollup_policy = self._wanted_policy
            if checked is not None:  # fell back until now
                log.info("rollups now go to the retention policy %r", self._rollup_policy)
                self._covered, self._coverage_recorded = None, False
        elif checked is None:
            policy = influxql_identifier(self._wanted_policy)
            log.error(
                "%s: retention policy %s missing on database %s, so rollups are kept in the "
                "raw points' policy and expire with them; give the hub's InfluxDB user admin "
                "rights, or have an admin run `CREATE RETENTION POLICY %s ON %s DURATION "
                "<days>d|INF REPLICATION 1` (looked for again every minute)",
                ROLLUP_SETTING, policy, database, policy, database,
            )  # fmt: skip

    @property
    def rollup_coverage(self) -> dict[str, int]:
        """Each rollup's name and the first instant from which it holds every interval, as
        recorded in the measurement ``rollup_coverage`` (tag ``rollup``, field ``since_ns``)
        by the store that writes (an API-only process reads it, again after
        :data:`_COVERAGE_TTL_S`, and never decides it: a rollup without a record is not
        used)."""
        self._check_rollup_policy()
        now = monotonic()
        if self._covered is None or now - self._covered_at > _COVERAGE_TTL_S:
            source = self._source(COVERAGE_MEASUREMENT)
            (rows,) = self._query([f'SELECT LAST("since_ns") FROM {source} GROUP BY *'])
            self._covered = {
                (block.get("tags") or {}).get("rollup", ""): int(block["values"][0][1])
                for block in rows
                if block.get("values")
            }
            self._covered_at = now
        return dict(self._covered)

    def _record_coverage(self) -> None:
        """Before this store writes its first point: record the coverage of each rollup that
        has none. A new rollup covers everything on a database without its raw measurement,
        else the intervals from the one after the next on (earlier ones may hold raw points
        it has not seen: ``rebuild_rollups`` covers them). The records that exist are written
        again, at the current time, as they are each day after (:meth:`write`): a record is
        a point, which a finite retention policy drops once it is older than the policy."""
        covered = self.rollup_coverage
        missing = [rollup for rollup in self._rollups if rollup.name not in covered]
        since = {r.name: covered[r.name] for r in self._rollups if r.name in covered}
        now = time_ns()
        if missing:
            (names,) = self._query(["SHOW MEASUREMENTS"])
            present = {name for block in names for (name, *_) in block.get("values", [])}
            for r in missing:
                since[r.name] = (
                    -(2**62)
                    if r.measurement not in present
                    else now - now % r.interval_ns + 2 * r.interval_ns
                )
        self.set_rollup_coverage(since)
        self._coverage_written_ns = now
        self._coverage_recorded = True

    def rebuild_rollups(
        self, since_ns: int, progress: Callable[[str, int, int], None] | None = None
    ) -> dict[str, int]:
        """Recompute every rollup from the raw points from ``since_ns`` on (rounded down to
        the coarsest interval) to now, one coarsest interval at a time, then record that the
        rollups cover everything from there (see ``DuckDBStore.rebuild_rollups``)."""
        self._check_rollup_policy()
        if not self._coverage_recorded:
            self._record_coverage()
        covered = self.rollup_coverage
        end = time_ns()
        for measurement, rollups in self._rollups.by_measurement.items():
            chunk = rollups[-1].interval_ns
            start = since_ns - since_ns % chunk
            total = max(0, (end - start) // chunk + 1)
            for done in range(total):
                low = start + done * chunk
                influx_rollups.recompute(
                    self._query, self._post_points, self._source, rollups, low, low + chunk
                )
                if progress:
                    progress(measurement, done + 1, total)
            self.set_rollup_coverage(
                {r.name: min(covered.get(r.name, start), start) for r in rollups}
            )
        if self._rollups.status:
            self._rebuild_status(since_ns, end, covered, progress)
        return self.rollup_coverage

    def _rebuild_status(
        self,
        since_ns: int,
        end_ns: int,
        covered: dict[str, int],
        progress: Callable[[str, int, int], None] | None,
    ) -> None:
        """The status rollups' part of :meth:`rebuild_rollups` (:mod:`hub.rollups.status`)."""
        rollups = self._rollups.status
        chunk = rollups[-1].interval_ns
        start = since_ns - since_ns % chunk
        total = max(0, (end_ns - start) // chunk + 1)
        for done in range(total):
            low = start + done * chunk
            status_rollups.rebuild(self.points, self._post_points, rollups, low, low + chunk)
            if progress:
                progress(STATUS_MEASUREMENT, done + 1, total)
        self.set_rollup_coverage({r.name: min(covered.get(r.name, start), start) for r in rollups})

    def set_rollup_coverage(self, since_ns: dict[str, int]) -> None:
        """Record that each named rollup holds every interval from its ``since_ns`` on. The
        record is stamped with the present (``LAST`` reads the newest): at time 0 it lay
        beyond any retention policy, InfluxDB refused it, and ingest behind it stalled (and
        :meth:`_record_coverage` writes it again daily, so a finite policy never drops it)."""
        now_ns = time_ns()
        self._post_points(
            [
                Point(COVERAGE_MEASUREMENT, {"rollup": name}, {"since_ns": float(since)}, now_ns)
                for name, since in since_ns.items()
            ]
        )
        if self._covered is not None:
            self._covered.update(since_ns)

    def _write_isolating(
        self, lines: list[tuple[Point, str]], policy: str | None = None
    ) -> list[RefusedPoint]:
        """Write ``lines`` (to ``policy``); the points the server refuses for their content,
        found by halving the batch, are returned (the rest is written)."""
        try:
            self._post_lines([line for _, line in lines], policy)
        except _Refusal as refusal:
            if len(lines) == 1:  # refused alone: it will never be accepted
                return [RefusedPoint(lines[0][0], refusal.message)]
            middle = len(lines) // 2
            return self._write_isolating(lines[:middle], policy) + self._write_isolating(
                lines[middle:], policy
            )
        return []

    def _post_lines(self, lines: list[str], policy: str | None = None) -> None:
        """Write ``lines``; ``policy`` (1.x) instead of the raw points' retention policy."""
        body = "\n".join(lines).encode()
        if self._api == "v2":
            self._post_v2(body)
        else:
            self._post_v1(body, policy)

    def _post_v2(self, body: bytes) -> None:
        from influxdb_client.client.write_api import WritePrecision
        from influxdb_client.rest import ApiException

        try:
            self._write_api.write(
                bucket=self._bucket, org=self._org, record=body, write_precision=WritePrecision.NS
            )
        except ApiException as error:
            text = error.body.decode(errors="replace") if isinstance(error.body, bytes) else ""
            self._raise_for(int(error.status or 0), str(text or error.body or error.reason))
        except (Urllib3Error, OSError) as error:
            raise StoreUnavailable(f"InfluxDB at {self._url} unreachable: {error}") from error

    def _post_v1(self, body: bytes, policy: str | None = None) -> None:
        fields = {"db": self._bucket, "precision": "ns"}
        if policy or self._retention_policy:
            fields["rp"] = policy or self._retention_policy or ""
        response = self._request("POST", "/write", fields, body=body)
        if response.status != 204:
            self._raise_for(response.status, response.data.decode(errors="replace"))

    def _raise_for(self, status: int, body: str) -> None:
        message = error_message(body)
        if status in _REFUSED_STATUS or status == _TOO_LARGE:
            raise _Refusal(status, message)
        if self._missing_policy(message):
            raise self._no_rollup_policy(message)
        raise self._unavailable(status, body)

    def _no_rollup_policy(self, message: str) -> StoreUnavailable:
        """The rollups' policy vanished after it was found (dropped by hand): the batch is
        retried, and the policy looked up again, falling back to the raw points' policy."""
        self._rollup_policy, self._policy_checked_at = None, None
        self._covered, self._coverage_recorded = None, False
        return StoreUnavailable(
            f"{message} on database {self._bucket!r} ({ROLLUP_SETTING}): rollups fall back to "
            "the raw points' policy until it exists again"
        )

    # -- HTTP -----------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, fields: dict[str, str], body: bytes | None = None
    ) -> urllib3.BaseHTTPResponse:
        """One HTTP request; ``fields`` go in the URL, or form-encoded in the body of a POST
        without ``body`` (InfluxQL statements can be longer than a URL)."""
        url = self._url + path
        try:
            if method == "POST" and body is None:
                return self._http.request_encode_body(
                    method, url, fields=fields, headers=self._headers, encode_multipart=False
                )
            if fields:
                url += "?" + urlencode(fields)
            headers = self._headers
            if body is not None:
                headers = {**headers, "Content-Type": "text/plain; charset=utf-8"}
            return self._http.request(method, url, body=body, headers=headers)
        except (Urllib3Error, OSError) as error:
            raise StoreUnavailable(f"InfluxDB at {self._url} unreachable: {error}") from error

    def _query(self, statements: Sequence[str], chunked: bool = False) -> list[list[dict]]:
        """The series of each statement, in order; a statement's error raises ``QueryError``."""
        fields = {"db": self._bucket, "epoch": "ns", "q": ";\n".join(statements)}
        if self._retention_policy:
            fields["rp"] = self._retention_policy
        if chunked:
            fields |= {"chunked": "true", "chunk_size": str(_CHUNK_ROWS)}
        response = self._request("POST", "/query", fields)
        text = response.data.decode(errors="replace")
        if response.status == 400:
            raise QueryError(f"InfluxQL refused: {error_message(text)}")
        if response.status != 200:
            raise self._unavailable(response.status, text)
        results: list[list[dict]] = [[] for _ in statements]
        for document in json_documents(text):
            if "error" in document:
                raise QueryError(f"InfluxQL refused: {document['error']}")
            for result in document.get("results", []):
                if "error" in result:
                    raise QueryError(f"InfluxQL refused: {result['error']}")
                merge_series(results[result.get("statement_id", 0)], result.get("series", []))
        return results

    def statements(self, statements: Sequence[str]) -> list[list[dict]]:
        """Run InfluxQL ``statements`` (``SHOW``, ``CREATE RETENTION POLICY``...) on the
        database; the series of each. A refused statement raises ``QueryError``."""
        return self._query(statements)

    # -- queries --------------------------------------------------------------------------

    def aggregate(self, query: AggregateQuery) -> list[SeriesResult]:
        if any(not values for values in query.where.values()):
            return []
        if self._rollups.of(query.measurement):
            split = split_aggregate(query, self._rollups, self.rollup_coverage, self._aggregate_one)
            if split is not None:
                return split
        return self._aggregate_one(query)

    def _aggregate_one(self, query: AggregateQuery) -> list[SeriesResult]:
        """``query`` from the rollup that answers it exactly, else from raw points."""
        if self._rollups.of(query.measurement):
            rollup = rollup_for(query, self._rollups, self.rollup_coverage)
            if rollup is not None and self._rolls_up(rollup.name, query.field):
                return influx_rollups.aggregate_from_rollup(
                    self._query, self._source, self._aggregate_raw, query, rollup
                )
        return self._aggregate_raw(query)

    def _rolls_up(self, rollup: str, field: str) -> bool:
        """Whether ``rollup`` holds statistics of ``field`` (a numeric field of its source)."""
        (keys,) = self._query([f"SHOW FIELD KEYS FROM {self._source(rollup)}"])
        return rollup_field(field, "count") in field_types(keys)

    def _aggregate_raw(self, query: AggregateQuery) -> list[SeriesResult]:
        measurement = self._source(query.measurement)
        field = influxql_identifier(query.field)
        conditions = tag_conditions(query.where)
        group_tags = ", ".join(influxql_identifier(tag) for tag in query.group_by)
        if query.function == "increase":
            return self._increase(query, measurement, field, conditions)
        function = FUNCTIONS[query.function]
        argument = f"{field}, {query.percentile!r}" if query.function == "percentile" else field
        groups = [f"time({query.every_ns}ns)"] if query.every_ns else []
        if group_tags:
            groups.append(group_tags)
        select = (
            f"SELECT {function}({argument}) FROM {measurement} WHERE "
            f"{time_range(query.start_ns, query.end_ns)}{conditions}"
            + (f" GROUP BY {', '.join(groups)}" if groups else "")
            + " fill(none)"
        )
        field_keys, series = self._query([f"SHOW FIELD KEYS FROM {measurement}", select])
        if not self._check_field(query, field_types(field_keys)):
            return []
        results = []
        for block in series:
            tags = block.get("tags") or {}
            buckets = [
                Bucket(int(time) if query.every_ns else query.start_ns, json_number(value))
                for time, value in block.get("values", [])
                if value is not None
            ]
            if buckets:
                results.append(
                    SeriesResult({tag: tags.get(tag, "") for tag in query.group_by}, buckets)
                )
        return ordered(results, query.group_by)

    def sum_of_means(self, query: SumOfMeansQuery) -> list[Bucket]:
        if any(not values for values in query.where.values()):
            return []
        measurement = self._source(query.measurement)
        every = f"time({query.every_ns}ns)"
        groups = ", ".join([every, *(influxql_identifier(tag) for tag in query.series_by)])
        # The inner windows start on the epoch grid, so the first may start before start_ns:
        # the outer range begins at that window, or it would drop it.
        first_window = query.start_ns - query.start_ns % query.every_ns
        inner = (
            f"SELECT MEAN({influxql_identifier(query.field)}) FROM {measurement} WHERE "
            f"{time_range(query.start_ns, query.end_ns)}{tag_conditions(query.where)} "
            f"GROUP BY {groups} fill(none)"
        )
        select = (
            f'SELECT SUM("mean") FROM ({inner}) WHERE {time_range(first_window, query.end_ns)} '
            f"GROUP BY {every} fill(none)"
        )
        field_keys, series = self._query([f"SHOW FIELD KEYS FROM {measurement}", select])
        kind = field_types(field_keys).get(query.field)
        if kind is None:
            return []
        if kind != "float":
            raise QueryError(f"mean needs a numeric field; {query.field!r} is {kind}")
        return [
            Bucket(int(time), float(value))
            for block in series
            for time, value in block.get("values", [])
            if value is not None
        ]

    @staticmethod
    def _check_field(query: AggregateQuery, types: dict[str, str]) -> bool:
        """``False`` when the field is unknown; ``QueryError`` when its type cannot be used."""
        kind = types.get(query.field)
        if kind is None:
            return False
        if kind != "float" and query.function not in ANY_TYPE:
            raise QueryError(f"{query.function} needs a numeric field; {query.field!r} is {kind}")
        return True

    def _increase(
        self, query: AggregateQuery, measurement: str, field: str, conditions: str
    ) -> list[SeriesResult]:
        anchor_start = max(query.start_ns - query.counter_lookback_ns, -(2**63) + 2)
        field_keys, anchors, readings = self._query(
            [
                f"SHOW FIELD KEYS FROM {measurement}",
                f"SELECT LAST({field}) FROM {measurement} WHERE "
                f"{time_range(anchor_start, query.start_ns)}{conditions} GROUP BY *",
                f"SELECT {field} FROM {measurement} WHERE "
                f"{time_range(query.start_ns, query.end_ns)}{conditions} GROUP BY *",
            ],
            chunked=True,
        )
        if not self._check_field(query, field_types(field_keys)):
            return []
        previous: dict[str, float] = {}
        for block in anchors:
            for _, value in block.get("values", []):
                if value is not None:
                    previous[series_of(block)] = float(value)
        sums: dict[tuple[str, ...], dict[int, float]] = {}
        for block in readings:
            tags = block.get("tags") or {}
            group = tuple(tags.get(tag, "") for tag in query.group_by)
            windows = sums.setdefault(group, {})
            before = previous.get(series_of(block))
            for time, value in block.get("values", []):
                if value is None:
                    continue
                reading = float(value)
                window = query.window_start(int(time))
                windows[window] = windows.get(window, 0.0) + counter_step(before, reading)
                before = reading
        results = [
            SeriesResult(
                dict(zip(query.group_by, group, strict=True)),
                [Bucket(time, value) for time, value in sorted(windows.items())],
            )
            for group, windows in sums.items()
            if windows
        ]
        return ordered(results, query.group_by)

    def latest(self, query: LatestQuery) -> list[LatestRow]:
        if any(not values for values in query.where.values()):
            return []
        measurement = self._source(query.measurement)
        (field_keys,) = self._query([f"SHOW FIELD KEYS FROM {measurement}"])
        known = field_types(field_keys)
        fields = [name for name in (query.fields or tuple(known)) if name in known]
        if not fields:
            return []
        conditions = tag_conditions(query.where)
        where = f" WHERE {conditions.removeprefix(' AND ')}" if conditions else ""
        answers = self._query(
            [
                f"SELECT LAST({influxql_identifier(name)}) FROM {measurement}{where} GROUP BY *"
                for name in fields
            ]
        )
        rows: dict[str, tuple[dict[str, str], dict[str, tuple[int, FieldValue]]]] = {}
        for name, series in zip(fields, answers, strict=True):
            for block in series:
                tags = {k: v for k, v in (block.get("tags") or {}).items() if v}
                for time, value in block.get("values", []):
                    if value is not None:
                        entry = rows.setdefault(series_key(tags), (tags, {}))
                        entry[1][name] = (int(time), json_number(value))
        return [
            LatestRow(
                tags=tags,
                time_ns=max(time for time, _ in values.values()),
                fields={name: values[name][1] for name in fields if name in values},
            )
            for _, (tags, values) in sorted(rows.items())
        ]

    def points(self, query: PointsQuery) -> list[PointRow]:
        if any(not values for values in query.where.values()):
            return []
        measurement = self._source(query.measurement)
        field_keys, tag_keys = self._query(
            [f"SHOW FIELD KEYS FROM {measurement}", f"SHOW TAG KEYS FROM {measurement}"]
        )
        known = field_types(field_keys)
        fields = [name for name in dict.fromkeys(query.fields or tuple(known)) if name in known]
        if not fields:
            return []
        tags = sorted({value for block in tag_keys for (value, *_) in block.get("values", [])})
        columns = ", ".join(
            [f"{influxql_identifier(f)}::field" for f in fields]
            + [f"{influxql_identifier(t)}::tag" for t in tags]
        )
        conditions = tag_conditions(query.where)

        def read(time_condition: str, limit: str) -> list[PointRow]:
            (series,) = self._query(
                [f"SELECT {columns} FROM {measurement} WHERE {time_condition}{conditions}{limit}"],
                chunked=True,
            )
            rows = []
            for block in series:
                for time, *values in block.get("values", []):
                    rows.append(
                        PointRow(
                            tags={
                                t: v for t, v in zip(tags, values[len(fields) :], strict=True) if v
                            },
                            time_ns=int(time),
                            fields={
                                f: json_number(v)
                                for f, v in zip(fields, values[: len(fields)], strict=True)
                                if v is not None
                            },
                        )
                    )
            rows.sort(key=lambda row: (row.time_ns, series_key(row.tags)))
            return rows

        rows = read(
            time_range(query.start_ns, query.end_ns), f" ORDER BY time ASC LIMIT {query.limit}"
        )
        if len(rows) == query.limit:  # the cut may fall among the points of one instant
            last = rows[-1].time_ns
            rows = [row for row in rows if row.time_ns < last]
            rows += read(f"time = {last}", "")[: query.limit - len(rows)]
        return rows

    def catalog(self) -> Catalog:
        (names,) = self._query(["SHOW MEASUREMENTS"])
        if not any(block.get("values") for block in names):
            return Catalog([], [])
        # A regex source reads one policy: the raw points' (the query's rp), then the rollups'.
        policies = [""]
        if self._rollups.by_measurement:
            self._check_rollup_policy()
        if self._rollup_policy:
            policies.append(f"{influxql_identifier(self._rollup_policy)}.")
        answers = self._query(
            [
                statement.format(all=f"{policy}/.*/")
                for policy in policies
                for statement in (
                    "SHOW FIELD KEYS FROM {all}",
                    "SHOW TAG KEYS FROM {all}",
                    "SELECT COUNT(*) FROM {all} GROUP BY *",
                    "SELECT * FROM {all} GROUP BY * ORDER BY time ASC LIMIT 1",
                    "SELECT * FROM {all} GROUP BY * ORDER BY time DESC LIMIT 1",
                )
            ],
            chunked=True,
        )
        field_keys, tag_keys, counts, firsts, lasts = (
            [block for part in answers[kind::5] for block in part] for kind in range(5)
        )
        fields = {block["name"]: field_types([block]) for block in field_keys}
        tags = {
            block["name"]: sorted(value for (value,) in block.get("values", []))
            for block in tag_keys
        }
        points: dict[tuple[str, str], int] = {}
        for block in counts:
            for _, *values in block.get("values", []):
                count = max((int(v) for v in values if v is not None), default=0)
                key = (block["name"], series_of(block))
                points[key] = points.get(key, 0) + count
        # A series in both policies (rollups written before they had their own) spans both.
        first = series_times(sorted(firsts, key=_first_time, reverse=True))
        last = series_times(sorted(lasts, key=_first_time))
        device_of = devices_by_series(counts)
        measurements = []
        devices: dict[tuple[str, str], list[int]] = {}
        for name in sorted(fields):
            keys = [key for key in points if key[0] == name and points[key] > 0]
            measurements.append(
                MeasurementInfo(
                    name=name,
                    fields=fields[name],
                    tag_keys=tags.get(name, []),
                    series=len(keys),
                    points=sum(points[key] for key in keys),
                    first_ns=min((first[key] for key in keys if key in first), default=None),
                    last_ns=max((last[key] for key in keys if key in last), default=None),
                )
            )
            for key in keys if name not in self._rollups.names else ():
                device = device_of.get(key)
                if device and key in first and key in last:
                    seen = devices.setdefault((device, name), [first[key], last[key], 0])
                    seen[0] = min(seen[0], first[key])
                    seen[1] = max(seen[1], last[key])
                    seen[2] += points[key]
        return Catalog(
            measurements,
            [
                DeviceInfo(device, measurement, first_seen, last_seen, count)
                for (device, measurement), (first_seen, last_seen, count) in sorted(
                    devices.items(), key=lambda item: (item[0][1], item[0][0])
                )
            ],
        )

    def ping(self) -> None:
        """Prove the store with the hub's own credentials, as ``/ready`` promises: an empty
        write to the bucket (authentication, the bucket or database, the org and the write
        permission: InfluxDB checks them all before reading the body, and an empty body
        stores nothing), then an InfluxQL query on the database (read permission, and the
        DBRP mapping 2.x needs for InfluxQL). ``/ping`` needs no credentials: it proved only
        that the server answers. Failures name the setting to fix (:meth:`_unavailable`)."""
        if self._api == "v2":
            path, fields = "/api/v2/write", {"org": self._org, "bucket": self._bucket}
        else:
            path, fields = "/write", {"db": self._bucket}
            if self._retention_policy:
                fields["rp"] = self._retention_policy
        response = self._request("POST", path, fields | {"precision": "ns"}, body=b"")
        # 400: authorized, bucket found, the (empty) body refused by a stricter server.
        if response.status not in (200, 204, 400):
            raise self._unavailable(response.status, response.data.decode(errors="replace"))
        try:
            self._query(["SHOW MEASUREMENTS LIMIT 1"])
        except QueryError as error:
            raise StoreUnavailable(
                f"InfluxQL query on database {self._bucket!r} refused ({error}): check "
                "CITYHUB_STORE__INFLUX_BUCKET (InfluxDB 2.x: the bucket needs a DBRP mapping)"
            ) from None

    def _unavailable(self, status: int, body: str) -> StoreUnavailable:
        """The error for a non-refusal failure, naming the setting to check when the answer
        says which (401/403: the credentials, 404: the bucket or org)."""
        message = error_message(body)
        credentials = self._credentials
        if status == 401:
            hint = f'401 unauthorized for bucket "{self._bucket}" (check {credentials})'
        elif status == 403:
            hint = f'403 forbidden: no permission on bucket "{self._bucket}" (check {credentials})'
        elif status == 404:
            where = (
                f'bucket "{self._bucket}" or org "{self._org}" not found (check '
                "CITYHUB_STORE__INFLUX_BUCKET and CITYHUB_STORE__INFLUX_ORG)"
                if self._api == "v2"
                else f'database "{self._bucket}" not found (check CITYHUB_STORE__INFLUX_BUCKET)'
            )
            hint = f"404 {where}"
        else:
            hint = f"HTTP {status}"
        return StoreUnavailable(f"{hint}; InfluxDB at {self._url}: {message}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._http.clear()
