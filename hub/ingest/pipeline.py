"""The ingest pipeline: route, parse, batch, write, then acknowledge.

One worker thread takes the messages the MQTT client hands over, and in batches (up to
``max_messages`` messages or ``max_age_s`` after the first one arrived):

1. routes each topic to its adapter and parses the payload into canonical points; a message
   that is too large, owned by no adapter or rejected becomes a dead letter with the reason,
   and so does each reading an adapter refused of a message it read in part (``Parsed``);
2. writes the batch's points to the store, which is durable when ``write`` returns; points the
   store refuses for good become dead letters of their message; while the store is unavailable
   the batch is retried with backoff and nothing is acknowledged (the broker keeps it);
3. commits the batch's dead letters;
4. only then acknowledges the batch's messages, in the order they arrived.

A crash anywhere before step 4 leaves the messages unacknowledged: the broker redelivers them
and the idempotent store makes the second write a no-op.

The worker never dies: any error in steps 2-4 (a full disk, a failed checkpoint, an
invalidated database, a dead-letter log that cannot commit, a bug) is counted in
``cityhub_store_errors_total``, logged with its cause, and the same batch is retried with a
backoff capped at :data:`MAX_BACKOFF_S`, so the hub resumes by itself once the cause is gone.
While it retries, :attr:`Pipeline.error` says why, and :meth:`Pipeline.stalled` tells
``/health`` that messages are pending without progress.
"""

from __future__ import annotations

import enum
import functools
import logging
import operator
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from hub.contracts import Adapter, RefusedPoint, Store
from hub.deadletters import DeadLetter, DeadLetterLog
from hub.errors import Rejected, StoreUnavailable
from hub.metrics import HubMetrics
from hub.points import Point
from hub.topics import TopicRouter

__all__ = ["MAX_BACKOFF_S", "BatchLimits", "Inbound", "Pipeline", "SeriesGuard"]

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 2.0  # a retried write waits at most this long: resume within seconds
_MEASUREMENT = operator.attrgetter("measurement")


class _Stopped(enum.Enum):
    STOPPED = enum.auto()  # the pipeline stopped before a retried step succeeded


STOPPED = _Stopped.STOPPED
_T = TypeVar("_T")


@dataclass(slots=True)
class Inbound:
    """One received MQTT message. ``session`` is the connection it came on: an ack is only
    valid on that connection (after a reconnect the broker redelivers instead)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_ns: int
    session: int = 0


@dataclass(frozen=True)
class BatchLimits:
    max_messages: int = 5000
    max_age_s: float = 0.02
    max_payload_bytes: int = 256 * 1024


class SeriesGuard:
    """Caps the number of distinct series per measurement seen by this process, so a flood
    of new ids cannot explode the store's cardinality."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: dict[str, set[str]] = {}

    def admit(self, point: Point) -> None:
        key = point.series
        seen = self._seen.get(point.measurement)
        if seen is None:
            seen = self._seen[point.measurement] = set()
        if key not in seen:
            if len(seen) >= self._limit:
                raise Rejected(
                    "too_many_series",
                    f"{point.measurement} already has {self._limit} series; new one {key[:120]}",
                )
            seen.add(key)


