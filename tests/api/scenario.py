"""A small city, as the devices would publish it: SenML meters, OCPP 1.6 chargers and a
GTFS-Realtime feed, around the last UTC midnight ``M`` (yesterday is ``[D, M)``).

Every number the API tests expect is derived here, in comments, from these readings.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

H = 3600
MIN = 60
DAY = 86_400

REGISTRY = {
    "m-1": {"building": "b-1", "district": "harbour"},
    "m-2": {"building": "b-2", "district": "harbour"},
    "m-3": {"building": "b-3", "district": "uptown"},
    "m-old": {"building": "b-4", "district": "uptown"},
    "m-idle": {"building": "b-5", "district": "uptown"},
    "cp-1": {"site": "s-1", "district": "harbour"},
    "cp-2": {"site": "s-2", "district": "uptown"},
    "bus-1": {"propulsion": "electric"},
    "bus-2": {"propulsion": "diesel"},
}


def iso(epoch_s: int, offset_h: int = 0) -> str:
    """RFC 3339 as a charger sends it, in UTC (``Z``) or with an offset."""
    if offset_h == 0:
        return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    zone = timezone(timedelta(hours=offset_h))
    return datetime.fromtimestamp(epoch_s, zone).isoformat()


def z(epoch_s: int) -> str:
    """How the API writes a whole-second time."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def senml(epoch_s: int, power_w: float, register_kwh: float) -> str:
    return json.dumps(
        [
            {"bn": "urn:dev:mac:0024befffe804ff1:", "bt": epoch_s, "bu": "W"},
            {"n": "power", "v": power_w},
            {"n": "energy", "u": "kWh", "s": register_kwh},
        ]
    )


_message_ids = itertools.count(1)


def ocpp(action: str, payload: dict) -> str:
    # OCPP caps a message id at 36 characters; a clock-based id outgrows it on a
    # machine that has been up a few hours, and the hub rightly refuses the frame.
    return json.dumps([2, f"msg-{next(_message_ids)}", action, payload])


def status(connector: int, epoch_s: int, state: str, error: str = "NoError") -> str:
    return ocpp(
        "StatusNotification",
        {"connectorId": connector, "errorCode": error, "status": state, "timestamp": iso(epoch_s)},
    )


def meter(connector: int, epoch_s: int, wh: int) -> str:
    # 1.6 sends values as strings; the default measurand is Energy.Active.Import.Register, Wh
    return ocpp(
        "MeterValues",
        {
            "connectorId": connector,
            "meterValue": [{"timestamp": iso(epoch_s), "sampledValue": [{"value": str(wh)}]}],
        },
    )


def gtfs(vehicle: str, route: str, epoch_s: int, lat: float, lon: float, **position) -> str:
    return json.dumps(
        {
            "header": {"gtfsRealtimeVersion": "2.0", "timestamp": str(epoch_s)},
            "entity": [
                {
                    "id": f"vp-{vehicle}",
                    "vehicle": {
                        "trip": {"tripId": f"{route}-trip", "routeId": route},
                        "vehicle": {"id": vehicle},
                        "position": {"latitude": lat, "longitude": lon, **position},
                        "timestamp": str(epoch_s),
                        "occupancyStatus": "MANY_SEATS_AVAILABLE",
                    },
                }
            ],
        }
    )


