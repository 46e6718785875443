"""Tasmota ``tele/<device>/SENSOR`` telemetry: the wire model of its ``ENERGY`` object.

Single-channel devices send a number per key; multi-channel ones (Shelly 2.5, Sonoff Dual R3
and other two-relay builds) send an array with one number per channel for the per-channel
keys (``"Power": [52, 5]``) and keep a number for the keys they measure once (``Voltage``,
and ``Total``/``Today`` unless ``SetOption129 1`` splits them per channel).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag

from hub.validation import WireModel

__all__ = ["MAX_CHANNELS", "TasmotaEnergy", "TasmotaSensor"]

MAX_CHANNELS = 8  # Tasmota's own limit (MAX_RELAYS)

NonNegative = Annotated[float, Field(ge=0)]
Ratio = Annotated[float, Field(ge=-1, le=1)]  # power factor; signed on bidirectional meters


def _shape(value: Any) -> str:
    return "channels" if isinstance(value, list) else "number"


def _reading(number: Any) -> Any:
    """One number, or one per channel. Discriminated by shape, so a bad array element is
    reported as what is wrong with it, not as "not a number" from the other branch."""
    channels = Annotated[list[number], Field(min_length=1, max_length=MAX_CHANNELS)]
    return Annotated[
        Annotated[number, Tag("number")] | Annotated[channels, Tag("channels")],
        Discriminator(_shape),
    ]


AnyReading = _reading(float)
NonNegativeReading = _reading(NonNegative)
RatioReading = _reading(Ratio)


class TasmotaEnergy(WireModel):
    """The ``ENERGY`` object. Energies in kWh, powers in W/VA/var, ``Factor`` 0..1.

    ``TotalStartTime``, ``Yesterday`` and ``Period`` are read by nobody: they are derived from
    ``Total`` and ``Today``, so they are not modelled (unknown keys are ignored)."""

    total: NonNegativeReading | None = Field(None, alias="Total")  # kWh register
    today: NonNegativeReading | None = Field(None, alias="Today")  # kWh since local midnight
    export_active: NonNegativeReading | None = Field(None, alias="ExportActive")  # kWh
    power: AnyReading | None = Field(None, alias="Power")  # W, negative when exporting
    apparent_power: NonNegativeReading | None = Field(None, alias="ApparentPower")  # VA
    reactive_power: AnyReading | None = Field(None, alias="ReactivePower")  # var
    factor: RatioReading | None = Field(None, alias="Factor")
    voltage: NonNegativeReading | None = Field(None, alias="Voltage")  # V
    current: NonNegativeReading | None = Field(None, alias="Current")  # A
    frequency: NonNegativeReading | None = Field(None, alias="Frequency")  # Hz


class TasmotaSensor(WireModel):
    """A SENSOR message. ``Time`` is the device's local time without an offset (with
    ``SetOption52 1`` Tasmota appends one, which is honoured)."""

    time: str = Field(alias="Time", min_length=10, max_length=40)
    energy: TasmotaEnergy | None = Field(None, alias="ENERGY")
