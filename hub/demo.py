"""``cityhub demo``: the embedded default in one command.

Starts a private broker (Mosquitto from PATH with the project's configuration, else amqtt in
this process), writes the simulated city's device registry, publishes a backfill of history
and then live traffic from all three sensor families, and serves the hub's API on DuckDB in
the data folder. A fresh API key is generated and printed.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import threading
from pathlib import Path

import uvicorn

from hub.api import create_app
from hub.broker import EmbeddedBroker, Mosquitto, free_port
from hub.errors import ConfigError
from hub.query import parse_duration_ns
from hub.service import Hub
from hub.settings import load_settings

__all__ = ["run_demo"]

log = logging.getLogger("cityhub.demo")


def _start_broker(workdir: Path) -> tuple[Mosquitto | EmbeddedBroker, str]:
    try:
        return Mosquitto(workdir / "broker").start(), "5"
    except ConfigError:
        log.warning("no mosquitto binary: falling back to amqtt in-process (MQTT 3.1.1)")
        return EmbeddedBroker().start(), "3.1.1"


def run_demo(args: argparse.Namespace) -> int:
    from simulators.publisher import run as publish
    from simulators.registry import write_registry
    from simulators.scenario import City

    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    broker, protocol = _start_broker(data_dir)
    city = City.build(seed=args.seed)
    registry = data_dir / "registry.json"
    write_registry(city, registry)
    key = secrets.token_urlsafe(24)
    port = args.port or free_port()
    settings = load_settings(
        mode="demo",
        data_dir=data_dir,
        mqtt={"port": broker.port, "protocol": protocol, "client_id": "cityhub-demo"},
        ingest={"registry_file": registry},
        api={"host": "127.0.0.1", "port": port, "read_keys": [key], "admin_keys": [key]},
    )
    # The hub subscribes first, so its persistent session catches the backfill from message one.
    hub = Hub(settings)
    hub.start()
    if not hub.mqtt.wait_connected(30):
        hub.stop()
        broker.stop()
        raise ConfigError("mqtt", f"could not connect to the demo broker: {hub.mqtt.last_error}")
    stop = threading.Event()
    simulator = threading.Thread(
        target=publish,
        args=(city, "127.0.0.1", broker.port),
        kwargs={
            "rate": args.rate,
            "speed": args.speed,
            "stop_event": stop,
            "backfill_s": parse_duration_ns(args.backfill) / 1e9 if args.backfill else 0,
            "client_id": "cityhub-demo-simulators",
            "progress": False,
        },
        name="cityhub-simulators",
        daemon=True,
    )
    simulator.start()
    base = f"http://127.0.0.1:{port}"
    print(
        f"""
City Data Hub demo is starting (data in {data_dir}, broker on 127.0.0.1:{broker.port}).

  API docs      {base}/docs
  API key       {key}
  Try           curl -H 'X-API-Key: {key}' \\
                  '{base}/api/v1/aggregate?measurement=building_energy&field=energy_import_wh&fn=increase&every=1h&start=-24h&group_by=building'
                curl -H 'X-API-Key: {key}' '{base}/api/v1/catalog'
  Health        {base}/ready     Metrics {base}/metrics

Press Ctrl-C to stop.
""",
        flush=True,
    )
    try:
        uvicorn.run(create_app(settings, hub), host="127.0.0.1", port=port, log_level="warning")
    finally:
        stop.set()
        simulator.join(10)
        hub.stop()
        broker.stop()
    return 0
