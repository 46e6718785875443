"""The operator dashboard: a single page served by the hub, a client of the public API."""

from hub.web.routes import mount_dashboard

__all__ = ["mount_dashboard"]
