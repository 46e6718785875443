"""Dead letters: what could not be ingested and why (admin role)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from hub.api.deps import AdminDep, HubDep, format_time, parse_time

router = APIRouter(prefix="/api/v1/dead-letters", tags=["dead letters"], dependencies=[AdminDep])


@router.get("", summary="Dead letters, newest first")
def list_dead_letters(
    hub: HubDep,
    adapter: str | None = None,
    reason: Annotated[str | None, Query(examples=["invalid_json"])] = None,
    start: str | None = None,
    end: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[
        int | None, Query(description="Page: the last id of the previous page")
    ] = None,
) -> dict[str, Any]:
    now = time.time_ns()
    letters = hub.deadletters.list(
        adapter=adapter,
        reason=reason,
        start_ns=parse_time(start, 0, "start") if start else None,
        end_ns=parse_time(end, now, "end") if end else None,
        limit=limit,
        before_id=before_id,
    )
    return {
        "dead_letters": [
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
    }


@router.get("/counts", summary="Dead letters per reason")
def count_dead_letters(
    hub: HubDep, adapter: str | None = None, start: str | None = None, end: str | None = None
) -> dict[str, Any]:
    counts = hub.deadletters.counts(
        adapter=adapter,
        start_ns=parse_time(start, 0, "start") if start else None,
        end_ns=parse_time(end, 0, "end") if end else None,
    )
    return {"counts": counts, "total": sum(counts.values())}
