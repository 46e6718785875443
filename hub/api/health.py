"""Liveness, readiness and Prometheus metrics: open, no API key."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from hub.api.deps import HealthDep, MetricsDep, ReadinessDep
from hub.api.problems import MEDIA_TYPE, Problem

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    pipeline: dict[str, object] | None = None


class ReadyAnswer(BaseModel):
    ready: bool
    checks: dict[str, dict[str, object]]


class NotReady(Problem):
    """A problem document with the readiness answer as extension members."""

    ready: bool
    checks: dict[str, dict[str, object]]


@router.get(
    "/health",
    summary="Liveness: the process answers and its ingest makes progress",
    response_model=Health,
    responses={503: {"description": "degraded: the ingest worker is gone or stalled"}},
)
def get_health(health: HealthDep) -> JSONResponse:
    """503 `degraded` when messages are pending and no batch completed for
    `CITYHUB_INGEST__STALL_AFTER_S` seconds (for example a store error that does not heal)."""
    healthy, pipeline = health()
    body: dict[str, object] = {"status": "ok" if healthy else "degraded"}
    if pipeline:
        body["pipeline"] = pipeline
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get(
    "/ready",
    summary="Readiness: the parts this process needs are usable",
    response_model=ReadyAnswer,
    responses={503: {"model": NotReady, "description": "Not ready: a check failed"}},
)
def get_readiness(request: Request, readiness: ReadinessDep) -> JSONResponse:
    """`cityhub run`: broker connected, store usable, spool below its limit; `cityhub api`:
    the store only. A 503 is a problem document carrying the same `ready` and `checks`."""
    answer = readiness()
    if answer.ready:
        return JSONResponse({"ready": True, "checks": answer.checks})
    failing = ", ".join(name for name, check in answer.checks.items() if not check["ok"])
    body = NotReady(
        type="urn:cityhub:problem:not-ready",
        title="Service Unavailable",
        status=503,
        detail=f"not ready: {failing}",
        instance=request.url.path,
        ready=False,
        checks=answer.checks,
    )
    return JSONResponse(body.model_dump(), status_code=503, media_type=MEDIA_TYPE)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def get_metrics(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)
