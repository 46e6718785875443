"""What a route may ask for, each as its own dependency, resolved from :class:`ApiParts`.

A route names the parts it uses (``StoreDep``, ``RegistryDep``, ``DeadLettersDep``,
``ClockDep``, ``ReadinessDep``, ``MetricsDep``, ``SettingsDep``) and nothing else, so the API
runs without ingest (``cityhub api``) and a test overrides one part, the clock say, through
``app.dependency_overrides[get_clock]``. The parts are put on ``app.state.parts`` by
:func:`hub.api.app.create_app`; the wiring (``cityhub run``, ``cityhub api``) builds them.

Adding a part: a field on :class:`ApiParts`, a ``get_...`` function and an ``...Dep`` alias
here; routers never reach into ``app.state`` themselves.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from hub.contracts import Store
from hub.deadletters import DeadLetterLog
from hub.devices import DeviceRegistry
from hub.insights.context import Context
from hub.readiness import Readiness
from hub.settings import Settings
from hub.stores.retention_guard import RetentionGuard
from hub.timestamps import Clock

__all__ = [
    "AdminDep",
    "ApiParts",
    "ClockDep",
    "ContextDep",
    "DeadLettersDep",
    "HealthDep",
    "MetricsDep",
    "ReadDep",
    "ReadinessDep",
    "RegistryDep",
    "SettingsDep",
    "StoreDep",
    "get_clock",
]


@dataclass
class ApiParts:
    """Everything the API reads from. ``deadletters`` is ``None`` in an API-only process (the
    log belongs to the ingest); ``registry_writable`` is false there too, as the ingest holds
    the registry that devices are checked against."""

    store: Store
    registry: DeviceRegistry
    readiness: Callable[[], Readiness]
    deadletters: DeadLetterLog | None = None
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)
    clock: Clock = field(default_factory=Clock)
    registry_writable: bool = True
    # Liveness of the ingest: (healthy, pipeline check); an API-only process is always live.
    health: Callable[[], tuple[bool, dict[str, object]]] = lambda: (True, {})


def _parts(request: Request) -> ApiParts:
    parts: ApiParts = request.app.state.parts
    return parts


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_registry(request: Request) -> DeviceRegistry:
    return _parts(request).registry


def get_deadletters(request: Request) -> DeadLetterLog:
    log = _parts(request).deadletters
    if log is None:
        raise HTTPException(
            503, "this API replica has no dead letters: ask the process that ingests"
        )
    return log


def get_clock(request: Request) -> Clock:
    return _parts(request).clock


def get_readiness(request: Request) -> Callable[[], Readiness]:
    return _parts(request).readiness


def get_metrics(request: Request) -> CollectorRegistry:
    return _parts(request).metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[DeviceRegistry, Depends(get_registry)]
DeadLettersDep = Annotated[DeadLetterLog, Depends(get_deadletters)]
ClockDep = Annotated[Clock, Depends(get_clock)]


def get_store(request: Request, settings: SettingsDep, clock: ClockDep) -> Store:
    """The store, refusing questions about periods its retention deleted (at the request's
    clock): an answer from what is left would be silently partial, unless the rollups answer
    it (the same plan says which measurements are rollups and which rollups answer)."""
    plan = settings.rollups.plan()
    return RetentionGuard(_parts(request).store, settings.retention.policy(plan.names), clock, plan)


StoreDep = Annotated[Store, Depends(get_store)]


def get_health(request: Request) -> Callable[[], tuple[bool, dict[str, object]]]:
    return _parts(request).health


HealthDep = Annotated[Callable[[], tuple[bool, dict[str, object]]], Depends(get_health)]
ReadinessDep = Annotated[Callable[[], Readiness], Depends(get_readiness)]
MetricsDep = Annotated[CollectorRegistry, Depends(get_metrics)]


def writable_registry(request: Request) -> DeviceRegistry:
    """The registry, for a change: 409 where a change could not take effect or last."""
    parts = _parts(request)
    if not parts.registry_writable:
        raise HTTPException(409, "this API replica cannot change the registry: ask `cityhub run`")
    if parts.registry.path is None:
        raise HTTPException(
            409, "the registry has no file to keep changes in: set CITYHUB_INGEST__REGISTRY_FILE"
        )
    return parts.registry


WritableRegistryDep = Annotated[DeviceRegistry, Depends(writable_registry)]


def get_context(
    store: StoreDep, registry: RegistryDep, settings: SettingsDep, clock: ClockDep
) -> Context:
    """The insights' inputs for one request, read at one instant of the clock."""
    return Context(
        store,
        registry,
        settings.insights,
        settings.api.max_points,
        clock.now_ns(),
        settings.rollups.plan(),
    )


ContextDep = Annotated[Context, Depends(get_context)]

# -- API keys ------------------------------------------------------------------------------

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="cityhub"'}


def _presented_key(
    api_key: Annotated[str | None, Security(_api_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> str | None:
    return api_key or (bearer.credentials if bearer else None)


def _matches(key: str, keys: list[SecretStr]) -> bool:
    return any(hmac.compare_digest(key.encode(), k.get_secret_value().encode()) for k in keys)


def require_read(
    settings: SettingsDep, key: Annotated[str | None, Depends(_presented_key)]
) -> None:
    if settings.api.open:
        return
    if key is None:
        raise HTTPException(
            401,
            "an API key is required: send X-API-Key or Authorization: Bearer",
            headers=CHALLENGE,
        )
    if not _matches(key, settings.api.read_keys + settings.api.admin_keys):
        raise HTTPException(401, "the API key is not valid", headers=CHALLENGE)


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
