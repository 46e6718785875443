"""Dead letters: every message the hub could not ingest, kept durably with its reason.

A dead letter is the message as received (topic, the first ``keep_bytes`` of its payload with
the payload's full size and SHA-256), the adapter that refused it (or ``""`` when no adapter
owns the topic), the reason code, the detail, and the time it was received. They live in a
SQLite file beside the store, whatever the store is, written in the same batch cycle as the
points and committed (fsync'd) before the batch's MQTT messages are acknowledged, so a dead
letter is never lost either, until the log's bounds drop it.

Anyone allowed to publish could otherwise turn the log into a disk-filler (2,000 invalid
200 kB payloads grew it by 550 MB in 5 s): payloads are cut to their first ``keep_bytes``
(enough to see what a device sent; the hash identifies the whole), and the log is bounded in
total size (``max_bytes``, counted as kept payload + topic + detail + a row overhead) and age
(``max_age_s``). The oldest go first, and every drop is reported per reason (``on_dropped``,
the hub's ``cityhub_dead_letters_dropped_total``). A trim the disk refuses is reported too
(``on_trim_failed``, the hub's ``cityhub_store_errors_total{part="deadletters"}``).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DeadLetter", "DeadLetterLog"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ns INTEGER NOT NULL,
    topic TEXT NOT NULL,
    adapter TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_time ON dead_letters (received_ns);
CREATE INDEX IF NOT EXISTS dead_letters_reason ON dead_letters (reason, received_ns);
"""
_ROW_OVERHEAD = 128  # bytes a row costs beyond its text and payload (ids, indexes, pages)
_FOOTPRINT = f"length(payload) + length(topic) + length(detail) + {_ROW_OVERHEAD}"
_TOPIC_KEEP = 1024  # characters of a topic kept (a broker may allow 65 kB topics)
_DETAIL_KEEP = 2000
_AGE_CHECK_S = 60.0  # expire by age at most this often


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    payload: bytes  # as received; as read back, its first bytes only
    adapter: str
    reason: str
    detail: str
    received_ns: int
    id: int | None = None
    size: int = -1  # the payload's full size (as read back); -1: len(payload)
    sha256: str = ""  # of the full payload (as read back)

    @property
    def payload_bytes(self) -> int:
        return self.size if self.size >= 0 else len(self.payload)


