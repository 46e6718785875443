"""Which rollups exist, what they are named, and which fields they hold.

A **rollup** of measurement ``m`` at interval ``I`` (``15m``, ``1h``, ``1d``) is the
measurement ``m_<I>``: one point per series (the same tags as the raw points) and interval,
at the interval's start, holding for every numeric field ``f`` of ``m``:

====================== ===================================================================
``f_count``            readings of ``f`` in the interval
``f_sum``              their sum (a mean is ``sum / count`` over the intervals: never a mean
                       of means)
``f_min``, ``f_max``   their extremes
``f_first``, ``f_last`` the first and last reading by time
``f_first_offset_ns``,  their times, from the interval's start (exact as a float for any
``f_last_offset_ns``    interval under 104 days): a first over several series is by time
``f_increase_within``  the counter increase between the readings *inside* the interval (the
                       first reading counts nothing: the step from the reading before the
                       interval is added at query time, from the previous interval's
                       ``f_last``, so late data in one interval never changes another's row)
====================== ===================================================================

(DuckDB's rollups also store that step, ``f_step``, and when the previous reading was,
``f_prev_offset_ns``, so that an ``increase`` needs no window function; a late point then
changes the next interval's row too: :mod:`hub.stores.duckdb_steps`.)

(a measurement whose points carry ``latitude`` and ``longitude`` also keeps the path through
its fixes: :mod:`hub.rollups.path`), and ``last_offset_ns``: the time from the interval's
start to its last raw point (of any field), which tells
the maintenance whether a new batch only appends to the interval (then the row and the new
points are combined) or lands inside it (then the interval is recomputed from raw points).

Each row depends on the raw points of its own interval only; a coarser rollup (``1d``) is
computed from the next finer one of the same measurement (``1h``), which composes exactly.

The **status rollups** (:attr:`RollupPlan.status`: ``charger_status_1h``, ``_1d``) hold per
connector the seconds in each status instead; their fields and maintenance are in
:mod:`hub.rollups.status`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from hub.query import parse_duration_ns

__all__ = ["LAST_OFFSET", "STATS", "STATUS_MEASUREMENT", "Rollup", "RollupPlan", "rollup_field"]

STATS = (
    "count",
    "sum",
    "min",
    "max",
    "first",
    "last",
    "increase_within",
    "first_offset_ns",
    "last_offset_ns",
)
LAST_OFFSET = "last_offset_ns"
STATUS_MEASUREMENT = "charger_status"  # the source (and name stem) of the status rollups


def rollup_field(field: str, stat: str) -> str:
    """The rollup field holding ``stat`` of ``field`` (``power_w_sum``)."""
    return f"{field}_{stat}"


@dataclass(frozen=True, order=True)
class Rollup:
    """The rollup of ``measurement`` at ``interval_ns``, labelled ``label`` (``1h``)."""

    measurement: str
    interval_ns: int
    label: str

    @property
    def name(self) -> str:
        return f"{self.measurement}_{self.label}"


@dataclass(frozen=True)
class RollupPlan:
    """Every rollup the hub maintains, by source measurement, finest interval first; the
    numeric ones in ``by_measurement``, the connectors' status ones in ``status``."""

    by_measurement: Mapping[str, tuple[Rollup, ...]]
    status: tuple[Rollup, ...] = ()

    @classmethod
    def from_labels(
        cls, intervals: Mapping[str, Iterable[str]], status: Iterable[str] = ()
    ) -> RollupPlan:
        """``{"building_energy": ["15m", "1h", "1d"]}``, and the status rollups' intervals
        (``["1h", "1d"]``); ``ValueError`` names a bad interval: each must be a whole number
        of seconds dividing one day, and each coarser one a multiple of the finer ones (a day
        is composed of its hours)."""
        if STATUS_MEASUREMENT in intervals:
            raise ValueError(f"{STATUS_MEASUREMENT}: its rollups are the status rollups")
        plan = cls._checked({**intervals, STATUS_MEASUREMENT: status})
        return cls(plan, plan.pop(STATUS_MEASUREMENT, ()))

    @staticmethod
    def _checked(intervals: Mapping[str, Iterable[str]]) -> dict[str, tuple[Rollup, ...]]:
        plan: dict[str, tuple[Rollup, ...]] = {}
        for measurement, labels in intervals.items():
            rollups = sorted(
                {Rollup(measurement, parse_duration_ns(label), label) for label in labels},
                key=lambda r: r.interval_ns,
            )
            for finer, coarser in itertools.pairwise(rollups):
                if coarser.interval_ns % finer.interval_ns:
                    raise ValueError(
                        f"{measurement}: {coarser.label} is not a multiple of {finer.label}"
                    )
            for rollup in rollups:
                if 86_400 * 10**9 % rollup.interval_ns or rollup.interval_ns % 10**9:
                    raise ValueError(
                        f"{measurement}: {rollup.label} must be whole seconds and divide one day"
                    )
            if rollups:
                plan[measurement] = tuple(rollups)
        return plan

    def of(self, measurement: str) -> tuple[Rollup, ...]:
        return self.by_measurement.get(measurement, ())

    def __iter__(self) -> Iterator[Rollup]:
        for rollups in self.by_measurement.values():
            yield from rollups
        yield from self.status

    def __bool__(self) -> bool:
        return bool(self.by_measurement or self.status)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(rollup.name for rollup in self)
