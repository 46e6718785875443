"""Adapter options (``CITYHUB_INGEST__ADAPTER_OPTIONS``) as pydantic models, validated in one place.

An adapter declares its options as a subclass of :class:`AdapterOptions` (unknown keys and
values of the wrong type refused: ``"yes"`` is not a bool) and reads them with
:func:`read_options`, which turns the first problem into a :class:`~hub.errors.ConfigError`
naming the adapter and the option (``adapter ocpp option topic: must be a filter ending in
'/+'``), so a typo stops start-up with a message that says what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from hub.errors import ConfigError

__all__ = ["AdapterOptions", "IdFilter", "RegisteredOptions", "read_options"]


class AdapterOptions(BaseModel):
    """Base of every adapter's options: strict types, no unknown keys, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _ends_in_id_level(value: str) -> str:
    if not value.endswith("/+"):
        raise ValueError("must be a filter ending in '/+'")
    return value


IdFilter = Annotated[str, AfterValidator(_ends_in_id_level)]
"""An MQTT filter whose last level (``+``) is the device id, as ``senml/+``."""


class RegisteredOptions(AdapterOptions):
    """For adapters whose devices may be unregistered (vehicles): ``require_registered``
    refuses those the registry does not know."""

    require_registered: bool = False


Options = TypeVar("Options", bound=AdapterOptions)


def read_options(model: type[Options], adapter: str, options: Mapping[str, object]) -> Options:
    """``options`` validated against ``model``, or a ConfigError for the first problem."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as error:
        first = error.errors()[0]
        option, *inner = [str(part) for part in first["loc"]] or ["(all)"]
        message = "unknown option" if first["type"] == "extra_forbidden" else first["msg"]
        if inner:
            message = f"{'.'.join(inner)}: {message}"
        raise ConfigError(f"adapter {adapter} option {option}", message) from None
