"""Store backends behind :class:`hub.contracts.Store`, and the one function that picks one."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hub.contracts import RefusedPoint, Store
from hub.settings import Settings

__all__ = ["open_store"]

RefusedSink = Callable[[Sequence[RefusedPoint]], None]


def open_store(settings: Settings, on_refused: RefusedSink) -> Store:
    """The configured store. ``on_refused`` receives points a remote store refuses later,
    after their batch was already acknowledged (from the spool's forwarder)."""
    if settings.store.backend == "duckdb":
        from hub.stores.duckdb import DuckDBStore

        return DuckDBStore(settings.duckdb_path)
    raise NotImplementedError(f"store backend {settings.store.backend!r}")
