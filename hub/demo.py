"""``cityhub demo``: the embedded default in one command.

Starts a private broker (Mosquitto from PATH with the project's configuration, else amqtt in
this process), writes the simulated city's device registry, publishes a backfill of history
and then live traffic from all three sensor families, and serves the hub's API on DuckDB in
the data folder. A fresh API key is generated and printed.

SIGTERM or Ctrl-C stops it in order (:mod:`hub.stopping`): the API, then the simulators, then
the hub (the batch in flight stored and acknowledged, the broker session disconnected), then
the broker; the process exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import socket
import threading
from pathlib import Path

from hub.api import create_app
from hub.broker import EmbeddedBroker, Mosquitto, free_port
from hub.errors import ConfigError
from hub.query import parse_duration_ns
from hub.service import Hub
from hub.settings import load_settings
from hub.stopping import Stopper, ensure_port_free, serve

__all__ = ["run_demo"]

log = logging.getLogger("cityhub.demo")


def _start_broker(workdir: Path) -> tuple[Mosquitto | EmbeddedBroker, str]:
    try:
        return Mosquitto(workdir / "broker").start(), "5"
    except ConfigError:
        log.warning("no mosquitto binary: falling back to amqtt in-process (MQTT 3.1.1)")
        return EmbeddedBroker().start(), "3.1.1"


def demo_port(requested: int | None) -> int:
    """``--port``, else ``CITYHUB_API__PORT``, else 8080; checked free before anything starts."""
    if requested is None:
        from_env = os.environ.get("CITYHUB_API__PORT", "").strip()
        if from_env and not from_env.isdigit():
            raise ConfigError("CITYHUB_API__PORT", f"not a port number: {from_env!r}")
        requested = int(from_env) if from_env else 8080
    if requested == 0:
        return free_port()
    ensure_port_free("127.0.0.1", requested)
    return requested


def run_demo(args: argparse.Namespace, stopper: Stopper) -> int:
    from simulators.publisher import run as publish
    from simulators.registry import write_registry
    from simulators.scenario import City

    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    port = demo_port(args.port)
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as cleanup:
        broker, protocol = _start_broker(data_dir)
        cleanup.callback(broker.stop)
        if isinstance(broker, Mosquitto) and broker.process is not None:
            stopper.adopt(broker.process.kill)
        city = City.build(seed=args.seed)
        registry = data_dir / "registry.json"
        write_registry(city, registry)
        key = secrets.token_urlsafe(24)
        mqtt: dict[str, object] = {
            "port": broker.port,
            "protocol": protocol,
            "client_id": "cityhub-demo",
        }
        if isinstance(broker, Mosquitto):  # ours: a new session is saved at once
            mqtt["broker_pid_file"] = broker.pid_file
        ocpp_port = 9000 if _port_free(9000) else free_port()
        settings = load_settings(
            mode="demo",
            data_dir=data_dir,
            mqtt=mqtt,
            ingest={"registry_file": registry},
            api={"host": "127.0.0.1", "port": port, "read_keys": [key], "admin_keys": [key]},
            ocpp={"enabled": True, "host": "127.0.0.1", "port": ocpp_port},
        )
        # The hub subscribes first, so its persistent session catches the backfill from
        # message one.
        hub = Hub(settings)
        hub.start()
        cleanup.callback(hub.stop)  # after the simulators: store and acknowledge the last batch
        if not hub.mqtt.wait_connected(30):
            raise ConfigError(
                "mqtt", f"could not connect to the demo broker: {hub.mqtt.last_error}"
            )
        stop = threading.Event()
        stopper.on_stop(stop.set)
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
        cleanup.callback(simulator.join, 10)
        cleanup.callback(stop.set)
        gateway = hub.ocpp_gateway.url if hub.ocpp_gateway is not None else "off"
        _print_banner(data_dir, broker.port, port, key, gateway)
        code = serve(create_app(settings, hub.api_parts()), "127.0.0.1", port, stopper)
    log.info("demo stopped")
    return code


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _print_banner(data_dir: Path, broker_port: int, port: int, key: str, gateway: str) -> None:
    base = f"http://127.0.0.1:{port}"
    print(
        f"""
City Data Hub demo is starting (data in {data_dir}, broker on 127.0.0.1:{broker_port}).

  Dashboard     {base}/#key={key}
  API docs      {base}/docs
  API key       {key}
  Try           curl -H 'X-API-Key: {key}' \\
                  '{base}/api/v1/aggregate?measurement=building_energy&field=energy_import_wh&fn=increase&every=1h&start=-24h&group_by=building'
                curl -H 'X-API-Key: {key}' '{base}/api/v1/catalog'
  Health        {base}/ready     Metrics {base}/metrics
  OCPP gateway  {gateway}
                chargers of this city over WebSocket:
                cityhub sim --port {broker_port} --ocpp-ws {gateway.split("/ocpp/")[0]}

Press Ctrl-C to stop.
""",
        flush=True,
    )
