"""``cityhub sim``: publish a simulated city to an MQTT broker.

Examples::

    cityhub sim --registry registry.json                  # live, real time, 34 devices
    cityhub sim --backfill 7d --backfill-only --faults 0.01
    cityhub sim --buildings 3000 --charge-points 400 --buses 300 --rate 5000
    cityhub sim --speed 144 --duration 600                # the last day in ten minutes
    cityhub sim --print 20                                # show messages, no broker
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
from pathlib import Path
from typing import TextIO

from hub.stopping import Stopper
from simulators.faults import FAULT_KINDS, FaultPlan
from simulators.registry import add_missing_to_registry, write_registry
from simulators.scenario import City
from simulators.simtime import parse_duration_s
from simulators.truth import SimMessage

__all__ = ["main", "parser"]


def _duration(text: str) -> float:
    try:
        return parse_duration_s(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _faults(text: str) -> FaultPlan:
    try:
        return FaultPlan.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="cityhub sim",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=f"fault kinds: {', '.join(FAULT_KINDS)}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = cli.add_argument
    add("--host", default="127.0.0.1", help="MQTT broker host")
    add("--port", type=int, default=1883, help="MQTT broker port")
    add("--username", default=None, help="MQTT user name")
    add("--password", default=None, help="MQTT password (or CITYHUB_SIM_PASSWORD)")
    add("--qos", type=int, choices=(0, 1), default=1, help="MQTT QoS of every message")
    add("--client-id", default="", help="MQTT client id (default: generated)")
    add("--mqtt-version", choices=("3.1.1", "5"), default="5")
    add("--seed", type=int, default=42, help="the city and its traffic follow from it")
    add("--buildings", type=int, default=20, help="metered buildings")
    add("--charge-points", type=int, default=6, help="charging stations")
    add("--buses", type=int, default=8, help="buses")
    add("--timezone", default="UTC", help="the city's IANA zone (must match the hub's)")
    add(
        "--bus-format",
        choices=("gtfsrt", "hfp"),
        default="gtfsrt",
        help="what the buses publish: GTFS-RT VehiclePositions or HFP v2 (/hfp/v2/...)",
    )
    add(
        "--mapped-devices",
        action="store_true",
        help="some meters are Zigbee2MQTT plugs and Shelly Pro 3EMs, which the hub reads "
        "through its shipped mappings (CITYHUB_INGEST__MAPPINGS_FILE=adapters/mappings/all.yaml)",
    )
    add("--rate", type=float, default=0.0, help="cap on live messages/s (0: no cap)")
    add(
        "--speed",
        type=float,
        default=None,
        help="time acceleration: simulated s per wall s (default: 1, or what --rate needs)",
    )
    add(
        "--replay",
        type=_duration,
        default=None,
        help="accelerated runs start this far in the past (default 1d)",
    )
    add("--backfill", type=_duration, default=0.0, help="publish this past period first (7d)")
    add("--backfill-only", action="store_true", help="stop after the backfill")
    add(
        "--faults",
        type=_faults,
        default=FaultPlan(),
        help="fault probability and/or kinds: 0.01 | nan,late | 0.05,duplicate",
    )
    add("--registry", type=Path, default=None, help="write the device registry here")
    add(
        "--registry-add-missing",
        action="store_true",
        help="with --registry: only add devices missing from the file, never overwrite one",
    )
    add(
        "--backfill-marker",
        type=Path,
        default=None,
        help="skip the backfill when this file exists; create it after a complete backfill "
        "(once per volume)",
    )
    add("--duration", type=float, default=0.0, help="seconds of live publishing (0: forever)")
    add(
        "--truth-log",
        type=Path,
        default=None,
        help="append every published message's ground truth here (JSON lines)",
    )
    add(
        "--print",
        type=int,
        default=0,
        metavar="N",
        help="print the first N live messages (topic and payload) and exit; no broker",
    )
    add(
        "--ocpp-ws",
        default=None,
        metavar="URL",
        help="chargers speak OCPP-J over WebSocket to the hub's gateway at URL (ws://host:9000)"
        " instead of publishing their frames to MQTT",
    )
    add("--ocpp-password", default=None, help="charger password for the gateway (Basic auth)")
    add("--quiet", action="store_true", help="no progress line")
    return cli


def _truth_record(message: SimMessage) -> str:
    fault = message.fault
    return json.dumps(
        {
            "topic": message.topic,
            "send_ns": message.send_ns,
            "wire": message.wire,
            "device": message.device,
            "fault": None if fault is None else {"kind": fault.kind, "reason": fault.reason},
            "truth": [
                {
                    "measurement": e.measurement,
                    "device": e.device,
                    "time_ns": e.time_ns,
                    "tags": e.tags,
                    "fields": e.fields,
                    "clock_time": e.clock_time,
                }
                for e in message.truth
            ],
        }
    )


def _printable(payload: bytes) -> str:
    """The payload as text: JSON as it is, protobuf (or garbage) as ``base64:...``."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and text.isprintable():
        return text
    return "base64:" + base64.b64encode(payload).decode()


