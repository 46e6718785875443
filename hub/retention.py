"""How long points are kept, per tier: raw points and rollups.

A measurement is a **rollup** when its name ends in a rollup suffix (``_1h``, ``_15m``): the
hourly and quarter-hourly aggregates the hub maintains are written as ordinary measurements
named ``<measurement>_1h`` and ``<measurement>_15m``. That rule is :func:`is_rollup_measurement`
and nowhere else; every other measurement is raw.

:class:`Retention` says, for a measurement, how long it is kept (``None``: forever) and which
setting says so, for the stores that delete (DuckDB), the stores that are told
(InfluxDB retention policies) and the query layer that refuses a question about a period
whose raw points are gone (:func:`hub.query.check_retention`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DAY_NS", "RAW_SETTING", "ROLLUP_SETTING", "ROLLUP_SUFFIXES", "Retention",
           "is_rollup_measurement"]  # fmt: skip

DAY_NS = 86_400 * 1_000_000_000
ROLLUP_SUFFIXES = ("_1h", "_15m")
RAW_SETTING = "CITYHUB_RETENTION__RAW_DAYS"
ROLLUP_SETTING = "CITYHUB_RETENTION__ROLLUP_DAYS"


def is_rollup_measurement(name: str) -> bool:
    """Whether ``name`` is a rollup measurement (kept ``rollup_days``), not raw points."""
    return name.endswith(ROLLUP_SUFFIXES)


@dataclass(frozen=True)
class Retention:
    """Days each tier is kept; 0 is forever."""

    raw_days: int = 90
    rollup_days: int = 0

    def days(self, measurement: str) -> int:
        return self.rollup_days if is_rollup_measurement(measurement) else self.raw_days

    def keep_ns(self, measurement: str) -> int | None:
        """How long points of ``measurement`` are kept, in ns; ``None`` keeps them forever."""
        days = self.days(measurement)
        return days * DAY_NS if days else None

    def setting(self, measurement: str) -> str:
        """The environment variable that sets ``measurement``'s retention."""
        return ROLLUP_SETTING if is_rollup_measurement(measurement) else RAW_SETTING
