"""Finding adapters: the ``cityhub.adapters`` entry-point group is the registry.

Any installed distribution can add an adapter by declaring an entry point in that group; the
hub never imports an adapter by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points

from hub.contracts import Adapter, AdapterEnv, AdapterFactory
from hub.errors import ConfigError

__all__ = ["ENTRY_POINT_GROUP", "available_adapters", "load_adapters"]

ENTRY_POINT_GROUP = "cityhub.adapters"


def available_adapters() -> dict[str, str]:
    """Installed adapter names and the object each entry point names."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_adapters(
    names: list[str] | None,
    options: Mapping[str, Mapping[str, object]],
    env: AdapterEnv,
) -> list[Adapter]:
    """Instantiate the adapters ``names`` (every installed one when ``None``) in that order."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    wanted = sorted(found) if names is None else names
    unknown = [name for name in [*wanted, *options] if name not in found]
    if unknown:
        raise ConfigError(
            "CITYHUB_INGEST__ADAPTERS",
            f"no adapter named {unknown[0]!r}; installed: {', '.join(sorted(found)) or 'none'}",
        )
    adapters: list[Adapter] = []
    for name in wanted:
        try:
            factory: AdapterFactory = found[name].load()
        except (ImportError, AttributeError) as error:
            raise ConfigError(
                "CITYHUB_INGEST__ADAPTERS", f"adapter {name!r} cannot be loaded: {error}"
            ) from error
        adapter = factory(options.get(name, {}), env)
        if not isinstance(adapter, Adapter):
            raise ConfigError("CITYHUB_INGEST__ADAPTERS", f"{name!r} does not build an Adapter")
        adapters.append(adapter)
    return adapters