def _print(city: City, count: int, plan: FaultPlan, out: TextIO) -> None:
    import time

    for index, message in enumerate(city.messages(time.time_ns(), None, faults=plan)):
        if index >= count:
            break
        out.write(f"{message.topic} {_printable(message.payload)}\n")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    city = City.build(
        args.seed,
        args.buildings,
        args.charge_points,
        args.buses,
        timezone=args.timezone,
        bus_format=args.bus_format,
        mapped_devices=args.mapped_devices,
    )
    if args.registry and args.registry_add_missing:
        added = add_missing_to_registry(city, args.registry)
        print(
            f"registry {args.registry}: {len(added)} missing devices added, existing kept",
            file=sys.stderr,
        )
    elif args.registry:
        write_registry(city, args.registry)
        print(
            f"registry of {len(city.device_ids())} devices written to {args.registry}",
            file=sys.stderr,
        )
    if args.backfill_marker and args.backfill and args.backfill_marker.exists():
        print(f"backfill skipped: {args.backfill_marker} says it was done", file=sys.stderr)
        args.backfill = 0.0
        if args.backfill_only:
            return 0
    if args.print:
        _print(city, args.print, args.faults, sys.stdout)
        return 0
    # SIGTERM and Ctrl-C: finish the message in flight, disconnect, exit 0.
    stop = Stopper("finishing the message in flight, disconnecting").install().event
    truth_log = args.truth_log.open("a", encoding="utf-8") if args.truth_log else None

    def record(message: SimMessage) -> None:
        if truth_log is not None:
            truth_log.write(_truth_record(message) + "\n")

    from simulators.publisher import run

    try:
        stats = run(
            city,
            args.host,
            args.port,
            rate=args.rate,
            speed=args.speed,
            stop_event=stop,
            backfill_s=args.backfill,
            faults=args.faults,
            backfill_only=args.backfill_only,
            duration_s=args.duration,
            replay_s=args.replay,
            qos=args.qos,
            username=args.username,
            password=args.password or os.environ.get("CITYHUB_SIM_PASSWORD"),
            client_id=args.client_id,
            protocol=args.mqtt_version,
            progress=False if args.quiet else None,
            on_message=record if truth_log else None,
            ocpp_ws=args.ocpp_ws,
            ocpp_password=args.ocpp_password or os.environ.get("CITYHUB_SIM_OCPP_PASSWORD"),
        )
    finally:
        if truth_log is not None:
            truth_log.close()
    print(
        f"published {stats.backfilled} backfill + {stats.live} live messages "
        f"({stats.faults} with injected faults)",
        file=sys.stderr,
    )
    if not stats.connected:
        return 1
    if stats.refused:
        print(f"the broker refused {stats.refused} publishes (check the ACL)", file=sys.stderr)
        return 1
    if args.backfill_marker and args.backfill and not stop.is_set():
        args.backfill_marker.parent.mkdir(parents=True, exist_ok=True)
        args.backfill_marker.write_text(f"{stats.backfilled} messages backfilled\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
