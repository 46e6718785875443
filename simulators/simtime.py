"""Simulated time: the anchor of all cumulative models, the city's zone, and formatting.

Times are integer epoch seconds inside the models (devices stamp whole seconds) and UTC
nanoseconds in the ground truth. Load curves and timetables run on the city's *standard*
local time (its winter offset, whole hours); device clocks that print local time (Tasmota)
print the zone's real local time, daylight saving included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

__all__ = [
    "ANCHOR_S",
    "DAY_S",
    "HOUR_S",
    "NS_PER_S",
    "CityTime",
    "iso_utc",
    "parse_duration_s",
    "to_seconds",
]

NS_PER_S = 1_000_000_000
HOUR_S = 3_600
DAY_S = 86_400
ANCHOR_S = 1_578_268_800  # 2020-01-06T00:00:00Z, a Monday: origin of every cumulative model
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": HOUR_S, "d": DAY_S, "w": 7 * DAY_S}


def to_seconds(value: datetime | int | float) -> int:
    """An aware datetime, or epoch nanoseconds (int), to whole epoch seconds (floor)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("simulated times must be timezone-aware datetimes")
        return int(value.timestamp() // 1)
    return int(value // NS_PER_S)


def parse_duration_s(text: str) -> float:
    """``"7d"``, ``"90m"``, ``"1h30m"``, ``"3600"`` (seconds) to seconds."""
    parts = _DURATION.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"{text!r} is not a duration like 7d, 12h, 90m or 3600")
    return sum(float(number) * _UNIT_S[unit] for number, unit in parts)


def iso_utc(time_s: int, millis: bool = False) -> str:
    """``2026-01-01T12:00:00Z`` (or ``...00.000Z``) for epoch seconds."""
    text = datetime.fromtimestamp(time_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (".000Z" if millis else "Z")


@dataclass(frozen=True)
class CityTime:
    """The city's time zone (IANA name) and the calendar helpers built on it."""

    zone_name: str = "UTC"

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.zone_name)

    @cached_property
    def standard_offset_s(self) -> int:
        """The zone's standard (winter) offset from UTC, whole hours, in seconds."""
        offsets = [
            datetime(2021, month, 15, tzinfo=self.zone).utcoffset() or timedelta()
            for month in (1, 7)
        ]
        return int(min(offsets).total_seconds() // HOUR_S) * HOUR_S

    def day_index(self, time_s: int) -> int:
        """Local standard days since the anchor (day 0 is a Monday)."""
        return (time_s + self.standard_offset_s - ANCHOR_S) // DAY_S

    def day_start_s(self, day: int) -> int:
        """Epoch seconds of local standard midnight starting ``day``."""
        return ANCHOR_S + day * DAY_S - self.standard_offset_s

    def weekday(self, time_s: int) -> int:
        """0 = Monday ... 6 = Sunday (local standard time)."""
        return self.day_index(time_s) % 7

    def local_midnight_s(self, time_s: int) -> int:
        """Epoch seconds of the real local midnight (daylight saving included) before ``time_s``."""
        local = datetime.fromtimestamp(time_s, tz=self.zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return int(midnight.timestamp())

    def naive_local(self, time_s: int) -> str:
        """Real local time without offset, as Tasmota prints it: ``2026-01-01T13:00:00``."""
        return datetime.fromtimestamp(time_s, tz=self.zone).strftime("%Y-%m-%dT%H:%M:%S")

    def iso_local(self, time_s: int) -> str:
        """Real local time with its offset: ``2026-07-01T14:00:00+02:00``."""
        return datetime.fromtimestamp(time_s, tz=self.zone).isoformat(timespec="seconds")
