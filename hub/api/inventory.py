"""Which buildings, districts, sites and vehicles exist: the registry plus what the store
holds. An id in neither is unknown (404)."""

from __future__ import annotations

from hub.query import LatestQuery
from hub.service import Hub

__all__ = ["known_values"]


def known_values(hub: Hub, measurements: tuple[str, ...], tag: str) -> set[str]:
    """Values of ``tag`` in the registry and in the latest rows of ``measurements`` (for
    ``device``, the registry's device ids)."""
    registry = hub.devices.as_dict()
    values = {tags[tag] for tags in registry.values() if tag in tags}
    if tag == "device":
        values |= set(registry)
    for measurement in measurements:
        for row in hub.store.latest(LatestQuery(measurement)):
            if row.tags.get(tag):
                values.add(row.tags[tag])
    return values
