"""Simulated time running against the wall clock, optionally accelerated.

:class:`SimClock` is a :class:`hub.timestamps.Clock`, so a hub running in the same process
can read the simulation's time (then accelerated data is never "in the future"). Without
that, ``clamp_to_wall`` keeps simulated time from passing the real time: an accelerated run
replays the recent past and then continues in real time.
"""

from __future__ import annotations

import time

from hub.timestamps import Clock

__all__ = ["SimClock"]


class SimClock(Clock):
    """Simulated now (UTC ns) = ``start_ns`` + wall time elapsed × ``speed``."""

    def __init__(self, start_ns: int, speed: float = 1.0, clamp_to_wall: bool = True) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.start_ns = start_ns
        self.speed = speed
        self.clamp_to_wall = clamp_to_wall
        self._wall_start_ns = time.time_ns()

    def now_ns(self) -> int:
        wall_ns = time.time_ns()
        simulated = self.start_ns + int((wall_ns - self._wall_start_ns) * self.speed)
        return min(simulated, wall_ns) if self.clamp_to_wall else simulated

    def wall_seconds_until(self, sim_ns: int) -> float:
        """Wall seconds until simulated time reaches ``sim_ns`` (0 if it has)."""
        now = self.now_ns()
        if sim_ns <= now:
            return 0.0
        caught_up = self.clamp_to_wall and now >= time.time_ns() - 1_000_000
        return (sim_ns - now) / 1e9 / (1.0 if caught_up else self.speed)
