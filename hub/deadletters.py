"""Dead letters: every message the hub could not ingest, kept durably with its reason.

A dead letter is the message as received (topic, payload bytes), the adapter that refused it
(or ``""`` when no adapter owns the topic), the reason code, the detail, and the time it was
received. They live in a SQLite file beside the store, whatever the store is, written in the
same batch cycle as the points and committed (fsync'd) before the batch's MQTT messages are
acknowledged, so a dead letter is never lost either.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DeadLetter", "DeadLetterLog"]

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


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    payload: bytes
    adapter: str
    reason: str
    detail: str
    received_ns: int
    id: int | None = None


class DeadLetterLog:
    """Append-only durable log of dead letters with filtered listing and counts by reason."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()
        self._con = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")  # durable at commit: we ack after it
        self._con.executescript(_SCHEMA)

    def append(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        rows = [(d.received_ns, d.topic, d.adapter, d.reason, d.detail, d.payload) for d in letters]
        with self._lock:
            self._con.execute("BEGIN")
            self._con.executemany(
                "INSERT INTO dead_letters (received_ns, topic, adapter, reason, detail, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._con.execute("COMMIT")

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
    ) -> list[DeadLetter]:
        """Newest first; page with ``before_id`` (the smallest id of the previous page)."""
        where, params = self._filters(adapter, reason, start_ns, end_ns)
        if before_id is not None:
            where += " AND id < ?"
            params.append(before_id)
        with self._lock:
            rows = self._con.execute(
                "SELECT topic, payload, adapter, reason, detail, received_ns, id "
                f"FROM dead_letters WHERE {where} ORDER BY id DESC LIMIT ?",
                [*params, limit],
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
