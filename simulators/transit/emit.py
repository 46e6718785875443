"""The position reports a bus sends (time-ordered, lazily), while in service."""

from __future__ import annotations

from collections.abc import Iterator

from simulators.simtime import NS_PER_S
from simulators.transit.gtfsrt import encode_position
from simulators.transit.hfp import encode_hfp
from simulators.transit.motion import Bus, bus_state
from simulators.truth import SimMessage

__all__ = ["bus_messages"]


def bus_messages(bus: Bus, start_s: int, end_s: int | None) -> Iterator[SimMessage]:
    """Reports of ``bus`` in ``[start_s, end_s)`` (``end_s`` None: forever), every
    ``bus.report_s`` seconds while it is in service."""
    time_s = start_s + (bus.phase_s - start_s) % bus.report_s
    wire = {"json": "gtfsrt-json", "hfp": "hfp"}.get(bus.encoding, "gtfsrt-protobuf")
    encode = encode_hfp if bus.encoding == "hfp" else encode_position
    while end_s is None or time_s < end_s:
        state = bus_state(bus, time_s)
        if state is not None:
            topic, payload, truth = encode(bus, state, time_s)
            yield SimMessage(topic, payload, truth, time_s * NS_PER_S, wire, bus.vehicle_id)
        time_s += bus.report_s
