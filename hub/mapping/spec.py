"""The mappings file format, as pydantic models (unknown keys are refused, so a typo in a
key is a start-up error naming it, not a silently ignored line)::

    include: [shipped/shelly-pro-3em.yaml]      # other mapping files, relative to this one
    mappings:
      - name: zigbee_plug                       # the adapter name dead letters carry
        topic: zigbee2mqtt/{device}             # an MQTT filter; {name} is a named '+' level
        measurement: building_energy
        device: "{device}"                      # a topic level, or {path: <JMESPath>}
        registry: required                      # required | optional | off
        time: {path: ts, format: epoch_ms}      # absent: receive time
        each: channels                          # optional: one point per list element
        fields:
          power_w: {path: power, unit: W}
          energy_import_wh: {path: energy, unit: kWh, optional: true}
        tags:
          kind: plug                            # static
          channel: "{channel}"                  # a topic level
          phase: {item: phase}                  # JMESPath into the element of `each`

JMESPath ``path`` is evaluated on the whole payload, ``item`` on the element of ``each`` (the
whole payload without ``each``); ``fields`` are read from the element.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FieldSpec", "MappingFile", "MappingSpec", "TimeSpec", "ValueSpec"]

TimeFormat = Literal["auto", "epoch_s", "epoch_ms", "epoch_ns", "rfc3339", "local"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueSpec(_Strict):
    """A JMESPath into the payload (``path``) or into the element of ``each`` (``item``)."""

    path: str | None = None
    item: str | None = None


class TimeSpec(ValueSpec):
    format: TimeFormat = "auto"


class FieldSpec(_Strict):
    path: str  # JMESPath into the element of ``each`` (the payload without ``each``)
    unit: str | None = None  # the unit the device sends; required for numbers
    type: Literal["number", "string", "bool"] = "number"
    scale: float = 1.0  # applied before the unit conversion (a device sending 0.1 W steps)
    optional: bool = False  # absent or null: skip the field instead of a dead letter


class MappingSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
    topic: str
    measurement: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    device: str | ValueSpec
    registry: Literal["required", "optional", "off"] = "required"
    time: TimeSpec | None = None
    each: str | None = None
    fields: dict[str, FieldSpec] = Field(min_length=1)
    tags: dict[str, str | ValueSpec] = Field(default_factory=dict)


class MappingFile(_Strict):
    include: list[str] = Field(default_factory=list)
    mappings: list[MappingSpec] = Field(default_factory=list)
