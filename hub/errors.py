"""The hub's exception tree. Every error the hub raises on purpose is one of these::

    HubError
    ├── ConfigError          a setting or adapter option is wrong; names the setting
    ├── Rejected             an input message cannot be ingested; becomes a dead letter
    └── StoreError
        ├── StoreUnavailable transient: the store cannot be reached, retry later
        └── QueryError       a query the store cannot answer as asked (client's fault)
            └── BeyondRetention  it asks about a period whose points are deleted

``Rejected.reason`` is a short, stable code (``invalid_json``, ``not_finite``...) that
operators count and filter by; ``Rejected.detail`` says what exactly was wrong.
"""

from __future__ import annotations

__all__ = [
    "BeyondRetention",
    "ConfigError",
    "HubError",
    "QueryError",
    "Rejected",
    "StoreError",
    "StoreUnavailable",
]


class HubError(Exception):
    """Base of every error the hub raises deliberately."""


class ConfigError(HubError):
    """A configuration value is invalid. ``setting`` names it (``CITYHUB_...`` or an option key)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.message = message


class Rejected(HubError):
    """An input message was refused. ``reason`` is a stable code, ``detail`` the explanation."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class StoreError(HubError):
    """A store failed."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or cannot write now; the caller retries later."""


class QueryError(StoreError):
    """The query cannot be answered as asked (unknown field, bad function...)."""


class BeyondRetention(QueryError):
    """The query starts before the oldest points its tier keeps (``horizon_ns``), so part of
    its answer is gone; ``setting`` is the retention setting that says how long they stay."""

    def __init__(self, message: str, setting: str, start_ns: int, horizon_ns: int) -> None:
        super().__init__(message)
        self.setting = setting
        self.start_ns = start_ns
        self.horizon_ns = horizon_ns