class DeadLetterLog:
    """Durable, bounded log of dead letters with filtered listing and counts by reason."""

    def __init__(
        self,
        path: Path,
        *,
        keep_bytes: int = 4096,
        max_bytes: int = 256 << 20,
        max_age_s: float = 30 * 86400,
        on_dropped: Callable[[Counter[str]], None] | None = None,
        on_trim_failed: Callable[[sqlite3.Error], None] | None = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self.keep_bytes = keep_bytes
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._on_dropped = on_dropped
        self._on_trim_failed = on_trim_failed
        self._lock = threading.Lock()
        self._con = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")  # durable at commit: we ack after it
        # The WAL is cut back after each checkpoint instead of kept at its largest: the log's
        # disk use stays near its bound, and a full disk is met (and reported) at the next
        # commit, not once the WAL's spare room and the file's free pages are used up.
        self._con.execute("PRAGMA journal_size_limit=0")
        # Pages a trim frees go back to the file system (incremental_vacuum after each trim),
        # so the files stay near the bound instead of at their largest. A log made before
        # this is converted once (VACUUM).
        self._con.execute("PRAGMA auto_vacuum=INCREMENTAL")
        # The WAL is checkpointed (and so cut back) once it holds a twentieth of the bound,
        # which the trim's target (80 % of the bound) leaves room for.
        self._con.execute(f"PRAGMA wal_autocheckpoint={max(16, min(1000, max_bytes // 81920))}")
        self._con.executescript(_SCHEMA)
        if self._con.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            self._con.execute("VACUUM")
        self._page_size = int(self._con.execute("PRAGMA page_size").fetchone()[0])
        self._migrate()
        total = f"SELECT coalesce(sum({_FOOTPRINT}), 0) FROM dead_letters"
        self.bytes = int(self._con.execute(total).fetchone()[0])
        self._aged_at = time.monotonic()
        self.expire()

    def expire(self) -> None:
        """Drop the letters older than ``max_age_s`` (at open, then from ``append`` at most
        once a minute)."""
        with self._lock:
            self._aged_at = time.monotonic()
            dropped = self._drop_older_than(time.time_ns() - int(self.max_age_s * 1e9))
        if dropped and self._on_dropped:
            self._on_dropped(dropped)

    def _migrate(self) -> None:
        """Logs written before payloads were cut lack the size and hash columns."""
        columns = {row[1] for row in self._con.execute("PRAGMA table_info(dead_letters)")}
        if "payload_bytes" not in columns:
            self._con.execute("ALTER TABLE dead_letters ADD COLUMN payload_bytes INTEGER")
            self._con.execute("UPDATE dead_letters SET payload_bytes = length(payload)")
        if "payload_sha256" not in columns:
            self._con.execute(
                "ALTER TABLE dead_letters ADD COLUMN payload_sha256 TEXT NOT NULL DEFAULT ''"
            )

    def append(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        keep = self.keep_bytes
        rows = []
        added = 0
        for d in letters:
            payload, topic = d.payload[:keep], d.topic[:_TOPIC_KEEP]
            detail = d.detail[:_DETAIL_KEEP]
            digest = hashlib.sha256(d.payload).hexdigest()
            rows.append(
                (d.received_ns, topic, d.adapter, d.reason, detail, payload, len(d.payload), digest)
            )
            added += len(payload) + len(topic) + len(detail) + _ROW_OVERHEAD  # as _FOOTPRINT
        with self._lock:
            self._con.execute("BEGIN")
            try:
                self._con.executemany(
                    "INSERT INTO dead_letters (received_ns, topic, adapter, reason, detail, "
                    "payload, payload_bytes, payload_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._con.execute("COMMIT")
            except BaseException:
                if self._con.in_transaction:
                    self._con.execute("ROLLBACK")
                raise
            self.bytes += added
            dropped: Counter[str] = Counter()
            # The letters are committed: a failed trim (a DELETE needs journal space too, so a
            # full disk refuses it) must not reach the caller, who would append them again.
            # The bound is enforced on the next append.
            try:
                # Past 90 % of the bound (counted, or on disk with the WAL: pages hold more
                # than the counted bytes), down to 80 %: the next batches fit under the bound.
                on_disk = self._bytes_on_disk()
                if max(self.bytes, on_disk) > self.max_bytes * 0.9:
                    target = self.max_bytes * 0.8 * min(1.0, self.bytes / max(on_disk, 1))
                    dropped += self._drop_oldest(self.bytes - int(target))
                now = time.monotonic()
                if now - self._aged_at >= _AGE_CHECK_S:
                    self._aged_at = now
                    dropped += self._drop_older_than(time.time_ns() - int(self.max_age_s * 1e9))
            except sqlite3.Error as error:
                log.warning("dead letters kept, trimming the log failed (retried later): %s", error)
                if self._on_trim_failed:
                    self._on_trim_failed(error)
        if dropped and self._on_dropped:
            self._on_dropped(dropped)

    def _bytes_on_disk(self) -> int:
        """The pages the letters use (the file less its free pages) and the WAL (caller holds
        the lock)."""
        pages = self._con.execute("PRAGMA page_count").fetchone()[0]
        free = self._con.execute("PRAGMA freelist_count").fetchone()[0]
        wal = self._path.with_name(self._path.name + "-wal")
        wal_bytes = wal.stat().st_size if wal.exists() else 0
        return (pages - free) * self._page_size + wal_bytes

    def _drop_oldest(self, excess: int) -> Counter[str]:
        """Delete the oldest letters until ``excess`` bytes are gone (caller holds the lock)."""
        cut, freed = None, 0
        for row_id, footprint in self._con.execute(
            f"SELECT id, {_FOOTPRINT} FROM dead_letters ORDER BY id"
        ):
            cut, freed = row_id, freed + footprint
            if freed >= excess:
                break
        if cut is None:
            return Counter()
        return self._delete("id <= ?", cut)

    def _drop_older_than(self, cutoff_ns: int) -> Counter[str]:
        return self._delete("received_ns < ?", cutoff_ns)

    def _delete(self, where: str, value: int) -> Counter[str]:
        self._con.execute("BEGIN")
        try:
            counts = Counter(
                dict(
                    self._con.execute(
                        f"SELECT reason, count(*) FROM dead_letters WHERE {where} GROUP BY reason",
                        (value,),
                    ).fetchall()
                )
            )
            freed = self._con.execute(
                f"SELECT coalesce(sum({_FOOTPRINT}), 0) FROM dead_letters WHERE {where}", (value,)
            ).fetchone()[0]
            self._con.execute(f"DELETE FROM dead_letters WHERE {where}", (value,))
            self._con.execute("COMMIT")
        except BaseException:
            if self._con.in_transaction:
                self._con.execute("ROLLBACK")
            raise
        self.bytes = max(0, self.bytes - int(freed))
        if counts:  # the freed pages back to the file system, and the WAL emptied
            self._con.executescript("PRAGMA incremental_vacuum;")  # run to the end: a page a step
            self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return counts

    def _filters(
        self, adapter: str | None, reason: str | None, start_ns: int | None, end_ns: int | None
    ) -> tuple[str, list[object]]:
        clauses: list[str] = ["1 = 1"]
        params: list[object] = []
        for clause, value in (
            ("adapter = ?", adapter),
            ("reason = ?", reason),
            ("received_ns >= ?", start_ns),
            ("received_ns < ?", end_ns),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return " AND ".join(clauses), params

    def list(
        self,
        *,
        adapter: str | None = None,
        reason: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
        payload_bytes: int = 4096,
    ) -> list[DeadLetter]:
        """Newest first; page with ``before_id`` (the smallest id of the previous page). Only
        the first ``payload_bytes`` of each payload are read (SQLite cuts them)."""
        where, params = self._filters(adapter, reason, start_ns, end_ns)
        if before_id is not None:
            where += " AND id < ?"
            params.append(before_id)
        with self._lock:
            rows = self._con.execute(
                "SELECT topic, substr(payload, 1, ?), adapter, reason, detail, received_ns, id, "
                "coalesce(payload_bytes, length(payload)), payload_sha256 "
                f"FROM dead_letters WHERE {where} ORDER BY id DESC LIMIT ?",
                [payload_bytes, *params, limit],
            ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def counts(
        self,
        *,
        adapter: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> dict[str, int]:
        """Dead letters per reason."""
        where, params = self._filters(adapter, None, start_ns, end_ns)
        with self._lock:
            rows = self._con.execute(
                f"SELECT reason, count(*) FROM dead_letters WHERE {where} "
                "GROUP BY reason ORDER BY reason",
                params,
            ).fetchall()
        return dict(rows)

    def close(self) -> None:
        with self._lock:
            self._con.close()
