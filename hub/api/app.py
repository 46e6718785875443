"""``create_app(settings)``: the FastAPI application, assembled from its routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub import __version__
from hub.api import deadletters, health, query
from hub.service import Hub
from hub.settings import Settings

__all__ = ["create_app"]

DESCRIPTION = """
City telemetry (building energy meters, EV chargers, bus GPS) as aggregates.

Authenticate with `X-API-Key: <key>` or `Authorization: Bearer <key>`; `/health`, `/ready` and
`/metrics` are open. Times are RFC 3339 (`2024-05-01T00:00:00Z`) or relative (`-24h`).
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
    return app
