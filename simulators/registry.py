"""The device registry file the hub reads (``CITYHUB_INGEST__REGISTRY_FILE``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulators.scenario import City

__all__ = ["add_missing_to_registry", "write_registry"]


def write_registry(city: City, path: Path) -> None:
    """Write ``{"devices": {id: tags}}`` for every device of ``city`` to ``path`` (JSON):
    meters → building, district, kind; charge points → site, district; buses → propulsion.
    Written to a temporary file and renamed, so a hub reloading it never reads half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(city.registry(), indent=2, sort_keys=True) + "\n"
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def add_missing_to_registry(city: City, path: Path) -> list[str]:
    """Add the devices of ``city`` missing from the registry file at ``path`` (created when
    absent), never changing a device already there: an admin's change survives the next
    ``docker compose up``. Takes the hub's registry lock, so it is safe next to live hubs.
    Returns the ids added."""
    from hub.devices import DeviceRegistry

    return DeviceRegistry(path=Path(path)).add_missing(city.registry()["devices"])
