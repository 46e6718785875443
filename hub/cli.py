"""``cityhub``: run the hub, run the simulators, or bring up the whole demo in one command.

cityhub run     ingest + API in one process, configured by CITYHUB_* environment variables
cityhub api     the API alone, on InfluxDB (a read replica; no broker, no ingest)
cityhub ingest  the ingest alone (MQTT into the store; no API)
cityhub sim     the city simulators (see ``cityhub sim --help``)
cityhub demo    broker + simulators + hub + API on DuckDB in ./cityhub-demo
cityhub rollups rebuild --since <time>   recompute the rollups from stored raw points
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from hub.errors import ConfigError
from hub.stopping import Stopper, ensure_port_free, serve

if TYPE_CHECKING:
    from hub.stores.influxdb import InfluxDBStore

__all__ = ["main"]


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # One line per request (feed polls) or per frame (OCPP) would drown the hub's own log.
    for chatty in ("httpx", "ocpp", "websockets.server"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def run_hub(stopper: Stopper) -> int:
    """Ingest and API in one process (the only choice on DuckDB)."""
    from hub.api import create_app
    from hub.service import Hub
    from hub.settings import load_settings

    settings = load_settings()
    _configure_logging(settings.log_level)
    if settings.api.port:
        ensure_port_free(settings.api.host, settings.api.port)
    hub = Hub(settings)
    # the app's lifespan starts the hub and, at the stop, stops it
    app = create_app(settings, hub.api_parts(), on_start=hub.start, on_stop=hub.stop)
    return serve(app, settings.api.host, settings.api.port, stopper)


def run_api(stopper: Stopper) -> int:
    """The API alone, answering from InfluxDB; its /ready checks the store only."""
    from hub.api import create_app
    from hub.api.deps import ApiParts
    from hub.devices import DeviceRegistry
    from hub.readiness import Readiness, store_checks
    from hub.settings import load_settings
    from hub.stores import open_reader

    settings = load_settings()
    _configure_logging(settings.log_level)
    store = open_reader(settings)
    if settings.api.port:
        ensure_port_free(settings.api.host, settings.api.port)
    registry_file = settings.ingest.registry_file
    registry = DeviceRegistry.from_file(registry_file) if registry_file else DeviceRegistry()

    def readiness() -> Readiness:
        return Readiness.of(
            store_checks(store, settings.store.backend, settings.store.spool_max_bytes)
        )

    parts = ApiParts(store=store, registry=registry, readiness=readiness, registry_writable=False)
    app = create_app(settings, parts, on_stop=store.close)
    return serve(app, settings.api.host, settings.api.port, stopper)


def run_ingest(stopper: Stopper) -> int:
    """The ingest alone, until SIGTERM or SIGINT; then a graceful stop."""
    from hub.service import Hub
    from hub.settings import load_settings

    settings = load_settings()
    _configure_logging(settings.log_level)
    hub = Hub(settings)
    hub.start()
    logging.getLogger(__name__).info("ingest running (no API)")
    stopper.wait()
    hub.stop()
    return 0


def rebuild_rollups(since: str) -> int:
    """Recompute the rollups from the raw points stored since ``since`` (RFC 3339, or
    relative: ``-90d``), with a progress line on stderr. On DuckDB the hub must be stopped
    (the file has one writer); on InfluxDB it may run (its rollups are rewritten whole,
    idempotently)."""
    import time

    from hub.api.params import parse_time
    from hub.api.problems import BadParameter
    from hub.settings import load_settings
    from hub.stores import open_influxdb

    settings = load_settings()
    _configure_logging(settings.log_level)
    try:
        since_ns = parse_time(since, 0, "--since", time.time_ns())
    except BadParameter as error:
        print(f"cityhub: {error.detail}", file=sys.stderr)
        return 2
    plan = settings.rollups.plan()
    if not plan.by_measurement:
        print("cityhub: rollups are disabled (CITYHUB_ROLLUPS__ENABLED)", file=sys.stderr)
        return 2
    if settings.store.backend == "duckdb":
        from hub.stores.duckdb import DuckDBStore

        store: DuckDBStore | InfluxDBStore = DuckDBStore(
            settings.duckdb_path, settings.store.duckdb_memory_limit, rollups=plan
        )
    else:
        store = open_influxdb(settings)

    def progress(measurement: str, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if done == total else ""
        print(f"\r{measurement}: [{bar}] {done}/{total} intervals", end=end, file=sys.stderr)

    try:
        covered = store.rebuild_rollups(since_ns, progress)
    finally:
        store.close()
    for name, covered_ns in sorted(covered.items()):
        print(f"{name}: complete from {_utc(covered_ns)}")
    return 0


def _utc(time_ns: int) -> str:
    from datetime import UTC, datetime

    if time_ns <= -(2**62):
        return "the beginning"
    return datetime.fromtimestamp(time_ns / 1e9, tz=UTC).isoformat()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cityhub", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="ingest + API (settings from CITYHUB_* variables)")
    commands.add_parser("api", help="the API alone, on InfluxDB (no broker, no ingest)")
    commands.add_parser("ingest", help="the ingest alone (no API)")
    commands.add_parser("sim", help="city simulators; cityhub sim --help", add_help=False)
    demo = commands.add_parser("demo", help="broker, simulators, hub and API in one command")
    demo.add_argument("--data-dir", default="cityhub-demo", help="folder for data and logs")
    demo.add_argument(
        "--port",
        type=int,
        default=None,
        help="API port (default: CITYHUB_API__PORT, else 8080; 0: any free port)",
    )
    demo.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per second (1: real time)"
    )
    demo.add_argument("--backfill", default="1d", help="history published at start (e.g. 1d)")
    demo.add_argument("--rate", type=float, default=0.0, help="cap on live messages/s (0: none)")
    demo.add_argument("--seed", type=int, default=42)
    rollups = commands.add_parser("rollups", help="maintain the rollups").add_subparsers(
        dest="rollups_command", required=True
    )
    rebuild = rollups.add_parser("rebuild", help="recompute rollups from stored raw points")
    rebuild.add_argument("--since", required=True, help="RFC 3339 time or relative to now (-90d)")
    args, rest = parser.parse_known_args(argv)
    try:
        if args.command == "sim":
            from simulators.cli import main as simulate

            return simulate(rest)
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        if args.command == "rollups":
            return rebuild_rollups(args.since)
        stopper = Stopper().install()  # SIGTERM and Ctrl-C: a clean stop, exit 0
        if args.command == "run":
            return run_hub(stopper)
        if args.command == "api":
            return run_api(stopper)
        if args.command == "ingest":
            return run_ingest(stopper)
        from hub.demo import run_demo

        return run_demo(args, stopper)
    except ConfigError as error:
        print(f"cityhub: configuration error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
