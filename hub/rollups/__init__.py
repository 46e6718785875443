"""Rollups the hub maintains: per series and interval, the aggregates that answer the operator
questions exactly, stored as ordinary measurements (``<measurement>_1h`` ...), and the rule that
says when a query may read them instead of raw points (:func:`rollup_for`)."""

from hub.rollups.plan import (
    STATS,
    Rollup,
    RollupPlan,
    rollup_field,
)
from hub.rollups.routing import rollup_for

__all__ = ["STATS", "Rollup", "RollupPlan", "rollup_field", "rollup_for"]
