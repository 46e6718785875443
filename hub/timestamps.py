"""Time normalization: every timestamp a device sends becomes UTC nanoseconds here.

Accepted: epoch seconds, milliseconds, microseconds or nanoseconds (decided by magnitude, so a
gateway's milliseconds and GTFS-RT's seconds both work), numeric strings of those (protobuf's
JSON mapping sends uint64 as a string), RFC 3339 / ISO 8601 with an offset or ``Z``, and naive
local times, read in the configured time zone (Tasmota, some chargers).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hub.errors import Rejected

__all__ = ["NS_PER_S", "Clock", "FixedClock", "TimePolicy", "epoch_to_ns", "iso_to_ns", "to_ns"]

NS_PER_S = 1_000_000_000
# Magnitude limits: 1e11 s is year 5138, 1e14 ms and 1e17 us likewise.
_SECONDS_BELOW = 1e11
_MILLIS_BELOW = 1e14
_MICROS_BELOW = 1e17
_EARLIEST_NS = 946_684_800 * NS_PER_S  # 2000-01-01: an unset device clock, not a reading
_FRACTION = re.compile(r"(\.\d{7,})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_to_ns(value: float) -> int:
    """Epoch seconds, milliseconds, microseconds or nanoseconds to nanoseconds."""
    if not math.isfinite(value) or value < 0:
        raise Rejected("bad_timestamp", f"epoch time {value!r} is not a positive finite number")
    if value < _SECONDS_BELOW:
        scale = NS_PER_S
    elif value < _MILLIS_BELOW:
        scale = 1_000_000
    elif value < _MICROS_BELOW:
        scale = 1_000
    else:
        return int(value)
    whole = int(value)
    if isinstance(value, int):
        return whole * scale
    # A float epoch carries about 16 significant digits: seconds near 1.7e9 are good to the
    # microsecond, so round the fraction there instead of inventing nanoseconds from noise.
    fraction_ns = round((value - whole) * scale / 1_000) * 1_000 if scale > 1_000 else 0
    return whole * scale + fraction_ns


def iso_to_ns(text: str, zone: ZoneInfo) -> int:
    """RFC 3339 / ISO 8601 to nanoseconds; a time without offset is local time in ``zone``."""
    extra_ns = 0
    match = _FRACTION.search(text) if "." in text else None
    if match:  # datetime keeps microseconds: carry the digits beyond them ourselves
        digits = match.group(1)[1:]
        extra_ns = int(digits[6:9].ljust(3, "0"))
        text = text[: match.start()] + "." + digits[:6] + text[match.end() :]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Rejected("bad_timestamp", f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    # Aware datetimes subtract in UTC (each through its own utcoffset, as astimezone does):
    # whole days, seconds and microseconds, in integers, without a float timestamp.
    since = moment - _EPOCH
    return (since.days * 86_400 + since.seconds) * NS_PER_S + since.microseconds * 1000 + extra_ns


def to_ns(value: float | int | str, zone: ZoneInfo) -> int:
    """Any accepted timestamp representation to UTC nanoseconds."""
    if isinstance(value, bool):
        raise Rejected("bad_timestamp", f"{value!r} is not a time")
    if isinstance(value, int | float):
        return epoch_to_ns(value)
    stripped = value.strip()
    if stripped.isascii() and stripped.isdigit():
        return epoch_to_ns(int(stripped))
    return iso_to_ns(stripped, zone)


class Clock:
    """Wall-clock source, replaceable in tests and by the simulators' virtual time."""

    def now_ns(self) -> int:
        return time.time_ns()


class FixedClock(Clock):
    """A clock that always says ``time_ns`` (tests, replays)."""

    def __init__(self, time_ns: int) -> None:
        self.time_ns = time_ns

    def now_ns(self) -> int:
        return self.time_ns


@dataclass(frozen=True)
class TimePolicy:
    """How adapters read times: the local zone of naive times and the plausible range."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    max_future_s: float = 300.0
    clock: Clock = field(default_factory=Clock)
    # Raw points are kept this long (CITYHUB_RETENTION__RAW_DAYS; None: forever). An older
    # point would be deleted by the next sweep, and the rollup of its interval recomputed from
    # it alone (the interval's other raw points are gone): refused instead.
    max_age_days: int | None = None

    def to_ns(self, value: float | int | str) -> int:
        """Normalize and check: earlier than 2000, older than the raw retention or too far in
        the future is rejected."""
        return self.check(to_ns(value, self.zone))

    def check(self, time_ns: int) -> int:
        if time_ns < _EARLIEST_NS:
            raise Rejected("bad_timestamp", f"time {_iso(time_ns)} is before 2000 (unset clock?)")
        now_ns = self.clock.now_ns()
        if time_ns > now_ns + int(self.max_future_s * NS_PER_S):
            raise Rejected(
                "future_timestamp",
                f"time {_iso(time_ns)} is more than {self.max_future_s:g} s in the future",
            )
        if self.max_age_days and time_ns < now_ns - self.max_age_days * 86_400 * NS_PER_S:
            raise Rejected(
                "beyond_retention",
                f"time {_iso(time_ns)} is older than the {self.max_age_days} days raw points "
                "are kept (CITYHUB_RETENTION__RAW_DAYS)",
            )
        return time_ns


def _iso(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / NS_PER_S, tz=UTC).isoformat()
