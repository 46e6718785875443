"""The production store: InfluxDB (1.x, 2.x, 3.x) written in line protocol, read in InfluxQL.

**Writes.** ``influx_api = "v2"``: the v2 write API through ``influxdb-client`` (synchronous,
one request per batch, nanosecond precision), which InfluxDB 2.x and 3.x and other
line-protocol engines (VictoriaMetrics) accept. ``influx_api = "v1"``: InfluxDB 1.x's
``/write?db=&rp=&precision=ns``. The line protocol is encoded here (see :func:`encode_line`)
because ``influxdb_client.Point`` gets three of our cases wrong: it writes a Python ``int`` as
an ``i`` integer (a field must stay float), silently drops NaN/Infinity fields (a point could
vanish without a trace), and escapes a newline in a tag value as ``\\n``, which InfluxDB stores
as a literal backslash-n. Tag values holding a backslash or a line break cannot be carried
unambiguously by line protocol (1.x keeps ``\\\\`` as two backslashes, a trailing backslash
escapes the separator): such points are refused with a reason rather than stored mangled.
Empty tag values are omitted (InfluxDB does not distinguish an empty tag from a missing one).

Same measurement, tags and time written twice is one point; fields merge (InfluxDB's own rule).

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

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from hub.contracts import RefusedPoint
from hub.errors import QueryError, StoreUnavailable
from hub.points import FieldValue, Point, naming_problem, series_key
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
)

__all__ = ["InfluxDBStore", "encode_line", "influxql_identifier", "influxql_string"]

_FUNCTIONS = {
    "mean": "MEAN",
    "sum": "SUM",
    "min": "MIN",
    "max": "MAX",
    "count": "COUNT",
    "first": "FIRST",
    "last": "LAST",
    "percentile": "PERCENTILE",
}
_ANY_TYPE = frozenset({"count", "first", "last"})  # the functions that accept bool and str
_KIND = {"float": "float", "integer": "float", "unsigned": "float", "boolean": "bool"}
_REFUSED_STATUS = frozenset({400, 422})
_TOO_LARGE = 413
_RESERVED = frozenset({"time"})
_CHUNK_ROWS = 10_000
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})
_UNCARRIABLE = ("\\", "\n", "\r")


def influxql_identifier(name: str) -> str:
    """``name`` as a double-quoted InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def influxql_string(value: str) -> str:
    """``value`` as a single-quoted InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _field_text(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    return repr(float(value))  # never an ``i`` integer: 2 is written 2.0


def _problem(point: Point) -> str | None:
    """Why ``point`` cannot be written as line protocol, or ``None``."""
    problem = naming_problem(point, _RESERVED)
    if problem:
        return problem
    for key, tag_value in point.tags.items():
        if any(character in tag_value for character in _UNCARRIABLE):
            return f"tag {key!r} holds a backslash or line break, which line protocol cannot carry"
    for name, value in point.fields.items():
        if isinstance(value, float) and not math.isfinite(value):
            return f"field {name!r} is {value}, not a finite number"
        if not isinstance(value, bool | str | float | int):
            return f"field {name!r} has unsupported type {type(value).__name__}"
    return None


def encode_line(point: Point) -> str:
    """One line of line protocol (nanosecond time) for a point :func:`_problem` accepts."""
    tags = "".join(
        f",{key.translate(_KEY_ESCAPES)}={value.translate(_KEY_ESCAPES)}"
        for key, value in sorted(point.tags.items())
        if value
    )
    fields = ",".join(
        f"{name.translate(_KEY_ESCAPES)}={_field_text(value)}"
        for name, value in sorted(point.fields.items())
    )
    return f"{point.measurement.translate(_MEASUREMENT_ESCAPES)}{tags} {fields} {point.time_ns}"


def _number(value: Any) -> Any:
    """InfluxDB's JSON writes 2.0 as ``2``: numbers come back as float, bool and str as is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


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
    ) -> None:
        self._url = url.rstrip("/")
        self._bucket = bucket
        self._api = api
        self._org = org
        self._retention_policy = retention_policy
        self._timeout = urllib3.Timeout(connect=min(timeout_s, 5.0), read=timeout_s)
        self._headers: dict[str, str] = {}
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
            problem = _problem(point)
            if problem:
                refused.append(RefusedPoint(point, problem))
            else:
                lines.append((point, encode_line(point)))
        if lines:
            refused += self._write_isolating(lines)
        return refused

    def _write_isolating(self, lines: list[tuple[Point, str]]) -> list[RefusedPoint]:
        try:
            self._post_lines([line for _, line in lines])
        except _Refusal as refusal:
            if len(lines) == 1:  # refused alone: it will never be accepted
                return [RefusedPoint(lines[0][0], refusal.message)]
            middle = len(lines) // 2
            return self._write_isolating(lines[:middle]) + self._write_isolating(lines[middle:])
        return []

    def _post_lines(self, lines: list[str]) -> None:
        body = "\n".join(lines).encode()
        if self._api == "v2":
            self._post_v2(body)
        else:
            self._post_v1(body)

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

    def _post_v1(self, body: bytes) -> None:
        fields = {"db": self._bucket, "precision": "ns"}
        if self._retention_policy:
            fields["rp"] = self._retention_policy
        response = self._request("POST", "/write", fields, body=body)
        if response.status != 204:
            self._raise_for(response.status, response.data.decode(errors="replace"))

    def _raise_for(self, status: int, body: str) -> None:
        message = _error_message(body)
        if status in _REFUSED_STATUS or status == _TOO_LARGE:
            raise _Refusal(status, message)
        raise StoreUnavailable(f"InfluxDB at {self._url} answered HTTP {status}: {message}")

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
            raise QueryError(f"InfluxQL refused: {_error_message(text)}")
        if response.status != 200:
            raise StoreUnavailable(
                f"InfluxDB at {self._url} answered HTTP {response.status}: {_error_message(text)}"
            )
        results: list[list[dict]] = [[] for _ in statements]
        for document in _json_documents(text):
            if "error" in document:
                raise QueryError(f"InfluxQL refused: {document['error']}")
            for result in document.get("results", []):
                if "error" in result:
                    raise QueryError(f"InfluxQL refused: {result['error']}")
                _merge_series(results[result.get("statement_id", 0)], result.get("series", []))
        return results

    # -- queries --------------------------------------------------------------------------

    def _field_types(self, series: list[dict]) -> dict[str, str]:
        types: dict[str, str] = {}
        for block in series:
            for name, kind in block.get("values", []):
                types.setdefault(name, _KIND.get(kind, "str"))
        return types

    def aggregate(self, query: AggregateQuery) -> list[SeriesResult]:
        if any(not values for values in query.where.values()):
            return []
        measurement = influxql_identifier(query.measurement)
        field = influxql_identifier(query.field)
        conditions = _tag_conditions(query.where)
        group_tags = ", ".join(influxql_identifier(tag) for tag in query.group_by)
        if query.function == "increase":
            return self._increase(query, measurement, field, conditions)
        function = _FUNCTIONS[query.function]
        argument = f"{field}, {query.percentile!r}" if query.function == "percentile" else field
        groups = [f"time({query.every_ns}ns)"] if query.every_ns else []
        if group_tags:
            groups.append(group_tags)
        select = (
            f"SELECT {function}({argument}) FROM {measurement} WHERE "
            f"{_time_range(query.start_ns, query.end_ns)}{conditions}"
            + (f" GROUP BY {', '.join(groups)}" if groups else "")
            + " fill(none)"
        )
        field_keys, series = self._query([f"SHOW FIELD KEYS FROM {measurement}", select])
        if not self._check_field(query, self._field_types(field_keys)):
            return []
        results = []
        for block in series:
            tags = block.get("tags") or {}
            buckets = [
                Bucket(int(time) if query.every_ns else query.start_ns, _number(value))
                for time, value in block.get("values", [])
                if value is not None
            ]
            if buckets:
                results.append(
                    SeriesResult({tag: tags.get(tag, "") for tag in query.group_by}, buckets)
                )
        return _ordered(results, query.group_by)

    @staticmethod
    def _check_field(query: AggregateQuery, types: dict[str, str]) -> bool:
        """``False`` when the field is unknown; ``QueryError`` when its type cannot be used."""
        kind = types.get(query.field)
        if kind is None:
            return False
        if kind != "float" and query.function not in _ANY_TYPE:
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
                f"{_time_range(anchor_start, query.start_ns)}{conditions} GROUP BY *",
                f"SELECT {field} FROM {measurement} WHERE "
                f"{_time_range(query.start_ns, query.end_ns)}{conditions} GROUP BY *",
            ],
            chunked=True,
        )
        if not self._check_field(query, self._field_types(field_keys)):
            return []
        previous: dict[str, float] = {}
        for block in anchors:
            for _, value in block.get("values", []):
                if value is not None:
                    previous[_series_of(block)] = float(value)
        sums: dict[tuple[str, ...], dict[int, float]] = {}
        for block in readings:
            tags = block.get("tags") or {}
            group = tuple(tags.get(tag, "") for tag in query.group_by)
            windows = sums.setdefault(group, {})
            before = previous.get(_series_of(block))
            for time, value in block.get("values", []):
                if value is None:
                    continue
                reading = float(value)
                if before is None:
                    step = 0.0  # the first reading ever seen has nothing to count from
                elif reading >= RESET_BELOW * before:
                    step = reading - before  # a rise, or a dip too small to be a reset
                else:
                    step = reading  # a reset: the reading after it counts from zero
                window = query.window_start(int(time))
                windows[window] = windows.get(window, 0.0) + step
                before = reading
        results = [
            SeriesResult(
                dict(zip(query.group_by, group, strict=True)),
                [Bucket(time, value) for time, value in sorted(windows.items())],
            )
            for group, windows in sums.items()
            if windows
        ]
        return _ordered(results, query.group_by)

    def latest(self, query: LatestQuery) -> list[LatestRow]:
        if any(not values for values in query.where.values()):
            return []
        measurement = influxql_identifier(query.measurement)
        (field_keys,) = self._query([f"SHOW FIELD KEYS FROM {measurement}"])
        known = self._field_types(field_keys)
        fields = [name for name in (query.fields or tuple(known)) if name in known]
        if not fields:
            return []
        conditions = _tag_conditions(query.where)
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
                        entry[1][name] = (int(time), _number(value))
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
        measurement = influxql_identifier(query.measurement)
        field_keys, tag_keys = self._query(
            [f"SHOW FIELD KEYS FROM {measurement}", f"SHOW TAG KEYS FROM {measurement}"]
        )
        known = self._field_types(field_keys)
        fields = [name for name in dict.fromkeys(query.fields or tuple(known)) if name in known]
        if not fields:
            return []
        tags = sorted({value for block in tag_keys for (value, *_) in block.get("values", [])})
        columns = ", ".join(
            [f"{influxql_identifier(f)}::field" for f in fields]
            + [f"{influxql_identifier(t)}::tag" for t in tags]
        )
        conditions = _tag_conditions(query.where)

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
                                f: _number(v)
                                for f, v in zip(fields, values[: len(fields)], strict=True)
                                if v is not None
                            },
                        )
                    )
            rows.sort(key=lambda row: (row.time_ns, series_key(row.tags)))
            return rows

        rows = read(
            _time_range(query.start_ns, query.end_ns), f" ORDER BY time ASC LIMIT {query.limit}"
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
        field_keys, tag_keys, counts, firsts, lasts = self._query(
            [
                "SHOW FIELD KEYS",
                "SHOW TAG KEYS",
                "SELECT COUNT(*) FROM /.*/ GROUP BY *",
                "SELECT * FROM /.*/ GROUP BY * ORDER BY time ASC LIMIT 1",
                "SELECT * FROM /.*/ GROUP BY * ORDER BY time DESC LIMIT 1",
            ],
            chunked=True,
        )
        fields = {block["name"]: self._field_types([block]) for block in field_keys}
        tags = {
            block["name"]: sorted(value for (value,) in block.get("values", []))
            for block in tag_keys
        }
        points: dict[tuple[str, str], int] = {}
        for block in counts:
            for _, *values in block.get("values", []):
                count = max((int(v) for v in values if v is not None), default=0)
                key = (block["name"], _series_of(block))
                points[key] = points.get(key, 0) + count
        first = _series_times(firsts)
        last = _series_times(lasts)
        device_of = _devices_by_series(counts)
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
            for key in keys:
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
        response = self._request("GET", "/ping", {})
        if response.status not in (200, 204):
            raise StoreUnavailable(f"InfluxDB at {self._url} /ping answered HTTP {response.status}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._http.clear()


# -- helpers ------------------------------------------------------------------------------


def _error_message(body: str) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(document, dict):
        return str(document.get("error") or document.get("message") or body).strip()
    return body.strip()


def _json_documents(text: str) -> Iterator[dict]:
    """The JSON objects of a response: one, or one per line when chunked."""
    decoder = json.JSONDecoder()
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return
        document, position = decoder.raw_decode(text, position)
        yield document


def _merge_series(into: list[dict], series: list[dict]) -> None:
    """Append chunked series, joining a series split over chunks (same name and tags)."""
    for block in series:
        if (
            into
            and into[-1].get("name") == block.get("name")
            and into[-1].get("tags") == block.get("tags")
        ):
            into[-1]["values"] = into[-1].get("values", []) + block.get("values", [])
        else:
            into.append(block)


def _time_range(start_ns: int, end_ns: int) -> str:
    return f"time >= {start_ns} AND time < {end_ns}"


def _tag_conditions(where: Mapping[str, tuple[str, ...]]) -> str:
    """`` AND (...)`` per filtered tag; ``::tag`` so a field of the same name never matches."""
    return "".join(
        " AND ("
        + " OR ".join(
            f"{influxql_identifier(tag)}::tag = {influxql_string(value)}" for value in values
        )
        + ")"
        for tag, values in where.items()
    )


def _series_of(block: dict) -> str:
    return series_key({k: v for k, v in (block.get("tags") or {}).items() if v})


def _series_times(series: list[dict]) -> dict[tuple[str, str], int]:
    return {
        (block["name"], _series_of(block)): int(block["values"][0][0])
        for block in series
        if block.get("values")
    }


def _devices_by_series(series: list[dict]) -> dict[tuple[str, str], str]:
    return {
        (block["name"], _series_of(block)): (block.get("tags") or {}).get("device", "")
        for block in series
    }


def _ordered(results: list[SeriesResult], group_by: tuple[str, ...]) -> list[SeriesResult]:
    """Series by their first window, then by group values: the order DuckDB answers in."""
    return sorted(
        results,
        key=lambda result: (
            result.buckets[0].time_ns,
            tuple(result.tags[tag] for tag in group_by),
        ),
    )
