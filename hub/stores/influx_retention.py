"""Retention on InfluxDB 1.x: one retention policy per tier, created or checked at start-up.

* **raw points** go to ``CITYHUB_STORE__INFLUX_RETENTION_POLICY`` when it is set, else to
  the database's default policy (``autogen`` on a new database), so points the hub wrote
  before stay where its queries find them. Its duration is made ``RAW_DAYS`` (``INF`` for 0).
* **rollups** go to the policy :data:`ROLLUP_POLICY` of the same database, ``ROLLUP_DAYS``
  long (``INF`` for 0): a writer of rollups names it (``/write?rp=rollups``) and a reader
  qualifies the measurement (``"rollups"."building_energy_1h"``).

A policy that exists with the right duration is left alone (so a user without admin rights
works, once an admin made them); a missing one is created, one of another duration altered
(InfluxDB then drops shards older than the new duration at its next retention check). A
refusal does not stop the hub: it is logged naming the setting and the statement, and tried
again (:class:`PolicyKeeper`).
InfluxDB 2.x and 3.x keep retention on the bucket, which this module does not manage yet.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable

from hub.errors import ConfigError, QueryError, StoreUnavailable
from hub.retention import DAY_NS, RAW_SETTING, ROLLUP_SETTING, Retention
from hub.stores.influxdb import InfluxDBStore
from hub.stores.influxql import influxql_identifier

__all__ = ["ROLLUP_POLICY", "PolicyKeeper", "ensure_retention_policies", "go_duration_ns"]

log = logging.getLogger(__name__)

ROLLUP_POLICY = "rollups"
_GO_UNIT_NS = {"h": 3600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6, "us": 10**3,
               "µs": 10**3, "ns": 1}  # fmt: skip
_GO_PART = re.compile(r"(\d+)(h|ms|us|µs|ns|m|s)")


def go_duration_ns(text: str) -> int:
    """A duration as InfluxDB 1.x shows it (``2160h0m0s``; ``0s`` is infinite) in ns."""
    return sum(int(n) * _GO_UNIT_NS[unit] for n, unit in _GO_PART.findall(text))


def _duration(days: int) -> str:
    return f"{days}d" if days else "INF"


def ensure_retention_policies(
    store: InfluxDBStore, database: str, retention: Retention, raw_policy: str | None
) -> list[str]:
    """Create or alter the two tiers' policies on ``database``; the statements it ran (none
    when both were right). ``ConfigError`` when the server refuses (no admin rights)."""
    (answer,) = store.statements([f"SHOW RETENTION POLICIES ON {influxql_identifier(database)}"])
    policies: dict[str, tuple[int, bool]] = {}
    for block in answer:
        columns = block.get("columns", [])
        for values in block.get("values", []):
            row = dict(zip(columns, values, strict=False))
            policies[row["name"]] = (go_duration_ns(row["duration"]), bool(row.get("default")))
    raw_name = raw_policy or next((name for name, (_, dflt) in policies.items() if dflt), None)
    wanted = [(ROLLUP_POLICY, retention.rollup_days, ROLLUP_SETTING)]
    if raw_name is not None:
        wanted.insert(0, (raw_name, retention.raw_days, RAW_SETTING))
    statements: list[tuple[str, str]] = []
    on = f"ON {influxql_identifier(database)}"
    for name, days, setting in wanted:
        policy = influxql_identifier(name)
        if name not in policies:
            create = (
                f"CREATE RETENTION POLICY {policy} {on} DURATION {_duration(days)} REPLICATION 1"
            )
            statements.append((create, setting))
        elif policies[name][0] != days * DAY_NS:
            alter = f"ALTER RETENTION POLICY {policy} {on} DURATION {_duration(days)}"
            statements.append((alter, setting))
    for statement, setting in statements:
        try:
            store.statements([statement])
        except (QueryError, StoreUnavailable) as error:
            # The SHOW just answered: a refused change is a missing right (a 403), not an outage.
            raise ConfigError(
                setting,
                f"InfluxDB refused `{statement}` ({error}): the hub's InfluxDB user needs admin "
                "rights to set retention, or an admin runs that statement once",
            ) from None
        log.info("InfluxDB retention: %s", statement)
    return [statement for statement, _ in statements]


class PolicyKeeper:
    """Sets the policies from start-up on: :meth:`try_now` once when the hub is built, then,
    until one attempt succeeded, again every ``retry_s`` from a thread (:meth:`start`). An
    unreachable InfluxDB is logged as a warning (the hub starts during an outage, as its spool
    allows); a refused change as an error naming the setting and the statement an admin can
    run; either heals by itself once InfluxDB answers or the rights are granted."""

    def __init__(
        self, open_store: Callable[[], InfluxDBStore], database: str, retention: Retention,
        raw_policy: str | None, retry_s: float = 30.0,
    ) -> None:  # fmt: skip
        self._open_store = open_store
        self._database = database
        self._retention = retention
        self._raw_policy = raw_policy
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.done = False

    def try_now(self) -> None:
        store = self._open_store()
        try:
            ensure_retention_policies(store, self._database, self._retention, self._raw_policy)
            self.done = True
        except (StoreUnavailable, QueryError) as error:  # down, or no such database yet
            log.warning("InfluxDB retention policies not checked yet: %s", error)
        except ConfigError as error:
            log.error("InfluxDB retention policies not set: %s", error)
        finally:
            store.close()

    def start(self) -> None:
        if not self.done:
            self._thread = threading.Thread(target=self._retry, name="influx-rp", daemon=True)
            self._thread.start()

    def _retry(self) -> None:
        while not self.done and not self._stop.wait(self._retry_s):
            self.try_now()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
