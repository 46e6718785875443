"""``create_app(settings, parts)``: the FastAPI application, assembled from its routers.

A router is a module with a ``router`` (``APIRouter``) listed in :data:`ROUTERS`. Its routes
ask for the parts they use through :mod:`hub.api.deps` (``StoreDep``, ``RegistryDep``,
``ContextDep``...), never for the hub, and import no other router; shared rules live in
:mod:`hub.api.params` (time, windows), :mod:`hub.api.render` (formats) and
:mod:`hub.api.problems` (errors). The app does not know whether it runs beside the ingest
(``cityhub run``) or alone (``cityhub api``): the wiring passes the parts and the start and
stop hooks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from hub import __version__
from hub.api import (
    buildings,
    buses,
    chargers,
    city,
    deadletters,
    devices,
    districts,
    gtfsrt_feed,
    health,
    query,
    sites,
    transit,
)
from hub.api.deps import ApiParts
from hub.api.examples import add_examples
from hub.api.problems import document_problems, install
from hub.settings import Settings
from hub.web import mount_dashboard

__all__ = ["ROUTERS", "create_app"]

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    query.router,
    deadletters.router,
    buildings.router,
    districts.router,
    sites.router,
    chargers.router,
    buses.router,
    city.router,
    transit.router,
    gtfsrt_feed.router,
    devices.router,
)

DESCRIPTION = """
City telemetry (building energy meters, EV chargers, bus GPS) as aggregates.

Authenticate with `X-API-Key: <key>` or `Authorization: Bearer <key>`; `/health`, `/ready` and
`/metrics` are open; dead letters and registry changes need an admin key. Times are RFC 3339
(`2024-05-01T00:00:00Z`) or relative (`-24h`); windows (`every`) are `15m`, `1h`, `1d`, aligned
to the Unix epoch (days are UTC days). Tabular answers come as CSV with `Accept: text/csv` or
`format=csv`; positions and tracks are `application/geo+json`. Every error is an RFC 9457
`application/problem+json` document whose `parameter` names what to fix. A request for more
windows than `CITYHUB_API__MAX_BUCKETS`, or reading more points than
`CITYHUB_API__MAX_POINTS`, is refused with a 400 that names the limit.
"""


def _operation_id(route: APIRoute) -> str:
    """The route function's name (``list_buildings``): what a generated client calls."""
    return route.name


def create_app(
    settings: Settings,
    parts: ApiParts,
    *,
    on_start: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
) -> FastAPI:
    """The API over ``parts``; ``on_start``/``on_stop`` run at the app's start and stop (the
    ingest's, in ``cityhub run``)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if on_start is not None:
            on_start()
        try:
            yield
        finally:
            if on_stop is not None:
                on_stop()

    app = FastAPI(
        title="City Data Hub",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.parts = parts
    app.state.settings = settings
    for router in ROUTERS:
        app.include_router(router)
    install(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_examples(document_problems(FastAPI.openapi(app)), ROUTERS)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    mount_dashboard(app, settings)
    return app
