"""Shelly Gen2+ ``Switch`` component status, as published on ``<prefix>/status/switch:<id>``.

Every metering key is optional: a Shelly Plus 1 (no metering) sends only ``id``, ``source``,
``output`` and ``temperature``; ``pf`` and ``ret_aenergy`` come with newer firmware.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from hub.validation import WireModel

__all__ = ["ShellyEnergyCounter", "ShellySwitchStatus", "ShellyTemperature"]

NonNegative = Annotated[float, Field(ge=0)]


class ShellyEnergyCounter(WireModel):
    """``aenergy`` / ``ret_aenergy``: a cumulative register in Wh."""

    total: NonNegative  # Wh since the last counter reset
    by_minute: list[float] | None = None  # mWh of the last three minutes (not read)
    minute_ts: NonNegative | None = None  # epoch s: the first second of the current minute


class ShellyTemperature(WireModel):
    t_c: float | None = Field(None, alias="tC", ge=-60, le=200)  # °C; null without a sensor
    t_f: float | None = Field(None, alias="tF")


class ShellySwitchStatus(WireModel):
    id: int = Field(ge=0, le=255)
    source: str | None = None
    output: bool | None = None
    apower: float | None = None  # W; negative when the load feeds back
    voltage: NonNegative | None = None  # V
    current: NonNegative | None = None  # A
    freq: NonNegative | None = None  # Hz
    pf: float | None = Field(None, ge=-1, le=1)  # power factor
    aenergy: ShellyEnergyCounter | None = None  # consumed energy, Wh
    ret_aenergy: ShellyEnergyCounter | None = None  # returned (exported) energy, Wh
    temperature: ShellyTemperature | None = None
