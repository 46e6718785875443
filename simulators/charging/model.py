"""Charge points and connectors: identity, hardware and how each one speaks OCPP."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.simtime import CityTime, iso_utc

__all__ = ["HARDWARE", "ChargePoint", "ConnectorSpec", "Hardware"]


@dataclass(frozen=True, slots=True)
class Hardware:
    vendor: str
    model: str
    current: str  # "AC" or "DC"
    connectors: int
    max_power_w: float  # per connector


HARDWARE: tuple[Hardware, ...] = (
    Hardware("ABB", "Terra AC W22", "AC", 1, 22_000),
    Hardware("Alfen", "Eve Double Pro", "AC", 2, 11_000),
    Hardware("Wallbox", "Commander 2", "AC", 1, 22_000),
    Hardware("Kempower", "S-Series 150", "DC", 2, 150_000),
    Hardware("Tritium", "RTM75", "DC", 1, 50_000),
)


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    connector_id: int  # OCPP 1.6 connectorId / 2.0.1 evseId (each EVSE has one connector)
    current: str  # "AC" or "DC"
    max_power_w: float
    initial_wh: float  # register at the anchor


@dataclass(frozen=True, eq=False)  # an entity: equal only to itself, cheap to hash
class ChargePoint:
    """A charging station. ``ocpp`` is ``"1.6"`` or ``"2.0.1"``; ``power_unit`` /
    ``energy_unit`` are the units its firmware samples in (W/kW, Wh/kWh), ``clock`` how it
    prints timestamps (``Z``, ``ms``, ``offset``)."""

    cp_id: str
    site: str
    district: str
    ocpp: str
    hardware: Hardware
    firmware: str
    serial: str
    connectors: tuple[ConnectorSpec, ...]
    city_time: CityTime
    seed: int
    busyness: float  # arrivals relative to an average site
    phase_s: int  # offset of its periodic messages
    power_unit: str
    energy_unit: str
    clock: str
    omit_defaults: bool  # 1.6: leaves out measurand and unit of the Wh register
    heartbeat_s: int = 300
    sample_s: int = 60  # MeterValues while a vehicle is plugged in
    idle_sample_s: int = 900  # clock-aligned register readings otherwise

    def timestamp(self, time_s: int) -> str:
        """``time_s`` printed the way this station's firmware prints times."""
        if self.clock == "offset":
            return self.city_time.iso_local(time_s)
        return iso_utc(time_s, millis=self.clock == "ms")
