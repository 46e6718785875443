"""The one decision: may this aggregate be answered from a rollup, and from which?

A rollup answers an aggregate exactly when every window of the query is a union of whole
rollup intervals and the rollup holds every interval of the range:

* the function is one a rollup keeps exactly (everything but ``percentile``, which needs the
  raw values);
* ``every`` is a multiple of the interval (windows are aligned to the epoch, so are the
  intervals), or there is one window for the whole range;
* the range starts and ends on interval boundaries (a window cut by the range would count
  only part of an interval);
* for ``increase``, the rollup also holds the interval where the anchor lookback starts (the
  anchor is the last reading of the last interval before the range that has one, if that
  reading is inside the lookback);
* the range starts at or after ``covered_since_ns``: the rollup holds every interval from
  there on (data stored before rollups were enabled is covered once ``cityhub rollups
  rebuild --since`` has run).

The coarsest rollup that qualifies is chosen (fewest rows to read). Retention (raw points
deleted after a while) asks the same question: a query on a period without raw points can be
answered only when this function names a rollup.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.query import AggregateQuery
from hub.rollups.plan import Rollup, RollupPlan

__all__ = ["EXACT_FUNCTIONS", "rollup_for"]

EXACT_FUNCTIONS = frozenset({"mean", "sum", "min", "max", "count", "first", "last", "increase"})


def rollup_for(
    query: AggregateQuery, plan: RollupPlan, covered_since_ns: Mapping[str, int]
) -> Rollup | None:
    """The coarsest rollup that answers ``query`` exactly, or ``None``: read raw points.
    ``covered_since_ns`` maps a rollup's name to the first instant it holds completely."""
    if query.function not in EXACT_FUNCTIONS:
        return None
    for rollup in reversed(plan.of(query.measurement)):
        interval = rollup.interval_ns
        if query.every_ns is not None and query.every_ns % interval:
            continue
        if query.start_ns % interval or query.end_ns % interval:
            continue
        since = covered_since_ns.get(rollup.name)
        if since is None:
            continue
        first_needed = query.start_ns
        if query.function == "increase":  # the anchor: from the interval holding start - lookback
            first_needed -= query.counter_lookback_ns
            first_needed -= first_needed % interval
        if first_needed < since:
            continue
        return rollup
    return None
