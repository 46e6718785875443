"""A durable local spool between the pipeline and a remote store.

``write`` appends the batch to an append-only log on disk, fsyncs it and returns: the batch is
durable, so the pipeline acknowledges its MQTT messages. A forwarder thread drains the log to
the inner store in order, backing off exponentially (capped) while the store is unavailable;
points the store refuses go to ``on_refused`` (the dead letters), never retried. When the spool
would exceed ``max_bytes``, ``write`` raises ``StoreUnavailable``: the pipeline stops
acknowledging and the broker holds the backlog. Queries pass through to the inner store.

The log on disk (segments of CRC-checked records, and the offset of the next record to
forward) is :mod:`hub.stores.spool_log`; this module is the store and its forwarder. At start
every segment is scanned and cut at its first torn record; the forwarder resumes at the
offset. The offset advances only after ``inner.write`` returned, so a SIGKILL loses nothing
and resends at most the records in flight (writes are idempotent). An offset that fails its
CRC falls back to the oldest segment: everything is resent, nothing lost.

One process owns a spool folder at a time: the hub passes the :class:`SpoolLock` it took on the
folder (released at :meth:`SpooledStore.close`); an adopter of an orphan spool holds its own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.contracts import RefusedPoint, Store
from hub.errors import StoreUnavailable
from hub.points import Point
from hub.query import (
    AggregateQuery,
    Bucket,
    Catalog,
    LatestQuery,
    LatestRow,
    PointRow,
    PointsQuery,
    SeriesResult,
    SumOfMeansQuery,
)
from hub.stores.spool_lock import SpoolLock
from hub.stores.spool_log import (
    Record,
    encode_batch,
    fsync_directory,
    read_offset,
    read_points,
    scan_segment,
    segment_path,
    segment_seqs,
    write_offset,
)

__all__ = ["SpoolStatus", "SpooledStore"]

log = logging.getLogger(__name__)

_IDLE_PING_S = 5.0


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    pending_bytes: int
    pending_batches: int
    store_reachable: bool
    last_error: str | None
    oldest_pending_age_s: float | None  # None when nothing is pending


class SpooledStore:
    """A :class:`hub.contracts.Store` that makes writes durable locally and forwards them to
    ``inner`` in the background. ``on_refused`` is called from the forwarder thread."""

    def __init__(
        self,
        inner: Store,
        directory: Path,
        max_bytes: int,
        on_refused: Callable[[Sequence[RefusedPoint]], None],
        *,
        segment_bytes: int = 64 << 20,
        forward_max_points: int = 5000,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 30.0,
        lock: SpoolLock | None = None,
    ) -> None:
        self._inner = inner
        self._owner_lock = lock  # released at close (see hub.stores.spool_lock)
        self._directory = directory
        self._max_bytes = max_bytes
        self._on_refused = on_refused
        self._segment_bytes = min(segment_bytes, max(max_bytes // 4, 1 << 16))
        self._forward_max_points = forward_max_points
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending: deque[Record] = deque()
        self._pending_bytes = 0
        self._reachable = False
        self._last_error: str | None = None
        self._stopping = False
        directory.mkdir(parents=True, exist_ok=True)
        self._offset_fd = os.open(directory / "offset", os.O_RDWR | os.O_CREAT, 0o644)
        self._recover()
        self._thread = threading.Thread(target=self._forward_loop, name="spool-forwarder")
        self._thread.daemon = True
        self._thread.start()

    # -- recovery -------------------------------------------------------------------------

    def _segment_path(self, seq: int) -> Path:
        return segment_path(self._directory, seq)

    def _recover(self) -> None:
        segments = segment_seqs(self._directory)
        offset = read_offset(self._offset_fd) or (0, 0)
        for seq in segments:
            path = self._segment_path(seq)
            if seq < offset[0]:
                path.unlink()  # forwarded; the crash came before its deletion
                continue
            records, valid_end = scan_segment(path, seq)
            if valid_end < path.stat().st_size:
                log.warning("spool segment %s: cutting a torn tail at byte %d", path, valid_end)
                with path.open("r+b") as segment:
                    segment.truncate(valid_end)
                    os.fsync(segment.fileno())
            for record in records:
                if (seq, record.position) >= offset:
                    self._pending.append(record)
                    self._pending_bytes += record.size
        self._seq = (segments[-1] if segments else 0) + 1
        self._segment = self._segment_path(self._seq).open("ab")
        self._segment_size = 0
        fsync_directory(self._directory)
        self._delete_forwarded_segments()

    # -- writing (the pipeline's thread) --------------------------------------------------

    def write(self, points: Sequence[Point]) -> list[RefusedPoint]:
        if not points:
            return []
        written_at_ns = time.time_ns()
        record = encode_batch(points, written_at_ns)
        with self._lock:
            if self._stopping:
                raise StoreUnavailable("the spool is closed")
            if self._pending_bytes + len(record) > self._max_bytes:
                raise StoreUnavailable(
                    f"spool full: {self._pending_bytes} of {self._max_bytes} bytes pending "
                    f"(store: {self._last_error or 'forwarding'})"
                )
            if self._segment_size and self._segment_size + len(record) > self._segment_bytes:
                self._roll()
            try:
                self._segment.write(record)
                self._segment.flush()
                os.fsync(self._segment.fileno())
            except OSError as error:
                self._segment.truncate(self._segment_size)  # leave no half record behind
                raise StoreUnavailable(f"cannot write the spool: {error}") from error
            self._pending.append(Record(self._seq, self._segment_size, len(record), written_at_ns))
            self._segment_size += len(record)
            self._pending_bytes += len(record)
            self._changed.notify_all()
        return []

    def _roll(self) -> None:
        self._segment.close()
        self._seq += 1
        self._segment = self._segment_path(self._seq).open("ab")
        self._segment_size = 0
        fsync_directory(self._directory)
        self._delete_forwarded_segments()

    def _delete_forwarded_segments(self) -> None:
        head = self._pending[0].seq if self._pending else self._seq
        for seq in segment_seqs(self._directory):
            if seq < head:
                self._segment_path(seq).unlink()

    # -- forwarding (the forwarder thread) ------------------------------------------------

    def _take(self) -> tuple[list[Record], list[Point]]:
        """The oldest pending records, up to ``forward_max_points`` points (at least one)."""
        with self._lock:
            candidates = list(self._pending)[:64]
        records: list[Record] = []
        points: list[Point] = []
        for record in candidates:
            batch = read_points(self._directory, record)
            if records and len(points) + len(batch) > self._forward_max_points:
                break
            records.append(record)
            points.extend(batch)
        return records, points

    def _forward_loop(self) -> None:
        delay = self._retry_initial_s
        self._check_reachable()
        while True:
            with self._lock:
                while not self._pending and not self._stopping:
                    if not self._changed.wait(_IDLE_PING_S):
                        break
                if self._stopping:
                    return
                idle = not self._pending
            if idle:
                self._check_reachable()
                continue
            if self._forward_once():
                delay = self._retry_initial_s
                continue
            with self._lock:  # wait before retrying, but wake up for close()
                if self._changed.wait_for(lambda: self._stopping, timeout=delay):
                    return
            delay = min(delay * 2, self._retry_max_s)

    def _check_reachable(self) -> None:
        try:
            self._inner.ping()
        except StoreUnavailable as error:
            self._note(False, str(error))
        else:
            self._note(True, None)

    def _note(self, reachable: bool, error: str | None) -> None:
        if error is not None and error != self._last_error:  # once per distinct failure
            log.warning(
                "store: %s (spooling: %d bytes pending in %s)",
                error,
                self._pending_bytes,
                self._directory,
            )
        elif reachable and not self._reachable and self._last_error is not None:
            log.warning("store: reachable again, forwarding %d bytes", self._pending_bytes)
        with self._lock:
            self._reachable = reachable
            if error is not None or reachable:
                self._last_error = error
            self._changed.notify_all()

    def _forward_once(self) -> bool:
        """Forward the oldest records; ``False`` when the store could not take them."""
        try:
            records, points = self._take()
            refused = self._inner.write(points)
        except StoreUnavailable as error:
            self._note(False, str(error))
            return False
        except Exception as error:  # a dead forwarder would stall silently: report, retry
            log.exception("spool forwarder failed")
            self._note(False, f"{type(error).__name__}: {error}")
            return False
        if refused:
            try:
                self._on_refused(refused)
            except Exception:  # the points are dropped from the spool either way: log it
                log.exception("on_refused failed for %d refused points", len(refused))
        with self._lock:
            for _ in records:
                record = self._pending.popleft()
                self._pending_bytes -= record.size
            head = (
                (self._pending[0].seq, self._pending[0].position)
                if self._pending
                else (self._seq, self._segment_size)
            )
            write_offset(self._offset_fd, *head)
            self._delete_forwarded_segments()
            if self._last_error is not None:
                log.warning("store: writing again, %d bytes still pending", self._pending_bytes)
            self._reachable = True
            self._last_error = None
            self._changed.notify_all()
        return True

    # -- the rest of the contract ---------------------------------------------------------

    def status(self) -> SpoolStatus:
        with self._lock:
            oldest = (
                (time.time_ns() - self._pending[0].written_at_ns) / 1e9 if self._pending else None
            )
            return SpoolStatus(
                pending_bytes=self._pending_bytes,
                pending_batches=len(self._pending),
                store_reachable=self._reachable,
                last_error=self._last_error,
                oldest_pending_age_s=oldest,
            )

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything spooled was forwarded; ``False`` on timeout."""
        with self._lock:
            return self._changed.wait_for(lambda: not self._pending, timeout=timeout_s)

    def aggregate(self, query: AggregateQuery) -> list[SeriesResult]:
        return self._inner.aggregate(query)

    def sum_of_means(self, query: SumOfMeansQuery) -> list[Bucket]:
        return self._inner.sum_of_means(query)

    def latest(self, query: LatestQuery) -> list[LatestRow]:
        return self._inner.latest(query)

    def points(self, query: PointsQuery) -> list[PointRow]:
        return self._inner.points(query)

    @property
    def rollup_coverage(self) -> dict[str, int]:
        """The inner store's: it rolls up what the forwarder writes, in that write, so its
        rollups hold what its raw points hold (readers of rollup rows route by this)."""
        return dict(getattr(self._inner, "rollup_coverage", None) or {})

    def catalog(self) -> Catalog:
        return self._inner.catalog()

    def ping(self) -> None:
        """Queries need the inner store: usable when it is (writes are spooled regardless)."""
        self._inner.ping()

    def close(self, flush_timeout_s: float = 0.0) -> None:
        """Stop the forwarder (after forwarding what it can in ``flush_timeout_s``); what is
        left stays on disk for the next start. Closes the inner store."""
        if flush_timeout_s > 0:
            self.flush(flush_timeout_s)
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._changed.notify_all()
        self._thread.join()
        with self._lock:
            self._segment.close()
            os.close(self._offset_fd)
        self._inner.close()
        if self._owner_lock is not None:
            self._owner_lock.release()
