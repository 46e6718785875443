"""When each meter reports, and the messages it sends (time-ordered, lazily)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from simulators.buildings.mapped import encode_shelly_pro_3em, encode_zigbee_plug
from simulators.buildings.meter import Meter, MeterReading
from simulators.buildings.senml import encode_senml
from simulators.buildings.shelly import encode_shelly
from simulators.buildings.tasmota import encode_tasmota
from simulators.seeding import unit
from simulators.simtime import NS_PER_S
from simulators.truth import Expected, SimMessage

__all__ = ["ENCODERS", "REPORT_INTERVAL_S", "meter_messages"]

# Reporting interval per wire format (s): SenML gateways every minute, Tasmota's default
# TelePeriod of 300 s, Shelly status every minute.
# Mapped devices (read through adapters/mappings): Zigbee2MQTT plugs report on change,
# here every 30 s; the Pro 3EM every minute.
REPORT_INTERVAL_S = {
    "senml": 60, "tasmota": 300, "shelly": 60, "zigbee2mqtt": 30, "shelly-pro-3em": 60,
}  # fmt: skip
MAX_LATENCY_S = 3  # between taking a reading and publishing it

Encoder = Callable[[Meter, list[MeterReading]], list[tuple[str, bytes, list[Expected]]]]
ENCODERS: dict[str, Encoder] = {
    "senml": lambda meter, readings: [encode_senml(meter, readings)],
    "tasmota": lambda meter, readings: [encode_tasmota(meter, readings[-1])],
    "shelly": lambda meter, readings: [encode_shelly(meter, readings[-1])],
    "zigbee2mqtt": lambda meter, readings: [encode_zigbee_plug(meter, readings[-1])],
    "shelly-pro-3em": lambda meter, readings: encode_shelly_pro_3em(meter, readings[-1]),
}


def meter_messages(meter: Meter, start_s: int, end_s: int | None) -> Iterator[SimMessage]:
    """Messages of ``meter`` sent in ``[start_s, end_s)`` (``end_s`` None: forever)."""
    batch = 5 if "batch5" in meter.style else 1
    pack_s = meter.interval_s * batch
    first = -(-(start_s - meter.phase_s - MAX_LATENCY_S) // pack_s)
    k = first
    while True:
        last_reading_s = k * pack_s + meter.phase_s
        latency_s = 1 + int(unit(meter.seed, meter.meter_id, "latency", k) * (MAX_LATENCY_S - 1))
        send_s = last_reading_s + latency_s
        k += 1
        if send_s < start_s:
            continue
        if end_s is not None and send_s >= end_s:
            return
        times = [last_reading_s - meter.interval_s * i for i in reversed(range(batch))]
        readings = [meter.reading(t) for t in times]
        for topic, payload, truth in ENCODERS[meter.wire](meter, readings):
            yield SimMessage(topic, payload, truth, send_s * NS_PER_S, meter.wire, meter.meter_id)
