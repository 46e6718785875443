"""The two contracts the core owns: what an adapter is and what a store is.

An **adapter** turns one MQTT message of a wire format into canonical points, or raises
:class:`hub.errors.Rejected`. A message that carries several independent readings (a feed of
vehicles, a SenML pack, OCPP sampled values) may be read in part: the adapter then returns a
:class:`Parsed`, the points it could read plus one ``Rejected`` per reading it refused, and each
of those becomes a dead letter of its own while the rest is stored. It is pure: no I/O, no
globals, callable from any thread. It is made by a factory registered in the
``cityhub.adapters`` entry-point group::

    factory(options: Mapping[str, object], env: AdapterEnv) -> Adapter

A **store** keeps points and answers the generic query primitives (see :mod:`hub.query`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from hub.devices import DeviceRegistry
from hub.errors import Rejected
from hub.points import Point
from hub.query import (
    AggregateQuery,
    Bucket,
    Catalog,
    LatestQuery,
    LatestRow,
    PointRow,
    PointsQuery,
    SeriesResult,
    SumOfMeansQuery,
)
from hub.timestamps import TimePolicy
from hub.topics import TopicFilter

__all__ = ["Adapter", "AdapterEnv", "AdapterFactory", "Parsed", "RefusedPoint", "Store"]


@dataclass(frozen=True)
class AdapterEnv:
    """What the hub lends every adapter: how to read times, and the device registry."""

    time: TimePolicy = field(default_factory=TimePolicy)
    devices: DeviceRegistry = field(default_factory=DeviceRegistry)


class Parsed(list[Point]):
    """The points of a message read in part, and what was refused of it.

    A list of the points that were read (so callers that only want points need nothing else),
    carrying ``rejects``: one :class:`~hub.errors.Rejected` per independent reading refused,
    whose ``detail`` names the reading (a vehicle id, a record name, a measurand) so that its
    dead letter says which one. A message of which nothing could be read is not a ``Parsed``
    with no points: the adapter raises ``Rejected`` for it.
    """

    __slots__ = ("rejects",)

    def __init__(self, points: Iterable[Point] = (), rejects: Iterable[Rejected] = ()) -> None:
        super().__init__(points)
        self.rejects: list[Rejected] = list(rejects)


@runtime_checkable
class Adapter(Protocol):
    name: str
    topics: Sequence[TopicFilter]

    def parse(self, topic: str, payload: bytes) -> list[Point]:
        """Canonical points of one message (a :class:`Parsed` when some readings of it were
        refused); raises ``Rejected`` with a reason when none can be read."""
        ...


class AdapterFactory(Protocol):
    def __call__(self, options: Mapping[str, object], env: AdapterEnv) -> Adapter: ...


@dataclass(frozen=True, slots=True)
class RefusedPoint:
    """A point the store will never accept (type conflict, bad value): dead-letter it."""

    point: Point
    reason: str


class Store(Protocol):
    """A time-series store. ``write`` is durable when it returns."""

    def write(self, points: Sequence[Point]) -> list[RefusedPoint]:
        """Store ``points`` idempotently (same measurement, tags and time is one point, fields
        merged). Returns the points refused for good; raises ``StoreUnavailable`` when the
        store cannot take the batch now (nothing of it may be assumed stored)."""
        ...

    def aggregate(self, query: AggregateQuery) -> list[SeriesResult]: ...

    def sum_of_means(self, query: SumOfMeansQuery) -> list[Bucket]:
        """Per window (in time order, empty ones omitted), the per-series means summed."""
        ...

    def latest(self, query: LatestQuery) -> list[LatestRow]: ...

    def points(self, query: PointsQuery) -> list[PointRow]:
        """The raw points of a range in time order, at most ``query.limit`` of them."""
        ...

    def catalog(self) -> Catalog: ...

    def ping(self) -> None:
        """Return when the store is usable; raise ``StoreUnavailable`` otherwise."""
        ...

    def close(self) -> None: ...
