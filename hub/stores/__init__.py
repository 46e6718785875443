"""Store backends behind :class:`hub.contracts.Store`, and the one function that picks one."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from hub.contracts import RefusedPoint, Store
from hub.errors import ConfigError
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.stores.influxdb import InfluxDBStore

__all__ = ["open_influxdb", "open_reader", "open_store"]

RefusedSink = Callable[[Sequence[RefusedPoint]], None]

# A hub restarted in place (same spool name) may start while its predecessor still exits.
_SPOOL_LOCK_WAIT_S = 5.0


def open_influxdb(settings: Settings) -> InfluxDBStore:
    """The configured InfluxDB, without a spool (the hub's own and each adopted spool's).
    On 1.x, where the hub manages retention (:mod:`hub.stores.influx_retention`), rollups go
    to their own policy, which outlives the raw points; 2.x and 3.x keep them in the bucket."""
    from hub.stores.influx_retention import ROLLUP_POLICY
    from hub.stores.influxdb import InfluxDBStore

    store = settings.store
    return InfluxDBStore(
        store.influx_url,
        store.influx_bucket,
        api=store.influx_api,
        token=store.influx_token.get_secret_value() if store.influx_token else None,
        org=store.influx_org,
        retention_policy=store.influx_retention_policy,
        username=store.influx_username,
        password=store.influx_password.get_secret_value() if store.influx_password else None,
        timeout_s=store.influx_timeout_s,
        rollups=settings.rollups.plan(),
        rollup_policy=ROLLUP_POLICY if store.influx_api == "v1" else None,
    )


def open_store(settings: Settings, on_refused: RefusedSink) -> Store:
    """The configured store. ``on_refused`` receives points a remote store refuses later,
    after their batch was already acknowledged (from the spool's forwarder)."""
    if settings.store.backend == "duckdb":
        from hub.stores.duckdb import DuckDBStore

        return DuckDBStore(
            settings.duckdb_path,
            settings.store.duckdb_memory_limit,
            checkpoint_threshold=settings.store.duckdb_checkpoint_threshold,
            threads=settings.store.duckdb_threads,
            rollups=settings.rollups.plan(),
            rollup_flush_s=settings.rollups.flush_s,
        )
    if settings.store.backend == "influxdb":
        from hub.stores.spool import SpooledStore
        from hub.stores.spool_lock import try_lock

        folder = settings.spool_root / settings.spool_name
        deadline = time.monotonic() + _SPOOL_LOCK_WAIT_S
        while (lock := try_lock(folder)) is None:
            if time.monotonic() > deadline:
                raise ConfigError(
                    "CITYHUB_STORE__SPOOL_NAME",
                    f"the spool {folder} is locked by another live process (a hub with the same "
                    "spool name, or one adopting it): give each hub sharing "
                    f"{settings.data_dir} its own spool name",
                )
            time.sleep(0.2)
        # A remote store is not durable for us until it answered: batches go through a local
        # spool, so an outage costs disk space, not unacknowledged MQTT messages.
        return SpooledStore(
            open_influxdb(settings),
            folder,
            settings.store.spool_max_bytes,
            on_refused,
            lock=lock,
        )
    raise NotImplementedError(f"store backend {settings.store.backend!r}")


def open_reader(settings: Settings) -> Store:
    """The store of an API-only process (``cityhub api``): a remote store queried directly,
    with no spool, since it writes nothing. DuckDB has one writer per file, which is the
    ingest, so an API replica needs InfluxDB."""
    if settings.store.backend != "influxdb":
        raise ConfigError(
            "CITYHUB_STORE__BACKEND",
            "`cityhub api` serves from InfluxDB only (a DuckDB file belongs to the process "
            "that ingests into it): set it to influxdb, or use `cityhub run`",
        )
    return open_influxdb(settings)
