"""Ground truth: every simulated message next to the canonical values it encodes."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Expected", "InjectedFault", "SimMessage"]

FieldValue = float | bool | str


@dataclass(frozen=True, slots=True)
class Expected:
    """One canonical point a correct adapter makes of the message.

    ``fields`` use the canonical names and units (``power_w``, ``energy_import_wh``,
    ``speed_mps``); ``tags`` are the identity tags read from the wire besides ``device`` and
    the registry's (``connector``, ``channel``, ``route``). ``time_ns`` is UTC nanoseconds;
    when ``clock_time`` is true the payload carries no time (OCPP Heartbeat) and the hub
    stamps the point with its clock on receipt, ``time_ns`` being the simulated send time.
    """

    measurement: str
    device: str
    time_ns: int
    fields: dict[str, FieldValue]
    tags: dict[str, str] = field(default_factory=dict)
    clock_time: bool = False


@dataclass(frozen=True, slots=True)
class InjectedFault:
    """A fault put into the stream on purpose. ``reason`` is the dead-letter reason the hub
    must give it; ``None`` means the message is valid and must be ingested (duplicates,
    out-of-order, late and burst messages)."""

    kind: str
    reason: str | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One MQTT message: ``topic``, ``payload`` bytes, and ``truth``, the points it encodes
    (empty for a message the hub must reject). ``send_ns`` is the simulated time it is sent
    (UTC ns); ``wire`` names its format (``senml``, ``tasmota``, ``shelly``, ``ocpp1.6``,
    ``ocpp2.0.1``, ``gtfsrt-protobuf``, ``gtfsrt-json``); ``burst`` messages are sent
    without pacing."""

    topic: str
    payload: bytes
    truth: list[Expected]
    send_ns: int
    wire: str
    device: str
    fault: InjectedFault | None = None
    burst: bool = False
