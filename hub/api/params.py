"""Query parameters the routes share, each rule written once: times, durations, periods,
windows and the limit on how many windows one request may ask for.

``PeriodDep`` reads ``start``/``end`` (relative times against the request's clock);
``WindowsDep`` adds ``every``; :func:`check_windows` refuses a request for more windows than
``CITYHUB_API__MAX_BUCKETS`` naming the parameter to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from hub.api.deps import ClockDep, SettingsDep
from hub.api.problems import BadParameter
from hub.insights.context import DAY_NS
from hub.query import parse_duration_ns

__all__ = [
    "DAY_NS",
    "DemandWindowDep",
    "Period",
    "PeriodDep",
    "Windows",
    "WindowsDep",
    "check_windows",
    "parse_duration",
    "parse_time",
]

StartParam = Annotated[
    str | None,
    Query(description="RFC 3339 or relative (`-24h`); default 24 h before end", examples=["-24h"]),
]
EndParam = Annotated[
    str | None, Query(description="RFC 3339, relative or `now` (default)", examples=["now"])
]
EveryParam = Annotated[
    str, Query(description="Window length: `15m`, `1h`, `1d`...", examples=["1h"])
]
# Years 1..9999 in ns fit an int64 only from 1678 to 2262; the stores keep int64 times.
_EARLIEST_NS = -(2**63) + DAY_NS
_LATEST_NS = 2**63 - 1 - DAY_NS
_LONGEST_NS = 36_500 * DAY_NS


def parse_time(value: str | None, default_ns: int, name: str, now_ns: int) -> int:
    """RFC 3339 (``2024-05-01T00:00:00Z``), relative to now (``-24h``, ``-15m``), or ``now``."""
    if value is None:
        return default_ns
    text = value.strip()
    try:
        if text == "now":
            time_ns = now_ns
        elif text.startswith("-"):
            time_ns = now_ns - parse_duration_ns(text[1:])
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                raise BadParameter(name, f"{name}={value!r}: give an offset or Z (times are UTC)")
            time_ns = int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
    except (ValueError, OverflowError):
        raise BadParameter(
            name, f"{name}={value!r}: use RFC 3339 (2024-05-01T00:00:00Z), -24h, or now"
        ) from None
    if not _EARLIEST_NS <= time_ns <= _LATEST_NS:
        raise BadParameter(name, f"{name}={value!r}: give a time between 1678 and 2262")
    return time_ns


def parse_duration(value: str, name: str) -> int:
    """A duration (``15m``, ``1h``, ``1d``) up to 100 years, in ns."""
    try:
        duration_ns = parse_duration_ns(value)
    except (ValueError, OverflowError) as error:
        raise BadParameter(name, f"{name}={value!r}: {error}") from None
    if duration_ns > _LONGEST_NS:
        raise BadParameter(name, f"{name}={value!r}: give at most 100 years (36500d)")
    return duration_ns


def check_windows(start_ns: int, end_ns: int, every_ns: int, limit: int, name: str) -> None:
    """Refuse more epoch-aligned windows of ``every_ns`` in ``[start_ns, end_ns)`` than
    ``limit`` (``CITYHUB_API__MAX_BUCKETS``)."""
    first = start_ns - start_ns % every_ns
    count = -(-(end_ns - first) // every_ns)
    if count > limit:
        raise BadParameter(
            name,
            f"{count} windows of {name} is more than the limit of {limit} "
            f"(CITYHUB_API__MAX_BUCKETS): shorten the range or widen {name}",
        )


@dataclass(frozen=True)
class Period:
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class Windows:
    start_ns: int
    end_ns: int
    every_ns: int
    every: str


def get_period(clock: ClockDep, start: StartParam = None, end: EndParam = None) -> Period:
    now_ns = clock.now_ns()
    end_ns = parse_time(end, now_ns, "end", now_ns)
    start_ns = parse_time(start, end_ns - DAY_NS, "start", now_ns)
    if end_ns <= start_ns:
        raise BadParameter("end", "the range is empty: end must be after start")
    return Period(start_ns, end_ns)


PeriodDep = Annotated[Period, Depends(get_period)]


def get_windows(settings: SettingsDep, period: PeriodDep, every: EveryParam = "1h") -> Windows:
    every_ns = parse_duration(every, "every")
    check_windows(period.start_ns, period.end_ns, every_ns, settings.api.max_buckets, "every")
    return Windows(period.start_ns, period.end_ns, every_ns, every)


WindowsDep = Annotated[Windows, Depends(get_windows)]


WindowParam = Annotated[
    str,
    Query(description="Demand window: the peak is the highest mean power of one", examples=["15m"]),
]


def demand_window(settings: SettingsDep, period: PeriodDep, window: WindowParam = "15m") -> Windows:
    """The demand window of a peak request, with the same limit as ``every``."""
    window_ns = parse_duration(window, "window")
    check_windows(period.start_ns, period.end_ns, window_ns, settings.api.max_buckets, "window")
    return Windows(period.start_ns, period.end_ns, window_ns, window)


DemandWindowDep = Annotated[Windows, Depends(demand_window)]
