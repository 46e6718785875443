"""Which buildings, districts, sites, routes and vehicles exist: the registry plus what the
store holds. An id in neither is unknown, which an answer reports as :class:`Unknown`."""

from __future__ import annotations

from hub.insights.context import Context
from hub.query import LatestQuery

__all__ = ["Unknown", "check_known", "known_values"]


class Unknown(LookupError):
    """An id nobody knows (the API answers 404). ``what`` is the kind: building, site..."""

    def __init__(self, what: str, value: str) -> None:
        super().__init__(f"unknown {what} {value!r}")
        self.what = what
        self.value = value


def known_values(ctx: Context, measurements: tuple[str, ...], tag: str) -> set[str]:
    """Values of ``tag`` in the registry and in the latest rows of ``measurements`` (for
    ``device``, the registry's device ids)."""
    registry = ctx.registry.as_dict()
    values = {tags[tag] for tags in registry.values() if tag in tags}
    if tag == "device":
        values |= set(registry)
    for measurement in measurements:
        for row in ctx.store.latest(LatestQuery(measurement)):
            if row.tags.get(tag):
                values.add(row.tags[tag])
    return values


def check_known(
    ctx: Context, measurements: tuple[str, ...], tag: str, value: str | None, what: str = ""
) -> None:
    """Raise :class:`Unknown` for a ``value`` of ``tag`` that nobody knows."""
    if value is not None and value not in known_values(ctx, measurements, tag):
        raise Unknown(what or tag, value)
