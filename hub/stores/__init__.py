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

        return DuckDBStore(settings.duckdb_path, settings.store.duckdb_memory_limit)
    if settings.store.backend == "influxdb":
        from hub.stores.influxdb import InfluxDBStore
        from hub.stores.spool import SpooledStore

        store = settings.store
        inner = InfluxDBStore(
            store.influx_url,
            store.influx_bucket,
            api=store.influx_api,
            token=store.influx_token.get_secret_value() if store.influx_token else None,
            org=store.influx_org,
            retention_policy=store.influx_retention_policy,
            username=store.influx_username,
            password=store.influx_password.get_secret_value() if store.influx_password else None,
            timeout_s=store.influx_timeout_s,
        )
        # A remote store is not durable for us until it answered: batches go through a local
        # spool, so an outage costs disk space, not unacknowledged MQTT messages.
        return SpooledStore(inner, settings.data_dir / "spool", store.spool_max_bytes, on_refused)
    raise NotImplementedError(f"store backend {settings.store.backend!r}")
