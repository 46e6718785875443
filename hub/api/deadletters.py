"""Dead letters: what could not be ingested and why (admin role)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from hub.api.deps import AdminDep, ClockDep, DeadLettersDep
from hub.api.params import parse_time
from hub.api.problems import PROBLEMS
from hub.api.render import OutputDep, tabular_responses
from hub.insights.context import utc

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/dead-letters",
    tags=["dead letters"],
    dependencies=[AdminDep],
    responses=PROBLEMS,
)
INT64_MAX = 2**63 - 1
PAYLOAD_SHOWN = 4096  # bytes of each payload read and answered (the log keeps at most its own)


class DeadLetterRow(BaseModel):
    id: int
    received: datetime
    topic: str
    adapter: str
    reason: str
    detail: str
    payload: str  # the first 4 kB at most
    payload_bytes: int  # of the whole payload
    payload_sha256: str  # of the whole payload ("" for letters written before it was kept)


class DeadLetterList(BaseModel):
    rows_field: ClassVar[str] = "dead_letters"
    dead_letters: list[DeadLetterRow]


class DeadLetterCounts(BaseModel):
    counts: dict[str, int]
    total: int


@router.get(
    "",
    summary="Dead letters, newest first",
    response_model=DeadLetterList,
    responses=tabular_responses(DeadLetterList),
)
def list_dead_letters(
    deadletters: DeadLettersDep,
    clock: ClockDep,
    output: OutputDep,
    adapter: str | None = None,
    reason: Annotated[str | None, Query(examples=["invalid_json"])] = None,
    start: str | None = None,
    end: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[
        int | None,
        Query(ge=1, le=INT64_MAX, description="Page: the last id of the previous page"),
    ] = None,
) -> Response:
    """Filters: `adapter`, `reason`, `start`/`end` (received time); page with `before_id`.
    `payload` is the payload's first 4 kB at most (`CITYHUB_INGEST__DEADLETTER_PAYLOAD_BYTES`
    is what the log keeps); `payload_bytes` and `payload_sha256` describe the whole."""
    now = clock.now_ns()
    letters = deadletters.list(
        adapter=adapter,
        reason=reason,
        start_ns=parse_time(start, 0, "start", now) if start else None,
        end_ns=parse_time(end, now, "end", now) if end else None,
        limit=limit,
        before_id=before_id,
        payload_bytes=PAYLOAD_SHOWN,
    )
    rows = [
        DeadLetterRow(
            id=d.id or 0,
            received=utc(d.received_ns),
            topic=d.topic,
            adapter=d.adapter,
            reason=d.reason,
            detail=d.detail,
            payload=d.payload.decode("utf-8", errors="backslashreplace"),
            payload_bytes=d.payload_bytes,
            payload_sha256=d.sha256,
        )
        for d in letters
    ]
    return output.render(DeadLetterList(dead_letters=rows))


@router.get("/counts", summary="Dead letters per reason")
def count_dead_letters(
    deadletters: DeadLettersDep,
    clock: ClockDep,
    adapter: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> DeadLetterCounts:
    now = clock.now_ns()
    counts = deadletters.counts(
        adapter=adapter,
        start_ns=parse_time(start, 0, "start", now) if start else None,
        end_ns=parse_time(end, 0, "end", now) if end else None,
    )
    return DeadLetterCounts(counts=counts, total=sum(counts.values()))
