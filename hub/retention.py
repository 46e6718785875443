"""How long points are kept, per tier: raw points and rollups.

A measurement is a **rollup** when the rollup plan names it (``CITYHUB_ROLLUPS__INTERVALS``:
``building_energy_15m``, ``_1h``, ``_1d`` by default; see :mod:`hub.rollups`) or it is the
rollups' coverage record: :meth:`Retention.is_rollup`, and nowhere else. Every other
measurement is raw. (Names, not a suffix rule: a daily rollup ``_1d`` must outlive the raw
points as its hourly sibling does, and a raw measurement may end in ``_1h`` too.)

:class:`Retention` says, for a measurement, how long it is kept (``None``: forever) and which
setting says so, for the stores that delete (DuckDB), the stores that are told
(InfluxDB retention policies) and the query layer that refuses a question about a period
whose raw points are gone (:func:`hub.query.check_retention`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COVERAGE_MEASUREMENT", "DAY_NS", "RAW_SETTING", "ROLLUP_SETTING", "Retention"]

DAY_NS = 86_400 * 1_000_000_000
COVERAGE_MEASUREMENT = "rollup_coverage"  # since when each rollup is complete (InfluxDB)
RAW_SETTING = "CITYHUB_RETENTION__RAW_DAYS"
ROLLUP_SETTING = "CITYHUB_RETENTION__ROLLUP_DAYS"


@dataclass(frozen=True)
class Retention:
    """Days each tier is kept; 0 is forever. ``rollups``: the rollup measurements' names."""

    raw_days: int = 90
    rollup_days: int = 0
    rollups: frozenset[str] = frozenset()

    def is_rollup(self, measurement: str) -> bool:
        """Whether ``measurement`` is kept ``rollup_days`` (a rollup), not ``raw_days``."""
        return measurement in self.rollups or measurement == COVERAGE_MEASUREMENT

    def days(self, measurement: str) -> int:
        return self.rollup_days if self.is_rollup(measurement) else self.raw_days

    def keep_ns(self, measurement: str) -> int | None:
        """How long points of ``measurement`` are kept, in ns; ``None`` keeps them forever."""
        days = self.days(measurement)
        return days * DAY_NS if days else None

    def setting(self, measurement: str) -> str:
        """The environment variable that sets ``measurement``'s retention."""
        return ROLLUP_SETTING if self.is_rollup(measurement) else RAW_SETTING
