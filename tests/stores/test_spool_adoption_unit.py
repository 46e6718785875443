"""Spool ownership and adoption in one process: the lock, orphans found and drained in order
and exactly once by competing adopters, the layout from before spool names, and spools whose
owner lives left alone. (A killed hub process is adopted in tests/ingest/test_spool_adoption.py.)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from hub.contracts import RefusedPoint
from hub.points import Point
from hub.stores.adoption import SpoolAdopter, orphan_candidates
from hub.stores.spool import SpooledStore
from hub.stores.spool_lock import try_lock
from tests.stores.test_spool import SwitchableStore, batch


class Forwarded:
    """The inner stores adopters open, sharing one record of what reached the store."""

    def __init__(self, tmp_path: Path) -> None:
        self.store = SwitchableStore(tmp_path / "inner.duckdb")
        self.lock = threading.Lock()

    def open(self) -> SharedInner:
        return SharedInner(self)


class SharedInner:
    """One adopter's connection: forwards to the shared store (what a spool calls of it)."""

    def __init__(self, shared: Forwarded) -> None:
        self.shared = shared

    def write(self, points: Sequence[Point]) -> list[RefusedPoint]:
        with self.shared.lock:
            return self.shared.store.write(points)

    def ping(self) -> None:
        self.shared.store.ping()

    def close(self) -> None:
        pass


def orphan(root: Path, name: str, inner: SwitchableStore, batches: range) -> None:
    """A spool left by a dead hub: written while the store was down, then abandoned."""
    inner.up = False
    lock = try_lock(root / name)
    assert lock is not None
    spool = SpooledStore(inner, root / name, 1 << 20, lambda _: None, lock=lock)
    for number in batches:
        spool.write(batch(number))
    spool.close()  # releases the lock, as a dying process would
    inner.up = True


def adopter(root: Path, own: str, forwarded: Forwarded) -> SpoolAdopter:
    return SpoolAdopter(
        root,
        own,
        forwarded.open,  # type: ignore[arg-type]  (the part of a Store a spool forwards to)
        lambda _: None,
        interval_s=0.05,
    )


def test_a_live_spool_is_locked_and_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    lock = try_lock(root / "alive")
    assert lock is not None
    assert try_lock(root / "alive") is None  # a second owner, even in this process
    forwarded = Forwarded(tmp_path)
    assert adopter(root, "me", forwarded).adopt_orphans() == 0
    assert (root / "alive").exists()
    lock.release()
    assert try_lock(root / "alive", create=False) is not None


def test_competing_adopters_drain_each_orphan_once_and_in_order(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    forwarded = Forwarded(tmp_path)
    writer = SwitchableStore(tmp_path / "unused.duckdb")
    orphan(root, "dead-1", writer, range(0, 20))
    orphan(root, "dead-2", writer, range(20, 30))
    assert [p.name for p in orphan_candidates(root, "me")] == ["dead-1", "dead-2"]
    adopters = [adopter(root, f"hub-{n}", forwarded) for n in range(3)]
    threads = [threading.Thread(target=a.adopt_orphans) for a in adopters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(a.adopted for a in adopters) == 2
    points = forwarded.store.forwarded()
    expected = [point for number in range(30) for point in batch(number)]
    assert sorted(points, key=lambda p: p.time_ns) == expected  # every point, once
    first = [p for p in points if p.time_ns < expected[20 * 50].time_ns]
    assert first == expected[: 20 * 50]  # one spool's batches in the order written
    assert list(root.iterdir()) == []


def test_an_orphan_is_kept_until_the_store_takes_it(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    forwarded = Forwarded(tmp_path)
    orphan(root, "dead", SwitchableStore(tmp_path / "unused.duckdb"), range(3))
    forwarded.store.up = False
    running = adopter(root, "me", forwarded)
    running.start()
    try:
        threading.Event().wait(0.5)
        assert running.status()["adopting"] == "dead"
        assert running.pending_bytes() > 0
        forwarded.store.up = True
        deadline = threading.Event()
        for _ in range(100):
            if running.adopted == 1:
                break
            deadline.wait(0.05)
        assert running.adopted == 1
    finally:
        running.stop()
    assert len(forwarded.store.forwarded()) == 150
    assert not (root / "dead").exists()


def test_the_layout_before_spool_names_is_adopted(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    writer = SwitchableStore(tmp_path / "unused.duckdb")
    writer.up = False
    legacy = SpooledStore(writer, root, 1 << 20, lambda _: None)  # segments in the root
    legacy.write(batch(7))
    legacy.close()
    forwarded = Forwarded(tmp_path)
    assert adopter(root, "me", forwarded).adopt_orphans() == 1
    assert forwarded.store.forwarded() == batch(7)
    assert not list(root.glob("*.seg")) and not (root / "offset").exists()