@dataclass
class Scenario:
    now: int  # epoch s when the scenario was built
    M: int  # the last UTC midnight
    D: int  # the one before
    span: int  # seconds of today usable for readings
    messages: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def build(cls) -> Scenario:
        """The scenario at the wall clock's second; within two minutes after midnight, at the
        second before it (so "today" has room for today's readings, and every reading is in
        the past, as ingest requires). The API under test runs on a clock pinned to ``now``."""
        now = int(time.time())
        if now % DAY < 120:
            now -= now % DAY + 1
        midnight = now - now % DAY
        scenario = cls(now, midnight, midnight - DAY, now - midnight - 10)
        scenario._meters()
        scenario._chargers()
        scenario._buses()
        return scenario

    def t(self, tenth: int) -> int:
        """A time today: ``tenth``/10 of the way from midnight to (about) now."""
        return self.M + self.span * tenth // 10

    def _meters(self) -> None:
        D, M, W7 = self.D, self.M, self.D - 7 * DAY  # noqa: N806  (the names the comments use)
        readings = {
            # b-1, 6 h windows of yesterday: 4.0 | 2.0 + 6.0 | reset: 0.5 + 6.0 | 3.0 = 21.5
            # kWh; today 1.0 + 1.0; a week before: 10.0 (the first reading counts nothing)
            "m-1": [
                (W7 + 1 * H, 900, 50.0), (W7 + 20 * H, 950, 60.0),
                (D + 1 * H, 1000, 100.0), (D + 5 * H, 3000, 104.0), (D + 7 * H, 5000, 106.0),
                (D + 11 * H, 2000, 112.0), (D + 12 * H + 30 * MIN, 4000, 0.5),
                (D + 17 * H, 6000, 6.5), (D + 23 * H, 1000, 9.5),
                (self.t(1), 1500, 10.5), (self.t(2), 2500, 11.5),
            ],
            # b-2: 3.0 yesterday, 1.0 today; 800 W in the 17:00 window with m-1's 6000 W
            "m-2": [
                (D + 2 * H, 500, 50.0), (D + 17 * H + 5 * MIN, 800, 53.0),
                (self.t(1), 700, 54.0),
            ],
            "m-3": [(D + 3 * H, 200, 10.0), (D + 9 * H, 300, 12.0)],  # b-3: 2.0 yesterday
            "m-old": [(M - 3 * DAY, 100, 1.0)],  # b-4: silent for 3 days: stale
        }  # fmt: skip
        for device, rows in readings.items():
            self.messages += [(f"senml/{device}", senml(*row)) for row in rows]

    def _chargers(self) -> None:
        D, M, t = self.D, self.M, self.t  # noqa: N806  (the names the comments use)
        cp1 = [
            status(1, D + 8 * H, "Available"), status(1, D + 9 * H, "Available"),
            status(1, D + 10 * H + 30 * MIN, "Charging"), status(1, D + 11 * H, "Available"),
            status(1, M - 30 * MIN, "Charging"), status(1, t(5), "Finishing"),
            status(1, t(6), "Available"),
            status(2, D + 8 * H, "Available"), status(2, D + 10 * H, "Charging"),
            status(2, D + 12 * H, "Available"), status(2, D + 20 * H, "Faulted", "GroundFailure"),
            status(2, D + 21 * H, "Faulted", "GroundFailure"),
            meter(1, D + 10 * H + 30 * MIN, 12000), meter(1, D + 11 * H, 16000),
            meter(1, M - 30 * MIN, 16000), meter(1, M - 15 * MIN, 18000), meter(1, t(5), 23500),
            meter(2, D + 10 * H, 5000), meter(2, D + 12 * H, 11000),
            # connector 0: the station's own meter (connectors 1 + 2), which must not be added
            meter(0, D + 10 * H, 17000), meter(0, D + 11 * H, 21000), meter(0, D + 12 * H, 27000),
            meter(0, M - 15 * MIN, 29000), meter(0, t(5), 34500),
            # two sessions open at once; the first stop is the later start's (same idTag)
            ocpp("StartTransaction", {"connectorId": 2, "idTag": "TAG-B", "meterStart": 5000,
                                      "timestamp": iso(D + 10 * H)}),
            ocpp("StartTransaction", {"connectorId": 1, "idTag": "TAG-A", "meterStart": 12000,
                                      "timestamp": iso(D + 10 * H + 30 * MIN)}),
            ocpp("StopTransaction", {"transactionId": 102, "idTag": "TAG-A", "meterStop": 16000,
                                     "timestamp": iso(D + 11 * H), "reason": "EVDisconnected"}),
            ocpp("StopTransaction", {"transactionId": 103, "meterStop": 11000,
                                     "timestamp": iso(D + 12 * H, offset_h=2)}),
            # the session across midnight, its stop with transactionData (no connector)
            ocpp("StartTransaction", {"connectorId": 1, "idTag": "TAG-A", "meterStart": 16000,
                                      "timestamp": iso(M - 30 * MIN, offset_h=1)}),
            ocpp("StopTransaction", {
                "transactionId": 104, "idTag": "TAG-A", "meterStop": 23500,
                "timestamp": iso(t(5)), "reason": "EVDisconnected",
                "transactionData": [
                    {"timestamp": iso(M - 30 * MIN), "sampledValue": [
                        {"value": "16000", "context": "Transaction.Begin"}]},
                    {"timestamp": iso(t(5)), "sampledValue": [
                        {"value": "23.5", "unit": "kWh", "context": "Transaction.End"}]},
                ],
            }),
        ]  # fmt: skip
        W7 = D - 7 * DAY  # noqa: N806
        cp2 = [
            meter(1, W7 + 14 * H, 0), meter(1, W7 + 15 * H, 1500),  # a week before: 1.5 kWh
            status(1, D + 8 * H, "Available"), status(1, D + 14 * H, "Charging"),
            status(1, D + 15 * H, "Available"), status(1, t(8), "Charging"),
            meter(1, D + 14 * H, 0), meter(1, D + 15 * H, 3000), meter(1, t(8), 3000),
            ocpp("StartTransaction", {"connectorId": 1, "idTag": "TAG-C", "meterStart": 0,
                                      "timestamp": iso(D + 14 * H)}),
            ocpp("StopTransaction", {"transactionId": 201, "meterStop": 3000,
                                     "timestamp": iso(D + 15 * H), "reason": "Remote"}),
            ocpp("StartTransaction", {"connectorId": 1, "idTag": "TAG-C", "meterStart": 3000,
                                      "timestamp": iso(t(8))}),
        ]  # fmt: skip
        self.messages += [("ocpp/cp/cp-1", frame) for frame in cp1]
        self.messages += [("ocpp/cp/cp-2", frame) for frame in cp2]

    def _buses(self) -> None:
        D, topic = self.D, "gtfsrt/city/vehicle_positions"  # noqa: N806  (the names the comments use)
        fixes = [
            # bus-1 (electric, route 12): odometer 1000 -> 41000 m yesterday, +9000 m today
            gtfs("bus-1", "12", D + 8 * H, 52.50, 13.40, speed=10.0, odometer=1000.0),
            gtfs("bus-1", "12", D + 9 * H, 52.51, 13.40, speed=6.0, odometer=21000.0),
            gtfs("bus-1", "12", D + 10 * H, 52.52, 13.40, speed=8.0, odometer=41000.0),
            # bus-2 (diesel, route 12): 10 km yesterday, silent since
            gtfs("bus-2", "12", D + 8 * H, 52.40, 13.30, speed=4.0, odometer=500.0),
            gtfs("bus-2", "12", D + 9 * H, 52.41, 13.30, speed=12.0, odometer=10500.0),
            # bus-3 (not registered, route 7, no odometer): two 0.01-degree steps north
            gtfs("bus-3", "7", D + 8 * H, 52.00, 13.00, speed=9.0),
            gtfs("bus-3", "7", D + 8 * H + 10 * MIN, 52.01, 13.00, speed=9.0),
            gtfs("bus-3", "7", D + 8 * H + 20 * MIN, 52.02, 13.00, speed=9.0),
        ]
        # bus-4 (route 9): 17 fixes standing still the evening before yesterday; its track is
        # one point more than the tests' CITYHUB_API__MAX_POINTS of 16
        fixes += [
            gtfs("bus-4", "9", D - 6 * H + k * MIN, 52.30, 13.10, speed=0.0) for k in range(17)
        ]
        self.messages += [(topic, fix) for fix in fixes]

    def fresh_fix(self) -> tuple[str, str]:
        """bus-1's fix of "now" (sent last, so that it is fresh when asked about)."""
        return (
            "gtfsrt/city/vehicle_positions",
            gtfs("bus-1", "12", self.now - 2, 52.53, 13.40, speed=5.0, odometer=50000.0),
        )


POINTS = {  # what the store must hold once everything is ingested
    "building_energy": 11 + 3 + 2 + 1,
    "charger_status": 12 + 4,
    "charger_meter": 5 + 2 + 5 + 2 + 3,  # cp-1: connectors 1, 2 and 0; cp-2: a week ago, now
    "charger_transaction_meter": 2,  # cp-1's transactionData (no connector)
    "charger_session": 6 + 3,
    "bus_position": 3 + 2 + 3 + 17,  # and bus-1's fresh fix
}
