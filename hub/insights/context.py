"""What every insight reads: the store, the registry, the settings and the time it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from hub.contracts import Store
from hub.devices import DeviceRegistry
from hub.rollups import RollupPlan
from hub.rollups.plan import Rollup
from hub.settings import InsightsSettings

__all__ = ["DAY_NS", "NS_PER_S", "Context", "format_time", "utc"]

NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S


@dataclass(frozen=True)
class Context:
    """One request's inputs. ``now_ns`` is read once from the clock, so an answer is about one
    instant (tests pass a fixed one); ``max_points`` caps the raw points one answer reads;
    ``rollups`` is the plan the store keeps, for the answers that read rollup rows
    themselves (bus-km, utilization)."""

    store: Store
    registry: DeviceRegistry
    config: InsightsSettings
    max_points: int
    now_ns: int
    rollups: RollupPlan = field(default_factory=lambda: RollupPlan({}))

    @property
    def status_rollups(self) -> tuple[Rollup, ...]:
        """The status rollups (:mod:`hub.rollups.status`) the store keeps: utilization reads
        them."""
        return self.rollups.status

    @property
    def day_start_ns(self) -> int:
        """00:00 UTC of today (every window of the API is aligned to the Unix epoch)."""
        return self.now_ns - self.now_ns % DAY_NS


def utc(time_ns: int) -> datetime:
    """A UTC datetime, to the microsecond (what JSON and the answers carry)."""
    seconds, rest = divmod(time_ns, NS_PER_S)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest // 1000)


def format_time(time_ns: int) -> str:
    """RFC 3339 in UTC with ``Z``, as the answers write it."""
    return utc(time_ns).isoformat().replace("+00:00", "Z")
