"""The counter-increase rule, once, in plain Python: what both stores must answer.

A cumulative counter (an energy register in Wh, a charger's meter) is read now and then; its
*increase* over a run of readings is the sum of the steps between consecutive readings:

* the first reading counts nothing (it is the anchor: the reading just before a window, or
  the first reading ever seen, has nothing to count from);
* a reading at or above :data:`RESET_BELOW` of the one before it counts the difference (a
  rise, or a small dip such as a gateway's rounding or a re-sent older value: the negative
  difference is cancelled by the recovery);
* a reading below :data:`RESET_BELOW` of the one before it is a counter reset or a replaced
  meter: it counts from zero, so it counts itself.

This is Home Assistant's ``total_increasing`` rule; Prometheus' ``increase()`` takes every dip
for a reset, which turns a 0.2 Wh rounding dip of a 200 MWh register into 200 MWh of phantom
consumption.

DuckDB applies the rule in SQL (``LAG`` over the readings, :mod:`hub.stores.duckdb`), InfluxDB's
store in Python with :func:`counter_step` (InfluxQL cannot say "after a decrease count from
zero"). The stores' tests check both against :func:`increase`.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["RESET_BELOW", "counter_step", "increase"]

RESET_BELOW = 0.9  # a counter reading under 90 % of the one before it is a reset


def counter_step(before: float | None, reading: float) -> float:
    """What ``reading`` adds to the increase, after ``before`` (``None``: no reading before)."""
    if before is None:
        return 0.0  # the first reading ever seen has nothing to count from
    if reading >= RESET_BELOW * before:
        return reading - before  # a rise, or a dip too small to be a reset
    return reading  # a reset: the reading after it counts from zero


def increase(readings: Iterable[float]) -> float:
    """The increase of a counter over ``readings`` (in time order, the anchor first)."""
    total = 0.0
    before: float | None = None
    for reading in readings:
        total += counter_step(before, reading)
        before = reading
    return total
