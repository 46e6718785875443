"""Retention on the DuckDB file: points older than their tier keeps are deleted in the
background, in small chunks, without holding up ingest.

A sweep asks, for every measurement, its retention (:class:`hub.retention.Retention`: raw
points ``CITYHUB_RETENTION__RAW_DAYS``, rollups ``CITYHUB_RETENTION__ROLLUP_DAYS``, 0 keeps
forever) and deletes what is older than ``now - retention`` at most ``chunk_rows`` points
per transaction (:meth:`DuckDBStore.delete_before`, under the store's write lock), pausing
between chunks as long as the chunk took, so that waiting batches take the lock: a batch
waits for one chunk at most, and a long sweep has at most half of the write time. Measured
on the bench's 10M-point file (2 cores, shared): a 5,000-point chunk holds the lock about
0.1 s; a chunk whose commit triggers DuckDB's checkpoint (WAL past its threshold) holds it for
the checkpoint, seconds on such a file.

A sweep runs at start and then every ``interval_s``; one that fails (a full disk) is logged
and tried again at the next. DuckDB reuses the freed space; the file does not shrink.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from hub.errors import StoreUnavailable
from hub.retention import Retention
from hub.stores.duckdb import DuckDBStore
from hub.timestamps import Clock

__all__ = ["RetentionSweeper"]

log = logging.getLogger(__name__)


class RetentionSweeper:
    """Deletes old points of a :class:`DuckDBStore` in a background thread.

    ``on_chunk(measurement, deleted)`` is called after each chunk's transaction committed and
    the write lock was released (tests use it to watch a sweep in progress)."""

    def __init__(
        self,
        store: DuckDBStore,
        retention: Retention,
        clock: Clock,
        *,
        interval_s: float = 600.0,
        chunk_rows: int = 5_000,
        pause_s: float = 0.005,
        on_chunk: Callable[[str, int], None] | None = None,
    ) -> None:
        self._store = store
        self._retention = retention
        self._clock = clock
        self._interval_s = interval_s
        self._chunk_rows = chunk_rows
        self._pause_s = pause_s
        self._on_chunk = on_chunk
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.deleted = 0  # points deleted since the start

    def sweep(self) -> dict[str, int]:
        """One pass over every measurement; the points deleted per measurement."""
        now_ns = self._clock.now_ns()
        deleted: dict[str, int] = {}
        for measurement in self._store.measurements():
            keep_ns = self._retention.keep_ns(measurement)
            if keep_ns is None:
                continue
            total = 0
            while not self._stop.is_set():
                started = time.perf_counter()
                count = self._store.delete_before(measurement, now_ns - keep_ns, self._chunk_rows)
                held_s = time.perf_counter() - started
                total += count
                self.deleted += count
                if self._on_chunk is not None:
                    self._on_chunk(measurement, count)
                if count < self._chunk_rows:
                    break
                # The write lock is free: batches go first, for at least as long as the chunk
                # held it, so a long sweep takes at most half of the store's write time.
                self._stop.wait(max(self._pause_s, held_s))
            if total:
                deleted[measurement] = total
        if deleted:
            log.info("retention: deleted %s", ", ".join(f"{m} {n}" for m, n in deleted.items()))
        return deleted

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except StoreUnavailable as error:
                log.warning("retention sweep failed, next in %.0f s: %s", self._interval_s, error)
            self._stop.wait(self._interval_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="duckdb-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the chunk in progress (before the store closes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
