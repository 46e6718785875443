"""A one-line progress display on stderr: share done, messages, rate, simulated time."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import TextIO

__all__ = ["ProgressLine"]


class ProgressLine:
    """Rewrites one stderr line at most every ``every_s`` seconds (only on a terminal,
    unless ``force``); :meth:`done` ends it with a newline."""

    def __init__(
        self, label: str, stream: TextIO | None = None, every_s: float = 0.5, force: bool = False
    ) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.enabled = force or self.stream.isatty()
        self._started = time.monotonic()
        self._shown = 0.0
        self._count = 0

    def update(self, count: int, sim_ns: int, share: float | None = None) -> None:
        """``count`` messages sent so far, simulated time ``sim_ns``, ``share`` done (0..1)."""
        self._count = count
        now = time.monotonic()
        if not self.enabled or now - self._shown < self.every_s:
            return
        self._shown = now
        self.stream.write("\r" + self._text(count, sim_ns, share))
        self.stream.flush()

    def done(self, sim_ns: int) -> None:
        if self.enabled:
            self.stream.write("\r" + self._text(self._count, sim_ns, 1.0) + "\n")
            self.stream.flush()

    def _text(self, count: int, sim_ns: int, share: float | None) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        moment = datetime.fromtimestamp(sim_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        percent = "" if share is None else f"{min(share, 1.0) * 100:5.1f}%  "
        return (
            f"{self.label}: {percent}{count:,} msgs  {count / elapsed:,.0f} msg/s  sim {moment}Z   "
        )
