"""InfluxQL: statements built from the hub's queries, and the server's answers parsed.

Quoting (:func:`influxql_identifier`, :func:`influxql_string`), the ``WHERE`` pieces
(:func:`time_range`, :func:`tag_conditions`), the function names an aggregate maps to, and the
reading of ``/query`` answers: one JSON document or one per line when chunked
(:func:`json_documents`), a series split over chunks joined again (:func:`merge_series`),
numbers InfluxDB's JSON writes as integers read back as float (:func:`json_number`), series
keyed as the hub keys them (:func:`series_of`). Pure functions, no I/O: the store
(:mod:`hub.stores.influxdb`) sends the statements and decides what they mean.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from hub.points import series_key
from hub.query import SeriesResult

__all__ = [
    "ANY_TYPE",
    "FUNCTIONS",
    "KIND",
    "devices_by_series",
    "error_message",
    "field_types",
    "influxql_identifier",
    "influxql_string",
    "json_documents",
    "json_number",
    "merge_series",
    "ordered",
    "series_of",
    "series_times",
    "tag_conditions",
    "time_range",
]

# The InfluxQL function of each aggregate the hub offers (``increase`` is computed by the store).
FUNCTIONS = {
    "mean": "MEAN",
    "sum": "SUM",
    "min": "MIN",
    "max": "MAX",
    "count": "COUNT",
    "first": "FIRST",
    "last": "LAST",
    "percentile": "PERCENTILE",
}
ANY_TYPE = frozenset({"count", "first", "last"})  # the functions that accept bool and str
KIND = {"float": "float", "integer": "float", "unsigned": "float", "boolean": "bool"}


def influxql_identifier(name: str) -> str:
    """``name`` as a double-quoted InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def influxql_string(value: str) -> str:
    """``value`` as a single-quoted InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def json_number(value: Any) -> Any:
    """InfluxDB's JSON writes 2.0 as ``2``: numbers come back as float, bool and str as is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def error_message(body: str) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(document, dict):
        return str(document.get("error") or document.get("message") or body).strip()
    return body.strip()


def json_documents(text: str) -> Iterator[dict]:
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


def merge_series(into: list[dict], series: list[dict]) -> None:
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


def time_range(start_ns: int, end_ns: int) -> str:
    return f"time >= {start_ns} AND time < {end_ns}"


def tag_conditions(where: Mapping[str, tuple[str, ...]]) -> str:
    """`` AND (...)`` per filtered tag; ``::tag`` so a field of the same name never matches."""
    return "".join(
        " AND ("
        + " OR ".join(
            f"{influxql_identifier(tag)}::tag = {influxql_string(value)}" for value in values
        )
        + ")"
        for tag, values in where.items()
    )


def series_of(block: dict) -> str:
    return series_key({k: v for k, v in (block.get("tags") or {}).items() if v})


def series_times(series: list[dict]) -> dict[tuple[str, str], int]:
    return {
        (block["name"], series_of(block)): int(block["values"][0][0])
        for block in series
        if block.get("values")
    }


def devices_by_series(series: list[dict]) -> dict[tuple[str, str], str]:
    return {
        (block["name"], series_of(block)): (block.get("tags") or {}).get("device", "")
        for block in series
    }


def ordered(results: list[SeriesResult], group_by: tuple[str, ...]) -> list[SeriesResult]:
    """Series by their first window, then by group values: the order DuckDB answers in."""
    return sorted(
        results,
        key=lambda result: (
            result.buckets[0].time_ns,
            tuple(result.tags[tag] for tag in group_by),
        ),
    )


def field_types(series: list[dict]) -> dict[str, str]:
    """The fields of a ``SHOW FIELD KEYS`` answer and the kind each reads back as
    (``float``, ``bool`` or ``str``)."""
    types: dict[str, str] = {}
    for block in series:
        for name, kind in block.get("values", []):
            types.setdefault(name, KIND.get(kind, "str"))
    return types
