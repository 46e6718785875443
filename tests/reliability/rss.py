"""Peak resident memory of a process and its children, sampled from /proc."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["PeakRss", "tree_rss"]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    """Bytes resident in ``pid`` and all its descendants (the hub and its MQTT client)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _rss(current)
        todo += _children(current)
    return total


class PeakRss:
    """Samples :func:`tree_rss` every ``interval_s`` in a thread; ``peak`` is the highest.
    ``pid`` may be a callable, for a process not started yet (``None`` until it is)."""

    def __init__(self, pid: int | Callable[[], int | None], interval_s: float = 0.05) -> None:
        self.pid = pid
        self.peak = 0
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            pid = self.pid() if callable(self.pid) else self.pid
            if pid is not None:
                self.peak = max(self.peak, tree_rss(pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
