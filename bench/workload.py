"""The benchmark's traffic: a realistic mix of every wire format, and its device registry.

Payloads are built from templates modelled on the recorded fixtures in
``tests/adapters/fixtures/`` (SenML packs, Tasmota ``ENERGY`` objects, Shelly Gen2 switch
status, OCPP 1.6 and 2.0.1 CALL frames, GTFS-Realtime protobuf and JSON). Every device gets
its own clock that advances per message, so each message becomes distinct points (a drain
that counted redelivered duplicates would otherwise look faster than it is).

The generator is deterministic for a seed, needs nothing but the standard library and the
GTFS-RT protobuf bindings (a hub dependency), and does not depend on ``simulators/``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from google.transit import gtfs_realtime_pb2 as pb

__all__ = [
    "MARKER_DEVICE",
    "MIX",
    "Message",
    "Workload",
    "marker_message",
]

Message = tuple[str, bytes]  # (topic, payload)

# Share of each format in the traffic (sums to 1), and devices per format.
MIX: dict[str, float] = {
    "senml": 0.25,
    "tasmota": 0.15,
    "shelly": 0.15,
    "ocpp16": 0.15,
    "ocpp201": 0.10,
    "gtfsrt_pb": 0.10,
    "gtfsrt_json": 0.10,
}
DEVICES: dict[str, int] = {
    "senml": 500,
    "tasmota": 300,
    "shelly": 300,
    "ocpp16": 120,
    "ocpp201": 80,
    "gtfsrt_pb": 150,
    "gtfsrt_json": 150,
}
# Seconds between two messages of one device (Shelly's minute_ts moves by the minute).
STEP_S: dict[str, int] = {"shelly": 60}
DEFAULT_STEP_S = 10
DISTRICTS = ("harbour", "old-town", "university", "riverside", "north", "airport")
MARKER_DEVICE = "bench-marker"


def _iso(time_s: float, *, millis: bool = False) -> str:
    moment = datetime.fromtimestamp(time_s, tz=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{int(moment.microsecond / 1000):03d}"
    return text + "Z"


def _naive(time_s: float) -> str:
    return datetime.fromtimestamp(time_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class _Device:
    family: str
    id: str
    index: int
    seq: int = 0
    energy: float = 0.0


class Workload:
    """``messages(n)`` yields a deterministic mix; ``registry()`` lists every device.

    Device clocks start at ``start_s`` (default: six hours ago, on the minute) so that all
    times are in the past (the hub rejects times more than 5 minutes ahead) and distinct.

    ``device_scale`` multiplies the devices of every family (:data:`DEVICES`: 1,600 in all).
    At 5,000 msg/s the 1,600 send about three messages a second each, their clocks moving 10 s
    a message: thirty times faster than a city's meters, each of which reports every 10 s or
    slower, so that a city's 5,000 msg/s come from 50,000 devices and more. The rollups cost
    by the (series, interval) pairs a flush recomputes, so a larger scale shows what such a
    city's flushes cost.
    """

    def __init__(self, seed: int = 42, start_s: int | None = None, device_scale: int = 1) -> None:
        self.seed = seed
        self.start_s = start_s if start_s is not None else (int(time.time()) - 6 * 3600) // 60 * 60
        rng = random.Random(seed)
        self._rng = rng
        self.devices: dict[str, list[_Device]] = {
            family: [
                _Device(family, _device_id(family, i), i, energy=rng.uniform(1e3, 5e6))
                for i in range(count)
            ]
            for family, count in ((family, n * device_scale) for family, n in DEVICES.items())
        }
        self._builders: dict[str, Callable[[_Device, int], Message]] = {
            "senml": self._senml,
            "tasmota": self._tasmota,
            "shelly": self._shelly,
            "ocpp16": self._ocpp16,
            "ocpp201": self._ocpp201,
            "gtfsrt_pb": self._gtfsrt_pb,
            "gtfsrt_json": self._gtfsrt_json,
        }

    # -- registry ---------------------------------------------------------------------------

    def registry(self) -> dict[str, dict[str, str]]:
        """Device id → static tags, for ``CITYHUB_INGEST__REGISTRY_FILE``."""
        devices: dict[str, dict[str, str]] = {}
        for family, members in self.devices.items():
            for device in members:
                district = DISTRICTS[device.index % len(DISTRICTS)]
                if family.startswith("ocpp"):
                    tags = {"site": f"site-{device.index // 4:03d}", "district": district}
                elif family.startswith("gtfsrt"):
                    tags = {"propulsion": "electric" if device.index % 3 else "diesel"}
                else:
                    tags = {"building": f"b-{family}-{device.index // 2:04d}", "district": district}
                devices[device.id] = tags
        devices[MARKER_DEVICE] = {"building": "bench", "district": "bench"}
        return devices

    def write_registry(self, path: Path) -> Path:
        path.write_text(json.dumps({"devices": self.registry()}))
        return path

    # -- messages ---------------------------------------------------------------------------

    def messages(self, count: int, families: Sequence[str] | None = None) -> Iterator[Message]:
        """``count`` messages, formats interleaved at random in the proportions of ``MIX``
        (among ``families`` only, when given: the peer benchmark sends SenML alone)."""
        families = list(families or MIX)
        weights = [MIX[f] for f in families]
        rng = self._rng
        for family in rng.choices(families, weights, k=count):
            device = rng.choice(self.devices[family])
            time_s = self.start_s + device.seq * STEP_S.get(family, DEFAULT_STEP_S)
            device.seq += 1
            yield self._builders[family](device, time_s)

    def _senml(self, device: _Device, time_s: int) -> Message:
        rng = self._rng
        power = round(rng.uniform(200, 40_000), 1)
        device.energy += power / 360  # Wh over 10 s
        pack = [
            {"bn": f"urn:dev:mac:{device.index:016x}:", "bt": time_s, "bu": "W"},
            {"n": "power", "v": power},
            {"n": "energy", "u": "kWh", "s": round(device.energy / 1000, 4)},
            {"n": "voltage", "u": "V", "v": round(rng.uniform(225, 235), 1)},
            {"n": "frequency", "u": "Hz", "v": round(rng.uniform(49.95, 50.05), 2)},
        ]
        return f"senml/{device.id}", json.dumps(pack).encode()

    def _tasmota(self, device: _Device, time_s: int) -> Message:
        rng = self._rng
        power = rng.randint(5, 3500)
        device.energy += power / 360
        total_kwh = round(device.energy / 1000, 3)
        energy = {
            "TotalStartTime": "2023-11-02T09:12:44",
            "Total": total_kwh,
            "Yesterday": round(rng.uniform(0, 20), 3),
            "Today": round(rng.uniform(0, 20), 3),
            "Period": rng.randint(0, 10),
            "Power": power,
            "ApparentPower": int(power * 1.05),
            "ReactivePower": int(power * 0.3),
            "Factor": 0.95,
            "Voltage": rng.randint(226, 234),
            "Current": round(power / 230, 3),
        }
        if device.index % 4 == 0:  # dual-channel devices (Shelly 2.5 on Tasmota) send arrays
            second = rng.randint(0, 500)
            energy.update(
                Power=[power, second],
                ApparentPower=[int(power * 1.05), int(second * 1.05)],
                ReactivePower=[int(power * 0.3), int(second * 0.3)],
                Factor=[0.95, 0.9],
                Current=[round(power / 230, 3), round(second / 230, 3)],
                Frequency=50,
            )
        payload = {"Time": _naive(time_s), "ENERGY": energy}
        return f"tele/{device.id}/SENSOR", json.dumps(payload, separators=(",", ":")).encode()

    def _shelly(self, device: _Device, time_s: int) -> Message:
        rng = self._rng
        power = round(rng.uniform(0, 2500), 1)
        device.energy += power / 60
        channel = device.index % 2
        minutes = [round(rng.uniform(0, 40_000), 3) for _ in range(3)]
        status = {
            "id": channel,
            "source": "timer",
            "output": True,
            "apower": power,
            "voltage": round(rng.uniform(225, 235), 1),
            "freq": 50.0,
            "current": round(power / 230, 3),
            "pf": 0.99,
            "aenergy": {
                "total": round(device.energy, 3),
                "by_minute": minutes,
                "minute_ts": time_s,
            },
            "temperature": {"tC": 40.0, "tF": 104.0},
        }
        payload = json.dumps(status, separators=(",", ":")).encode()
        return f"{device.id}/status/switch:{channel}", payload

    def _ocpp16(self, device: _Device, time_s: int) -> Message:
        rng = self._rng
        topic = f"ocpp/cp/{device.id}"
        if device.seq % 10 == 0:
            status = rng.choice(["Available", "Preparing", "Charging", "SuspendedEV", "Finishing"])
            payload: dict[str, object] = {
                "connectorId": 1 + device.index % 2,
                "errorCode": "NoError",
                "status": status,
                "timestamp": _iso(time_s, millis=True),
            }
            frame = [2, f"{device.id}-{device.seq}", "StatusNotification", payload]
            return topic, json.dumps(frame).encode()
        power_kw = rng.uniform(3, 22)
        device.energy += power_kw * 1000 / 360
        sampled = [
            {
                "value": f"{device.energy:.1f}",
                "context": "Sample.Periodic",
                "measurand": "Energy.Active.Import.Register",
                "location": "Outlet",
                "unit": "Wh",
            },
            {
                "value": f"{power_kw:.2f}",
                "context": "Sample.Periodic",
                "measurand": "Power.Active.Import",
                "unit": "kW",
            },
            {"value": "16.0", "context": "Sample.Periodic", "measurand": "Current.Offered"},
            {
                "value": f"{power_kw * 1000 / 690:.2f}",
                "measurand": "Current.Import",
                "phase": "L1",
                "unit": "A",
            },
            {
                "value": f"{rng.uniform(225, 235):.1f}",
                "measurand": "Voltage",
                "phase": "L1-N",
                "unit": "V",
            },
            {
                "value": str(rng.randint(10, 95)),
                "measurand": "SoC",
                "location": "EV",
                "unit": "Percent",
            },
        ]
        payload = {
            "connectorId": 1 + device.index % 2,
            "transactionId": 1000 + device.index,
            "meterValue": [{"timestamp": _iso(time_s), "sampledValue": sampled}],
        }
        frame = [2, f"{device.id}-{device.seq}", "MeterValues", payload]
        return topic, json.dumps(frame).encode()

    def _ocpp201(self, device: _Device, time_s: int) -> Message:
        rng = self._rng
        topic = f"ocpp/cp/{device.id}"
        power_kw = rng.uniform(3, 150)
        device.energy += power_kw * 1000 / 360
        sampled = [
            {
                "value": round(device.energy / 1000, 3),
                "measurand": "Energy.Active.Import.Register",
                "unitOfMeasure": {"unit": "kWh"},
            },
            {
                "value": round(power_kw, 2),
                "measurand": "Power.Active.Import",
                "unitOfMeasure": {"unit": "kW"},
            },
            {
                "value": rng.randint(10, 95),
                "measurand": "SoC",
                "unitOfMeasure": {"unit": "Percent"},
            },
        ]
        meter_value = [{"timestamp": _iso(time_s, millis=True), "sampledValue": sampled}]
        if device.seq % 2:
            payload: dict[str, object] = {
                "eventType": "Updated",
                "timestamp": _iso(time_s),
                "triggerReason": "MeterValuePeriodic",
                "seqNo": device.seq,
                "transactionInfo": {
                    "transactionId": f"tx-{device.id}",
                    "chargingState": "Charging",
                },
                "evse": {"id": 1, "connectorId": 1},
                "meterValue": meter_value,
            }
            frame = [2, f"{device.id}-{device.seq}", "TransactionEvent", payload]
        else:
            payload = {"evseId": 1, "meterValue": meter_value}
            frame = [2, f"{device.id}-{device.seq}", "MeterValues", payload]
        return topic, json.dumps(frame).encode()

    def _vehicle(self, device: _Device, time_s: int) -> dict[str, object]:
        rng = self._rng
        route = f"R{device.index % 12 + 1}"
        return {
            "trip": {
                "tripId": f"{route}-wd-{device.index:04d}",
                "routeId": route,
                "directionId": device.index % 2,
            },
            "vehicle": {"id": device.id, "label": str(device.index)},
            "position": {
                "latitude": round(52.45 + rng.uniform(0, 0.1), 6),
                "longitude": round(13.30 + rng.uniform(0, 0.15), 6),
                "bearing": round(rng.uniform(0, 359), 1),
                "speed": round(rng.uniform(0, 16), 1),
            },
            "currentStopSequence": rng.randint(1, 30),
            "stopId": f"9001{rng.randint(0, 99999):05d}",
            "currentStatus": rng.choice(["INCOMING_AT", "STOPPED_AT", "IN_TRANSIT_TO"]),
            "timestamp": str(time_s),
            "occupancyStatus": rng.choice(["EMPTY", "MANY_SEATS_AVAILABLE", "STANDING_ROOM_ONLY"]),
        }

    def _gtfsrt_json(self, device: _Device, time_s: int) -> Message:
        feed = {
            "header": {
                "gtfsRealtimeVersion": "2.0",
                "incrementality": "FULL_DATASET",
                "timestamp": str(time_s),
            },
            "entity": [{"id": f"vp-{device.id}", "vehicle": self._vehicle(device, time_s)}],
        }
        return "gtfsrt/city-json/vehicle_positions", json.dumps(feed).encode()

    def _gtfsrt_pb(self, device: _Device, time_s: int) -> Message:
        vehicle = self._vehicle(device, time_s)
        feed = pb.FeedMessage()
        feed.header.gtfs_realtime_version = "2.0"
        feed.header.incrementality = pb.FeedHeader.FULL_DATASET
        feed.header.timestamp = time_s
        entity = feed.entity.add()
        entity.id = f"vp-{device.id}"
        position = entity.vehicle
        trip = vehicle["trip"]
        assert isinstance(trip, dict)
        position.trip.trip_id = trip["tripId"]
        position.trip.route_id = trip["routeId"]
        position.trip.direction_id = trip["directionId"]
        position.vehicle.id = device.id
        coordinates = vehicle["position"]
        assert isinstance(coordinates, dict)
        position.position.latitude = coordinates["latitude"]
        position.position.longitude = coordinates["longitude"]
        position.position.bearing = coordinates["bearing"]
        position.position.speed = coordinates["speed"]
        position.current_stop_sequence = int(str(vehicle["currentStopSequence"]))
        position.stop_id = str(vehicle["stopId"])
        position.current_status = pb.VehiclePosition.VehicleStopStatus.Value(
            str(vehicle["currentStatus"])
        )
        position.timestamp = time_s
        position.occupancy_status = pb.VehiclePosition.OccupancyStatus.Value(
            str(vehicle["occupancyStatus"])
        )
        return "gtfsrt/city-pb/vehicle_positions", feed.SerializeToString()


def marker_message(seq: int, time_ns: int) -> Message:
    """A SenML pack of the marker meter: published at ``time_ns`` (its timestamp, to the
    microsecond) carrying ``seq`` as its power reading, so the latest value seen through the
    API says which marker has become visible."""
    pack = [{"bn": "bench:", "bt": round(time_ns / 1e9, 6), "n": "power", "u": "W", "v": seq}]
    return f"senml/{MARKER_DEVICE}", json.dumps(pack).encode()


def _device_id(family: str, index: int) -> str:
    prefix = {
        "senml": "em",
        "tasmota": "tasmota",
        "shelly": "shellyplus1pm",
        "ocpp16": "cp16",
        "ocpp201": "cs201",
        "gtfsrt_pb": "bus",
        "gtfsrt_json": "bus-j",
    }[family]
    return f"{prefix}-{index:04d}"
