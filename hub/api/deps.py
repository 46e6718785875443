"""Dependencies shared by the routers: the hub, API-key roles, time parameters."""

from __future__ import annotations

import functools
import hmac
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from hub.query import parse_duration_ns
from hub.service import Hub
from hub.settings import Settings

__all__ = [
    "AdminDep",
    "HubDep",
    "ReadDep",
    "SettingsDep",
    "format_time",
    "parse_time",
]

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


HubDep = Annotated[Hub, Depends(get_hub)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _presented_key(
    api_key: Annotated[str | None, Security(_api_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> str | None:
    return api_key or (bearer.credentials if bearer else None)


def _matches(key: str, keys: list) -> bool:
    return any(hmac.compare_digest(key.encode(), k.get_secret_value().encode()) for k in keys)


def require_read(
    settings: SettingsDep, key: Annotated[str | None, Depends(_presented_key)]
) -> None:
    if settings.api.open:
        return
    if key is None:
        raise HTTPException(401, "an API key is required: send X-API-Key or Authorization: Bearer")
    if not _matches(key, settings.api.read_keys + settings.api.admin_keys):
        raise HTTPException(401, "the API key is not valid")


def require_admin(
    settings: SettingsDep, key: Annotated[str | None, Depends(_presented_key)]
) -> None:
    if settings.api.open:
        return
    require_read(settings, key)
    if key is None or not _matches(key, settings.api.admin_keys):
        raise HTTPException(403, "this endpoint needs an admin API key")


ReadDep = Depends(require_read)
AdminDep = Depends(require_admin)


def parse_time(value: str | None, default_ns: int, name: str) -> int:
    """RFC 3339 (``2024-05-01T00:00:00Z``), relative to now (``-24h``, ``-15m``), or ``now``."""
    if value is None:
        return default_ns
    text = value.strip()
    try:
        if text == "now":
            return time.time_ns()
        if text.startswith("-"):
            return time.time_ns() - parse_duration_ns(text[1:])
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(
            400, f"{name}={value!r}: use RFC 3339 (2024-05-01T00:00:00Z), -24h, or now"
        ) from None
    if moment.tzinfo is None:
        raise HTTPException(400, f"{name}={value!r}: give an offset or Z (times are UTC)")
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@functools.lru_cache(maxsize=65536)  # window starts repeat across every series of an answer
def format_time(time_ns: int) -> str:
    return (
        datetime.fromtimestamp(time_ns // 1_000_000_000, tz=UTC)
        .replace(microsecond=(time_ns % 1_000_000_000) // 1000)
        .isoformat()
        .replace("+00:00", "Z")
    )
