"""The operator HTTP API (FastAPI): one router module per resource."""

from hub.api.app import create_app

__all__ = ["create_app"]
