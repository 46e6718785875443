"""The store as the API reads it: every ranged question checked against retention first.

A question about a period whose points are deleted (or are about to be) is refused, unless
the rollups answer all of it before the horizon (then the store reads them), with
:class:`~hub.errors.BeyondRetention` (a 400 naming the retention setting) by
:func:`hub.query.check_retention`, before the store is asked: answered from what is left, it
would be silently partial. The clock is the API's, so "now" is the request's instant.
Everything else passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hub.contracts import RefusedPoint, Store
from hub.points import Point
from hub.query import (
    ROLLUPS_HINT,
    AggregateQuery,
    Bucket,
    Catalog,
    LatestQuery,
    LatestRow,
    PointRow,
    PointsQuery,
    RangeQuery,
    SeriesResult,
    SumOfMeansQuery,
    check_retention,
)
from hub.retention import Retention
from hub.rollups import RollupPlan, rollup_for
from hub.rollups import status as status_rollups
from hub.rollups.split import rollups_cover_before, whole_windows
from hub.timestamps import Clock

__all__ = ["RetentionGuard"]

STATUS_HINT = (
    "ask utilization in windows of whole status rollup intervals "
    "(CITYHUB_ROLLUPS__STATUS_INTERVALS)"
)


class RetentionGuard:
    """A :class:`hub.contracts.Store` that refuses questions older than ``retention``."""

    def __init__(
        self, inner: Store, retention: Retention, clock: Clock, rollups: RollupPlan | None = None
    ) -> None:
        self.inner = inner
        self._retention = retention
        self._clock = clock
        self._rollups = rollups or RollupPlan({})

    def _check(
        self, query: RangeQuery, from_rollups: Callable[[Any, int], bool] | None = None
    ) -> None:
        """:func:`hub.query.check_retention` at the request's instant; the 400's hint names
        the status rollups' setting for the chargers' status and sessions (utilization reads
        those rollups), else the numeric rollups'."""
        hint = STATUS_HINT if query.measurement in status_rollups.SOURCES else ROLLUPS_HINT
        check_retention(query, self._clock.now_ns(), self._retention, from_rollups, hint)

    def _from_rollups(self, query: AggregateQuery, horizon_ns: int) -> bool:
        # The stores that keep rollups say since when each is complete (a spool, its store's).
        covered = getattr(self.inner, "rollup_coverage", None)
        if not covered or not self._rollups.of(query.measurement):
            return False
        return rollups_cover_before(query, self._rollups, covered, horizon_ns)

    def _means_from_rollups(self, query: SumOfMeansQuery, horizon_ns: int) -> bool:
        """Whether every window of ``query`` before the horizon is read whole from a rollup:
        a store that reads the whole windows of a sum of means from rollups says so
        (``sum_of_means_from_rollups``: DuckDB's; the windows cut by the range are read from
        raw points, as :func:`hub.rollups.split.whole_windows` cuts them)."""
        covered = getattr(self.inner, "rollup_coverage", None)
        if not covered or not getattr(self.inner, "sum_of_means_from_rollups", False):
            return False
        return all(
            rollup_for(
                AggregateQuery(
                    query.measurement, query.field, "mean", low, high, every_ns=query.every_ns
                ),
                self._rollups,
                covered,
            )
            for low, high in whole_windows(query.start_ns, query.end_ns, query.every_ns)
            if low < horizon_ns
        )

    @property
    def rollup_coverage(self) -> dict[str, int]:
        """The inner store's (none for a store without rollups): readers of rollup rows
        (:mod:`hub.insights.bus_path`) route as the store does."""
        return dict(getattr(self.inner, "rollup_coverage", None) or {})

    def write(self, points: Sequence[Point]) -> list[RefusedPoint]:
        return self.inner.write(points)

    def aggregate(self, query: AggregateQuery) -> list[SeriesResult]:
        self._check(query, self._from_rollups)
        return self.inner.aggregate(query)

    def sum_of_means(self, query: SumOfMeansQuery) -> list[Bucket]:
        self._check(query, self._means_from_rollups)
        return self.inner.sum_of_means(query)

    def points(self, query: PointsQuery) -> list[PointRow]:
        self._check(query)
        return self.inner.points(query)

    def latest(self, query: LatestQuery) -> list[LatestRow]:
        return self.inner.latest(query)

    def catalog(self) -> Catalog:
        return self.inner.catalog()

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()
