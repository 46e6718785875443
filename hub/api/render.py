"""How an answer goes out: JSON, CSV or GeoJSON, chosen in one place.

A tabular answer is a pydantic model whose ``rows_field`` names its list of rows; its CSV
has one column per field of the row model, in the model's order, so the columns, the JSON
schema and the client come from one definition. The format is ``format=csv|json`` when
given, else the ``Accept`` header's preference (q-values honoured; JSON on a tie or when
nothing matches), and every tabular response says ``Vary: Accept``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel

__all__ = [
    "GEOJSON",
    "GeoJSONResponse",
    "Output",
    "OutputDep",
    "csv_columns",
    "geojson_responses",
    "preferred",
    "tabular_responses",
]

GEOJSON = "application/geo+json"
CSV = "text/csv"
JSON = "application/json"
VARY = {"Vary": "Accept"}


class GeoJSONResponse(Response):
    media_type = GEOJSON


def preferred(accept: str, offered: tuple[str, ...]) -> str:
    """The media type of ``offered`` the ``Accept`` header ranks highest (RFC 9110 §12.5.1):
    the most specific matching range sets a type's q; on a tie, the earlier offered wins;
    ``offered[0]`` when the header is empty or nothing is acceptable."""
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges.append((media.lower(), q))
    if not ranges:
        return offered[0]

    def quality(media: str) -> float:
        kind = media.split("/")[0]
        for pattern in (media, f"{kind}/*", "*/*"):
            matching = [q for r, q in ranges if r == pattern]
            if matching:
                return max(matching)
        return 0.0

    best = max(offered, key=lambda m: (quality(m), -offered.index(m)))
    return best if quality(best) > 0 else offered[0]


def csv_columns(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ";".join(f"{k}={v}" for k, v in sorted(value.items()))
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value)
    return value


def _row_model(answer: type[BaseModel]) -> type[BaseModel]:
    annotation = answer.model_fields[answer.rows_field].annotation  # type: ignore[attr-defined]
    (row,) = annotation.__args__  # type: ignore[union-attr]
    return row  # type: ignore[no-any-return]


class Output:
    """Renders an answer in the negotiated format."""

    def __init__(self, csv_wanted: bool) -> None:
        self.csv = csv_wanted

    def render(self, answer: BaseModel) -> Response:
        if not self.csv:
            return Response(answer.model_dump_json(), media_type=JSON, headers=VARY)
        columns = csv_columns(_row_model(type(answer)))
        return self._csv(
            columns,
            (row.model_dump(mode="json") for row in getattr(answer, answer.rows_field)),  # type: ignore[attr-defined]
        )

    def render_flat(self, answer: BaseModel) -> Response:
        """As :meth:`render`, for rows of ``time``, ``tags`` and ``fields`` whose keys vary
        (raw points): the CSV has a column per tag and field found, ``time`` first."""
        if not self.csv:
            return self.render(answer)
        rows = [row.model_dump(mode="json") for row in getattr(answer, answer.rows_field)]  # type: ignore[attr-defined]
        tags = sorted({key for row in rows for key in row["tags"]})
        fields = sorted({key for row in rows for key in row["fields"]})
        flat = ({"time": row["time"], **row["tags"], **row["fields"]} for row in rows)
        return self._csv(["time", *tags, *fields], flat)

    @staticmethod
    def _csv(columns: list[str], rows: Iterable[dict[str, Any]]) -> Response:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        return Response(text.getvalue(), media_type=f"{CSV}; charset=utf-8", headers=VARY)


def get_output(
    request: Request,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="`csv` for CSV (as `Accept: text/csv`); default JSON"),
    ] = None,
) -> Output:
    if format is not None:
        return Output(format == "csv")
    return Output(preferred(request.headers.get("accept", ""), (JSON, CSV)) == CSV)


OutputDep = Annotated[Output, Depends(get_output)]


def tabular_responses(answer: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The 200 of a tabular route: the JSON schema comes from ``response_model``; the CSV
    alternative with its header (generated from the row model) as the example."""
    header = ",".join(csv_columns(_row_model(answer)))
    return {
        200: {
            "content": {CSV: {"schema": {"type": "string"}, "example": header + "\n"}},
            "headers": {"Vary": {"schema": {"type": "string"}, "description": "Accept"}},
        }
    }


def geojson_responses(answer: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The 200 of a GeoJSON route: served as ``application/geo+json`` (RFC 7946), with the
    ``response_model``'s schema."""
    schema = {"$ref": f"#/components/schemas/{answer.__name__}"}
    return {200: {"content": {GEOJSON: {"schema": schema}}}}
