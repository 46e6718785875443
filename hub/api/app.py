"""``create_app(settings)``: the FastAPI application, assembled from its routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hub import __version__
from hub.api import buildings, buses, chargers, city, deadletters, devices, health, query
from hub.errors import QueryError, StoreUnavailable
from hub.service import Hub
from hub.settings import Settings

__all__ = ["create_app"]

DESCRIPTION = """
City telemetry (building energy meters, EV chargers, bus GPS) as aggregates.

Authenticate with `X-API-Key: <key>` or `Authorization: Bearer <key>`; `/health`, `/ready` and
`/metrics` are open; dead letters and registry changes need an admin key. Times are RFC 3339
(`2024-05-01T00:00:00Z`) or relative (`-24h`); windows (`every`) are `15m`, `1h`, `1d`, aligned
to the Unix epoch (days are UTC days). Tabular answers come as CSV with `Accept: text/csv` or
`format=csv`. A request for more windows than `CITYHUB_API__MAX_BUCKETS`, or reading more
points than `CITYHUB_API__MAX_POINTS`, is refused with a 400 that names the limit.
"""


def create_app(settings: Settings, hub: Hub | None = None) -> FastAPI:
    """The API. Without ``hub``, the app builds one from ``settings`` and runs its ingest for
    the app's lifetime (the normal ``cityhub run`` case)."""
    owned = hub is None
    the_hub = hub or Hub(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if owned:
            the_hub.start()
        try:
            yield
        finally:
            if owned:
                the_hub.stop()

    app = FastAPI(
        title="City Data Hub",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.hub = the_hub
    app.state.settings = settings
    app.include_router(health.router)
    app.include_router(query.router)
    app.include_router(deadletters.router)
    for router in (buildings.router, chargers.router, buses.router, city.router, devices.router):
        app.include_router(router)

    @app.exception_handler(QueryError)
    async def _query_error(_request: Request, error: QueryError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    @app.exception_handler(StoreUnavailable)
    async def _store_unavailable(_request: Request, error: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": f"the store is unavailable: {error}"}, status_code=503)

    return app
