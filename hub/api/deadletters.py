"""Dead letters: what could not be ingested and why (admin role)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from hub.api.deps import AdminDep, HubDep, format_time, parse_time
from hub.api.params import OutputDep, tabular_doc

router = APIRouter(prefix="/api/v1/dead-letters", tags=["dead letters"], dependencies=[AdminDep])


COLUMNS = ["id", "received", "topic", "adapter", "reason", "detail", "payload", "payload_bytes"]
EXAMPLE = {
    "id": 17,
    "received": "2024-05-14T10:00:00.123456Z",
    "topic": "senml/m-2",
    "adapter": "senml",
    "reason": "wrong_type",
    "detail": "0.v: Input should be a valid number",
    "payload": '[{"n": "power", "u": "W", "v": "12"}]',
    "payload_bytes": 37,
}


@router.get(
    "",
    summary="Dead letters, newest first",
    response_class=Response,
    responses=tabular_doc(
        {"dead_letters": [EXAMPLE]},
        ",".join(COLUMNS) + "\n17,2024-05-14T10:00:00.123456Z,senml/m-2,senml,wrong_type,"
        '0.v: Input should be a valid number,"[{""n"": ""power""}]",37\n',
    ),
)
def list_dead_letters(
    hub: HubDep,
    output: OutputDep,
    adapter: str | None = None,
    reason: Annotated[str | None, Query(examples=["invalid_json"])] = None,
    start: str | None = None,
    end: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[
        int | None, Query(description="Page: the last id of the previous page")
    ] = None,
) -> Response:
    """Filters: `adapter`, `reason`, `start`/`end` (received time); page with `before_id`."""
    now = time.time_ns()
    letters = hub.deadletters.list(
        adapter=adapter,
        reason=reason,
        start_ns=parse_time(start, 0, "start") if start else None,
        end_ns=parse_time(end, now, "end") if end else None,
        limit=limit,
        before_id=before_id,
    )
    rows = [
        {
            "id": d.id,
            "received": format_time(d.received_ns),
            "topic": d.topic,
            "adapter": d.adapter,
            "reason": d.reason,
            "detail": d.detail,
            "payload": d.payload.decode("utf-8", errors="backslashreplace")[:4096],
            "payload_bytes": len(d.payload),
        }
        for d in letters
    ]
    return output.render({"dead_letters": rows}, rows, COLUMNS)


@router.get(
    "/counts",
    summary="Dead letters per reason",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"counts": {"invalid_json": 3, "wrong_type": 1}, "total": 4}
                }
            }
        }
    },
)
def count_dead_letters(
    hub: HubDep, adapter: str | None = None, start: str | None = None, end: str | None = None
) -> dict[str, Any]:
    counts = hub.deadletters.counts(
        adapter=adapter,
        start_ns=parse_time(start, 0, "start") if start else None,
        end_ns=parse_time(end, 0, "end") if end else None,
    )
    return {"counts": counts, "total": sum(counts.values())}
