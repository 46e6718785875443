"""Liveness, readiness and Prometheus metrics: open, no API key."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.api.deps import HubDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: broker connected and store usable")
def ready(hub: HubDep) -> JSONResponse:
    readiness = hub.readiness()
    return JSONResponse(
        {"ready": readiness.ready, "checks": readiness.checks},
        status_code=200 if readiness.ready else 503,
    )


@router.get("/metrics", summary="Prometheus metrics")
def metrics(hub: HubDep) -> Response:
    return Response(generate_latest(hub.metrics.registry), media_type=CONTENT_TYPE_LATEST)
