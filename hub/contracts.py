"""The two contracts the core owns: what an adapter is and what a store is.

An **adapter** turns one MQTT message of a wire format into canonical points, or raises
:class:`hub.errors.Rejected`. It is pure: no I/O, no globals, callable from any thread. It is
made by a factory registered in the ``cityhub.adapters`` entry-point group::

    factory(options: Mapping[str, object], env: AdapterEnv) -> Adapter

A **store** keeps points and answers the generic query primitives (see :mod:`hub.query`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from hub.devices import DeviceRegistry
from hub.points import Point
from hub.query import (
    AggregateQuery,
    Catalog,
    LatestQuery,
    LatestRow,
    PointRow,
    PointsQuery,
    SeriesResult,
)
from hub.timestamps import TimePolicy
from hub.topics import TopicFilter

__all__ = ["Adapter", "AdapterEnv", "AdapterFactory", "RefusedPoint", "Store"]


@dataclass(frozen=True)
class AdapterEnv:
    """What the hub lends every adapter: how to read times, and the device registry."""

    time: TimePolicy = field(default_factory=TimePolicy)
    devices: DeviceRegistry = field(default_factory=DeviceRegistry)


@runtime_checkable
class Adapter(Protocol):
    name: str
    topics: Sequence[TopicFilter]

    def parse(self, topic: str, payload: bytes) -> list[Point]:
        """Canonical points of one message; raises ``Rejected`` with a reason."""
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

    def latest(self, query: LatestQuery) -> list[LatestRow]: ...

    def points(self, query: PointsQuery) -> list[PointRow]:
        """The raw points of a range in time order, at most ``query.limit`` of them."""
        ...

    def catalog(self) -> Catalog: ...

    def ping(self) -> None:
        """Return when the store is usable; raise ``StoreUnavailable`` otherwise."""
        ...

    def close(self) -> None: ...
