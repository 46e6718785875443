"""``mount_dashboard(app, settings)``: ``GET /`` and the page's static files under ``/ui/``.

The page is a client of ``/api/v1`` like any other: it holds no server-side state and sees no
data the API would not give the same key. Nothing here needs a key: the HTML, JavaScript and
CSS are the same for everyone, and the key stays in the browser (``sessionStorage``, or the
URL fragment that ``cityhub demo`` prints, which browsers never send). The files ship inside
the package (no build step, no CDN); ``vendor.sh`` refreshes the vendored libraries.
"""

from __future__ import annotations

import html
import json
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from hub.settings import Settings

__all__ = ["mount_dashboard"]

_CONFIG_MARK = "{{UI_CONFIG}}"


def _index_html(settings: Settings) -> str:
    """``index.html`` with the map settings in a JSON data attribute (escaped for HTML)."""
    page = resources.files("hub.web").joinpath("static/index.html").read_text(encoding="utf-8")
    config = {
        "tile_url": settings.ui.tile_url,
        "tile_attribution": settings.ui.tile_attribution,
    }
    return page.replace(_CONFIG_MARK, html.escape(json.dumps(config), quote=True))


def mount_dashboard(app: FastAPI, settings: Settings) -> None:
    """Serve the dashboard at ``/`` (and its files at ``/ui/``), unless
    ``CITYHUB_UI__ENABLED=false``."""
    if not settings.ui.enabled:
        return
    page = _index_html(settings)

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def dashboard() -> HTMLResponse:
        # no-cache: the page is small and names the files to load; those revalidate by ETag.
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    icon = resources.files("hub.web").joinpath("static/icon.svg").read_bytes()

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:  # browsers ask for it whatever the page says
        return Response(icon, media_type="image/svg+xml")

    app.mount("/ui", StaticFiles(packages=[("hub.web", "static")]), name="ui")
