"""The dead-letter log cannot fill the disk: payloads are cut, the log is bounded in size and
age, the oldest go first and every drop is counted per reason."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from hub.deadletters import DeadLetter, DeadLetterLog
from tests.reliability.disk import SmallDisk


def letter(i: int, size: int, reason: str = "invalid_json", at_ns: int | None = None) -> DeadLetter:
    payload = (f"{i:08d}" * (size // 8 + 1)).encode()[:size]
    return DeadLetter(
        "senml/m-1", payload, "senml", reason, "not JSON", at_ns or time.time_ns() + i
    )


def test_a_dead_letter_keeps_the_first_bytes_with_the_size_and_hash(tmp_path: Path) -> None:
    log = DeadLetterLog(tmp_path / "dl.sqlite", keep_bytes=4096)
    original = letter(1, 200_000)
    log.append([original])
    [kept] = log.list()
    assert kept.payload == original.payload[:4096]
    assert kept.payload_bytes == 200_000
    assert kept.sha256 == hashlib.sha256(original.payload).hexdigest()
    [short] = log.list(payload_bytes=10)  # a reader never loads more than it returns
    assert short.payload == original.payload[:10]


def test_the_log_stays_within_its_size_dropping_the_oldest_counted(tmp_path: Path) -> None:
    dropped: Counter[str] = Counter()
    path = tmp_path / "dl.sqlite"
    log = DeadLetterLog(path, keep_bytes=4096, max_bytes=1 << 20, on_dropped=dropped.update)
    total = 2000
    for start in range(0, total, 100):
        reason = "invalid_json" if start % 200 else "too_large"
        log.append([letter(i, 200_000, reason) for i in range(start, start + 100)])
        assert log.bytes <= 1 << 20
        # the file holds the bound and no more: the pages a trim frees are given back
        assert path.stat().st_size <= 1 << 20, f"{path.stat().st_size} bytes for a 1 MiB log"
    kept = sum(log.counts().values())
    assert 0 < kept < total
    assert sum(dropped.values()) == total - kept
    assert set(dropped) == {"invalid_json", "too_large"}
    ids = [d.id for d in log.list(limit=10_000)]
    assert min(ids) == total - kept + 1, "not the oldest were dropped"
    log.close()
    on_disk = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert on_disk < 2 << 20, f"{on_disk} bytes on disk (with the WAL) for a 1 MiB log"


def test_letters_older_than_the_age_bound_are_dropped(tmp_path: Path) -> None:
    dropped: Counter[str] = Counter()
    log = DeadLetterLog(tmp_path / "dl.sqlite", max_age_s=3600, on_dropped=dropped.update)
    old = time.time_ns() - 7200 * 10**9
    log.append([letter(i, 100, "unknown_device", at_ns=old + i) for i in range(5)])
    log.append([letter(9, 100)])
    assert sum(log.counts().values()) == 6  # expiry runs at open and then once a minute
    reopened = DeadLetterLog(tmp_path / "dl.sqlite", max_age_s=3600, on_dropped=dropped.update)
    assert reopened.counts() == {"invalid_json": 1}
    assert dropped == {"unknown_device": 5}


def test_a_log_written_before_the_bounds_is_read_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "dl.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, received_ns INTEGER "
        "NOT NULL, topic TEXT NOT NULL, adapter TEXT NOT NULL, reason TEXT NOT NULL, detail "
        "TEXT NOT NULL, payload BLOB NOT NULL);"
    )
    con.execute(
        "INSERT INTO dead_letters (received_ns, topic, adapter, reason, detail, payload) "
        "VALUES (?, 't', 'a', 'r', 'd', ?)",
        (time.time_ns(), b"x" * 10_000),
    )
    con.commit()
    con.close()
    log = DeadLetterLog(path)
    [old] = log.list()
    assert old.payload_bytes == 10_000
    assert len(old.payload) == 4096
    assert log.bytes >= 10_000


def test_a_failed_trim_keeps_the_committed_letters_once(tmp_path: Path) -> None:
    # A DELETE needs journal space too: on a full disk the trim after a commit fails. The
    # letters are committed by then; raising would make the pipeline append them again.
    path = tmp_path / "dl.sqlite"
    failures: list[sqlite3.Error] = []
    log = DeadLetterLog(path, keep_bytes=4096, max_bytes=1 << 20, on_trim_failed=failures.append)
    refuse = sqlite3.connect(path)
    refuse.execute(
        "CREATE TRIGGER refuse_delete BEFORE DELETE ON dead_letters "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    refuse.commit()
    for start in range(0, 600, 100):  # 2.4 MiB of letters: over the bound, trims refused
        log.append([letter(i, 4096) for i in range(start, start + 100)])
    assert sum(log.counts().values()) == 600, "a letter lost or stored twice"
    assert log.bytes > 1 << 20
    assert failures and "disk is full" in str(failures[0]), "the refused trim went unreported"

    refuse.execute("DROP TRIGGER refuse_delete")
    refuse.commit()
    refuse.close()
    log.append([letter(600, 4096)])  # space is back: the next append enforces the bound
    assert log.bytes <= 1 << 20
    assert 0 < sum(log.counts().values()) < 601


def test_a_full_disk_is_met_at_the_next_append(tmp_path: Path) -> None:
    # Kept at its largest, the WAL's spare room (and the file's free pages after trims) took
    # 2,000 more letters on a full disk without an error: the hub never reported the disk.
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root (CI runs as root)")
    disk = SmallDisk(tmp_path / "disk", size_mb=20).mount()
    try:
        log = DeadLetterLog(disk.path / "dl.sqlite", keep_bytes=4096, max_bytes=2 << 20)
        for start in range(0, 2000, 50):  # trims run, the WAL cycles through checkpoints
            log.append([letter(i, 200_000) for i in range(start, start + 50)])
        before = sum(log.counts().values())
        disk.fill()
        with pytest.raises(sqlite3.OperationalError, match="full"):
            log.append([letter(9000 + i, 200_000) for i in range(20)])
        assert sum(log.counts().values()) == before  # the refused batch left nothing behind
        disk.free()
        log.append([letter(9100, 200_000)])  # and the log goes on once there is room
        assert sum(log.counts().values()) == before + 1
        log.close()
    finally:
        disk.unmount()
