"""Query parameters the operator endpoints share: periods, windows, output format.

``PeriodDep`` reads ``start``/``end``; ``WindowsDep`` adds ``every`` and refuses a request
for more windows than ``CITYHUB_API__MAX_BUCKETS``; ``OutputDep`` renders a tabular answer as
JSON, or as CSV when asked with ``Accept: text/csv`` or ``format=csv``.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from hub.api.deps import SettingsDep, parse_time
from hub.query import parse_duration_ns

__all__ = [
    "DAY_NS",
    "OutputDep",
    "Period",
    "PeriodDep",
    "Windows",
    "WindowsDep",
    "tabular_doc",
]

DAY_NS = 86_400 * 10**9

StartParam = Annotated[
    str | None,
    Query(description="RFC 3339 or relative (`-24h`); default 24 h before end", examples=["-24h"]),
]
EndParam = Annotated[
    str | None, Query(description="RFC 3339, relative or `now` (default)", examples=["now"])
]
EveryParam = Annotated[
    str, Query(description="Window length: `15m`, `1h`, `1d`...", examples=["1h"])
]


@dataclass(frozen=True)
class Period:
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class Windows:
    start_ns: int
    end_ns: int
    every_ns: int
    every: str


def get_period(start: StartParam = None, end: EndParam = None) -> Period:
    end_ns = parse_time(end, time.time_ns(), "end")
    start_ns = parse_time(start, end_ns - DAY_NS, "start")
    if end_ns <= start_ns:
        raise HTTPException(400, "the range is empty: end must be after start")
    return Period(start_ns, end_ns)


PeriodDep = Annotated[Period, Depends(get_period)]


def get_windows(settings: SettingsDep, period: PeriodDep, every: EveryParam = "1h") -> Windows:
    try:
        every_ns = parse_duration_ns(every)
    except ValueError as error:
        raise HTTPException(400, f"every: {error}") from None
    first = period.start_ns - period.start_ns % every_ns
    count = -(-(period.end_ns - first) // every_ns)
    if count > settings.api.max_buckets:
        raise HTTPException(
            400,
            f"{count} windows of {every} is more than the limit of {settings.api.max_buckets}: "
            "shorten the range or widen every",
        )
    return Windows(period.start_ns, period.end_ns, every_ns, every)


WindowsDep = Annotated[Windows, Depends(get_windows)]


class Output:
    """Renders a tabular answer: ``payload`` as JSON, or ``rows`` as CSV."""

    def __init__(self, csv_wanted: bool) -> None:
        self.csv = csv_wanted

    def render(
        self, payload: dict[str, Any], rows: Sequence[dict[str, Any]], columns: Sequence[str]
    ) -> Response:
        if not self.csv:
            return JSONResponse(payload)
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return Response(text.getvalue(), media_type="text/csv; charset=utf-8")


def get_output(
    request: Request,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="`csv` for CSV (as `Accept: text/csv`); default JSON"),
    ] = None,
) -> Output:
    if format is not None:
        return Output(format == "csv")
    return Output("text/csv" in request.headers.get("accept", ""))


OutputDep = Annotated[Output, Depends(get_output)]


def tabular_doc(example: dict[str, Any], csv_example: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a tabular endpoint: a JSON example and a CSV example."""
    return {
        200: {
            "content": {
                "application/json": {"example": example},
                "text/csv": {"schema": {"type": "string"}, "example": csv_example},
            }
        }
    }
