"""Readiness: whether this process can do its job now, as named checks.

``cityhub run`` checks the broker, the store, the spool and the pipeline; ``cityhub api``
(a read replica) only the store it answers from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hub.contracts import Store

__all__ = ["Check", "Readiness", "store_checks"]

Check = dict[str, object]


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, Check]

    @classmethod
    def of(cls, checks: dict[str, Check]) -> Readiness:
        return cls(all(bool(c["ok"]) for c in checks.values()), checks)


def store_checks(store: Store, backend: str, spool_max_bytes: int) -> dict[str, Check]:
    """The store answers a ping; a spooled remote store's spool is below its limit."""
    checks: dict[str, Check] = {}
    try:
        store.ping()
        checks["store"] = {"ok": True, "backend": backend}
    except Exception as error:  # any failure of the ping means "not ready", with its reason
        checks["store"] = {"ok": False, "detail": str(error)}
    status = getattr(store, "status", None)  # a spooled remote store reports its depth
    if callable(status):
        spool = dataclasses.asdict(status())
        checks["spool"] = {
            "ok": spool["pending_bytes"] < spool_max_bytes,
            "max_bytes": spool_max_bytes,
            **spool,
        }
    return checks
