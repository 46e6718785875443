"""``cityhub``: run the hub, run the simulators, or bring up the whole demo in one command.

cityhub run     ingest + API, configured by CITYHUB_* environment variables
cityhub sim     the city simulators (see ``cityhub sim --help``)
cityhub demo    broker + simulators + hub + API on DuckDB in ./cityhub-demo
"""

from __future__ import annotations

import argparse
import logging
import sys

from hub.errors import ConfigError

__all__ = ["main"]


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def run_hub() -> int:
    import uvicorn

    from hub.api import create_app
    from hub.settings import load_settings

    settings = load_settings()
    _configure_logging(settings.log_level)
    app = create_app(settings)
    uvicorn.run(app, host=settings.api.host, port=settings.api.port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cityhub", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="ingest + API (settings from CITYHUB_* variables)")
    commands.add_parser("sim", help="city simulators; cityhub sim --help", add_help=False)
    demo = commands.add_parser("demo", help="broker, simulators, hub and API in one command")
    demo.add_argument("--data-dir", default="cityhub-demo", help="folder for data and logs")
    demo.add_argument("--port", type=int, default=8080, help="API port (0: any free port)")
    demo.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per second (1: real time)"
    )
    demo.add_argument("--backfill", default="1d", help="history published at start (e.g. 1d)")
    demo.add_argument("--rate", type=float, default=0.0, help="cap on live messages/s (0: none)")
    demo.add_argument("--seed", type=int, default=42)
    args, rest = parser.parse_known_args(argv)
    try:
        if args.command == "sim":
            from simulators.cli import main as simulate

            return simulate(rest)
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        if args.command == "run":
            return run_hub()
        from hub.demo import run_demo

        return run_demo(args)
    except ConfigError as error:
        print(f"cityhub: configuration error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
