"""Utilization read from the status rollups (:mod:`hub.rollups.status`): the same answer as
from every status report (:func:`hub.insights.status.utilization`), to the nanosecond.

A rollup answers when every window is a whole number of its intervals (``every`` a multiple:
windows and intervals are both aligned to the epoch) and it holds every interval from
``start - CITYHUB_INSIGHTS__STATUS_LOOKBACK_S`` on (``rollup_coverage``): the raw answer
knows a connector's status at ``start`` from its last report up to that far back, and so
does this one, from the last row before ``start``. The coarsest such rollup with a whole
interval inside the range is read. Per connector, in time order:

1. the rows of the intervals wholly inside ``[start, until)`` (``until = min(end, now)``),
   and the rows before ``start`` (of those only the last report counts, the status at
   ``start``: read from the coarsest rollup that holds them, a day's row rather than 24);
2. the raw reports of the interval cut by ``start`` and of the one cut by ``until``: a row
   does not say where inside its interval its time was spent;
3. between consecutive elements the earlier one's last status holds (cut at the windows'
   boundaries, clipped to the range); a row's own status time counts in its interval's
   window; after the last element, its status holds until ``until``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub.insights.context import NS_PER_S, Context
from hub.insights.events import Event, read_events
from hub.insights.status import Connector, WindowTally, WindowUse
from hub.rollups.plan import Rollup
from hub.rollups.status import ENTITY, ROW_FIELDS, Span, folded_reports

__all__ = ["lookback_rollup", "status_rollup_for", "utilization_from_rollup"]

Where = dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class _Element:
    """A connector's reports over a stretch: a row (``bucket`` its interval's start, set when
    its own time counts) or a raw report."""

    span: Span
    bucket: int | None = None


def status_rollup_for(
    rollups: Sequence[Rollup],
    covered_since_ns: Mapping[str, int],
    start_ns: int,
    until_ns: int,
    every_ns: int,
    lookback_ns: int,
) -> Rollup | None:
    """The coarsest of ``rollups`` that answers utilization exactly, or ``None``: raw."""
    for rollup in reversed(rollups):
        interval = rollup.interval_ns
        first_whole = start_ns + (-start_ns) % interval
        if every_ns % interval or first_whole + interval > until_ns - until_ns % interval:
            continue
        needed = start_ns - lookback_ns
        since = covered_since_ns.get(rollup.name)
        if since is not None and since <= needed - needed % interval:
            return rollup
    return None


def lookback_rollup(
    rollups: Sequence[Rollup], covered_since_ns: Mapping[str, int], rollup: Rollup, oldest_ns: int
) -> Rollup:
    """The coarsest of ``rollups`` (``rollup`` at least) whose rows before ``start`` may
    stand for ``rollup``'s: a multiple of its interval, holding every interval from the one
    holding ``oldest_ns`` on."""
    for coarser in reversed(rollups):
        interval = coarser.interval_ns
        since = covered_since_ns.get(coarser.name)
        whole = interval % rollup.interval_ns == 0
        if whole and since is not None and since <= oldest_ns - oldest_ns % interval:
            return coarser
    return rollup


def utilization_from_rollup(
    ctx: Context,
    where: Where,
    rollup: Rollup,
    start_ns: int,
    until_ns: int,
    every_ns: int,
    lookback: Rollup | None = None,
) -> dict[str, list[WindowUse]]:
    """Per site, the windows :func:`hub.insights.status.utilization` gives over the raw
    reports (connector 0, the whole station, left out); ``lookback`` (see
    :func:`lookback_rollup`) holds the rows before ``start``."""
    interval = rollup.interval_ns
    oldest = start_ns - ctx.config.status_lookback_s * NS_PER_S
    lookback = lookback or rollup
    step = lookback.interval_ns
    switch = start_ns - start_ns % step  # lookback's rows before, rollup's from
    cut_head = start_ns % interval != 0
    whole_from = start_ns + (-start_ns) % interval
    whole_until = until_ns - until_ns % interval
    elements: dict[Connector, list[_Element]] = defaultdict(list)
    sites: dict[Connector, str] = {}

    def add(event: Event, element: _Element) -> None:
        key = Connector(event.tags["device"], event.tags["connector"])
        elements[key].append(element)
        sites.setdefault(key, event.tags["site"])

    rows = _read(ctx, lookback.name, ROW_FIELDS, where, oldest - oldest % step, switch)
    for row in rows + _read(ctx, rollup.name, ROW_FIELDS, where, switch, whole_until):
        if cut_head and whole_from - interval <= row.time_ns < whole_from:
            continue  # the interval cut by start: its raw reports below
        span = Span.of_row(row.time_ns, row.fields)
        add(row, _Element(span, row.time_ns if row.time_ns >= start_ns else None))
    edges = [(whole_from - interval, whole_from)] if cut_head else []
    edges += [(whole_until, until_ns)] if whole_until < until_ns else []

    def raw(measurement: str, fields: tuple[str, ...], low: int, high: int) -> list[Event]:
        return _read(ctx, measurement, fields, where, low, high)

    for low, high in edges:
        for reports in folded_reports(raw, low, high).values():
            for report in reports:
                add(report, _Element(Span.report(report.time_ns, str(report.fields["status"]))))
    tallies: dict[str, WindowTally] = {}
    for key, items in elements.items():
        if key.connector in ("", "0"):
            continue
        tally = tallies.setdefault(sites[key], WindowTally(start_ns, until_ns, every_ns))
        _credit(tally, key, sorted(items, key=lambda e: e.span.first_ns), oldest, until_ns)
    return {site: tally.windows() for site, tally in sorted(tallies.items())}


def _read(
    ctx: Context,
    measurement: str,
    fields: tuple[str, ...],
    where: Where,
    start_ns: int,
    end_ns: int,
) -> list[Event]:
    if end_ns <= start_ns:
        return []
    return read_events(
        ctx.store,
        measurement,
        fields,
        start_ns=start_ns,
        end_ns=end_ns,
        group_by=ENTITY,
        max_points=ctx.max_points,
        where=where,
    )


def _credit(
    tally: WindowTally, key: Connector, items: list[_Element], oldest_ns: int, until_ns: int
) -> None:
    """One connector's elements (in time order) into ``tally``; a report before
    ``oldest_ns`` is one the raw answer never reads."""
    before: Span | None = None
    for element in items:
        span = element.span
        if span.last_ns < oldest_ns:
            continue
        if before is not None:
            tally.hold(key, before.last_status, before.last_ns, span.first_ns)
        if element.bucket is not None:
            tally.add(key, element.bucket // tally.every_ns, span.within)
        before = span
    if before is not None:
        tally.hold(key, before.last_status, before.last_ns, until_ns)