class Pipeline:
    def __init__(
        self,
        router: TopicRouter[Adapter],
        store: Store,
        deadletters: DeadLetterLog,
        acknowledge: Callable[[Sequence[Inbound]], None],
        *,
        limits: BatchLimits = BatchLimits(),
        guard: SeriesGuard | None = None,
        metrics: HubMetrics | None = None,
    ) -> None:
        self._router = router
        self._store = store
        self._deadletters = deadletters
        self._acknowledge = acknowledge
        self._limits = limits
        self._guard = guard or SeriesGuard(100_000)
        self._metrics = metrics or HubMetrics()
        self._queue: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_batch_ns = 0
        self.error: str | None = None  # why the worker is retrying now (None: it is not)
        self.error_since = 0.0  # monotonic time the current error began
        self._progress = time.monotonic()  # last batch done, or last time there was no work
        self._busy = False

    # -- the MQTT side: called on the client's network thread ------------------------------

    def submit(self, message: Inbound) -> None:
        self._queue.put(message)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def stalled(self, after_s: float) -> float | None:
        """Seconds without progress while messages wait, when more than ``after_s``."""
        if not (self._busy or self._queue.qsize()):
            return None
        idle = time.monotonic() - self._progress
        return idle if idle > after_s else None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the worker -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cityhub-pipeline", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Process what was received, acknowledge it, and stop the worker."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            batch = self._collect()
            if not batch:
                self._progress = time.monotonic()
                if self._stop.is_set():
                    return
                continue
            self._busy = True
            # the same batch until it is done: nothing is skipped or acked early, and the
            # worker never ends on an error
            if self._retried("worker", functools.partial(self.process, batch)) is STOPPED:
                return
            self._busy = False
            self._progress = time.monotonic()

    def _retried(
        self,
        part: str,
        attempt: Callable[[], _T],
        expected: type[Exception] | tuple[type[Exception], ...] = (),
    ) -> _T | _Stopped:
        """``attempt()`` until it returns, with a backoff doubling from 0.1 s to
        :data:`MAX_BACKOFF_S`; each failure counted and logged by :meth:`_failed` (with its
        traceback unless it is ``expected``). :data:`STOPPED` if the pipeline stops first."""
        delay = 0.1
        while True:
            try:
                return attempt()
            except Exception as error:
                self._failed(part, error, delay, exc_info=not isinstance(error, expected))
                if self._stop.wait(delay):
                    return STOPPED
                delay = min(delay * 2, MAX_BACKOFF_S)

    def _failed(
        self, part: str, error: BaseException, delay: float, exc_info: bool = False
    ) -> None:
        """Count, log with its cause, and expose one failed attempt."""
        self._metrics.store_errors.labels(part).inc()
        cause = error.__cause__ or error.__context__
        detail = f"{type(error).__name__}: {error}"
        if cause is not None and str(cause) not in str(error):
            detail += f" (cause: {type(cause).__name__}: {cause})"
        if self.error is None:
            self.error_since = time.monotonic()
        self.error = f"{part}: {detail}"[:1000]
        log.error("%s failed, retrying in %.1f s: %s", part, delay, detail, exc_info=exc_info)

    def _recovered(self) -> None:
        if self.error is not None:
            log.warning(
                "recovered after %.1f s: %s", time.monotonic() - self.error_since, self.error
            )
            self.error = None

    def _collect(self) -> list[Inbound]:
        """The next batch, sized by the stream's rate: a batch goes when its first message
        is ``max_age_s`` old (counted from its receipt, not from when the worker took it) or
        holds ``max_messages``. A light stream is written in small batches a few ms after
        each message arrives; under a heavy one the worker comes back from a write to
        messages older than that already, and takes everything waiting (up to
        ``max_messages``) at once: the batch grows with the rate and nothing waits longer than
        it must."""
        limits = self._limits
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        # age from receipt; the wall clock may step (a negative age waits the full max_age)
        age_s = max(0.0, (time.time_ns() - first.received_ns) / 1e9)
        deadline = time.monotonic() + max(0.0, limits.max_age_s - age_s)
        get_nowait = self._queue.get_nowait
        while len(batch) < limits.max_messages:
            try:
                batch.append(get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        self._metrics.queue_depth.set(self._queue.qsize())
        return batch

    def process(self, batch: Sequence[Inbound]) -> None:
        """Parse, store, dead-letter and acknowledge one batch (blocking until stored)."""
        started = time.perf_counter()
        points: list[Point] = []
        origins: list[int] = []  # index in batch of each point's message
        letters: list[DeadLetter] = []
        outcomes: Counter[tuple[str, str]] = Counter()
        admit = self._guard.admit
        for index, message in enumerate(batch):
            adapter = self._router.route(message.topic)
            name = adapter.name if adapter else ""
            try:
                if adapter is None:
                    raise Rejected(
                        "no_adapter", f"no adapter subscribes to topic {message.topic!r}"
                    )
                if len(message.payload) > self._limits.max_payload_bytes:
                    raise Rejected(
                        "too_large",
                        f"payload of {len(message.payload)} bytes exceeds "
                        f"{self._limits.max_payload_bytes} (CITYHUB_INGEST__MAX_PAYLOAD_BYTES)",
                    )
                parsed = adapter.parse(message.topic, message.payload)
                for point in parsed:
                    admit(point)
            except Rejected as rejected:
                letters.append(_letter(message, name, rejected.reason, rejected.detail))
                outcomes[name, "dead"] += 1
                continue
            except Exception as error:  # an adapter bug must not stop ingestion
                log.exception("adapter %s failed on topic %s", name, message.topic)
                letters.append(_letter(message, name, "adapter_error", repr(error)[:500]))
                outcomes[name, "dead"] += 1
                continue
            rejects = getattr(parsed, "rejects", None)  # a Parsed: read in part
            if rejects:
                letters.extend(_letter(message, name, r.reason, r.detail) for r in rejects)
                outcomes[name, "partial"] += 1
            else:
                outcomes[name, "stored" if parsed else "ignored"] += 1
            points.extend(parsed)
            origins.extend([index] * len(parsed))
        refused = self._write(points)
        if refused is None:
            return  # stopping while the store is down: leave the batch unacknowledged
        if refused:
            by_point = {id(point): index for point, index in zip(points, origins, strict=True)}
            for refusal in refused:
                message = batch[by_point[id(refusal.point)]]
                letters.append(_letter(message, "", "store_refused", refusal.reason))
        if not self._write_letters(letters):
            return  # stopping while the dead-letter log is down: leave it unacknowledged
        self._acknowledge(batch)
        self._recovered()
        self.last_batch_ns = time.time_ns()
        self._metrics.ingest_lag.observe((self.last_batch_ns - batch[0].received_ns) / 1e9)
        self._count(points, letters, outcomes, time.perf_counter() - started)

    def _write(self, points: list[Point]) -> list[RefusedPoint] | None:
        refused = self._retried(
            "store", lambda: self._store.write(points) if points else [], StoreUnavailable
        )
        return None if refused is STOPPED else refused

    def _write_letters(self, letters: list[DeadLetter]) -> bool:
        # sqlite errors (disk full) are expected: retried, never acknowledged meanwhile
        return (
            self._retried("deadletters", lambda: self._deadletters.append(letters), Exception)
            is not STOPPED
        )

    def _count(
        self,
        points: list[Point],
        letters: list[DeadLetter],
        outcomes: Counter[tuple[str, str]],
        seconds: float,
    ) -> None:
        metrics = self._metrics
        for (adapter, outcome), count in outcomes.items():
            metrics.messages.labels(adapter, outcome).inc(count)
        for measurement, count in Counter(map(_MEASUREMENT, points)).items():
            metrics.points.labels(measurement).inc(count)
        for reason, count in Counter(letter.reason for letter in letters).items():
            metrics.dead_letters.labels(reason).inc(count)
        metrics.batch_seconds.observe(seconds)


def _letter(message: Inbound, adapter: str, reason: str, detail: str) -> DeadLetter:
    return DeadLetter(
        topic=message.topic,
        payload=message.payload,
        adapter=adapter,
        reason=reason,
        detail=detail,
        received_ns=message.received_ns,
    )
