"""The Node-RED flow of the peer benchmark, built from its function's JavaScript.

    python -m bench.peers.flow          # rewrite bench/peers/flows.json
    python -m bench.peers.flow --check  # exit 1 when flows.json is not what this builds

MQTT in (``senml/+``, QoS 1, JSON) → function (``senml-to-points.js``) → influxdb out
(node-red-contrib-influxdb, "2.0" config: the v2 write API, which VictoriaMetrics serves).
The JavaScript lives in its own file so it can be read and diffed as code; the committed
``flows.json`` is what Node-RED loads, and a test keeps the two in step. Ports and the sink's
URL are ``${VAR}`` properties, filled by Node-RED from the environment when the bench starts
it (``MQTT_PORT``, ``INFLUX_URL``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["FLOW_FILE", "FUNCTION_FILE", "build_flow", "render_flow"]

HERE = Path(__file__).resolve().parent
FLOW_FILE = HERE / "flows.json"
FUNCTION_FILE = HERE / "senml-to-points.js"
TOPIC = "senml/+"
MEASUREMENT = "building_energy"


def build_flow(function_source: str) -> list[dict[str, Any]]:
    """The flow's nodes, as Node-RED 4 exports them (only the properties the nodes read)."""
    return [
        {"id": "bench-tab", "type": "tab", "label": "SenML → InfluxDB (benchmark peer)"},
        {
            "id": "bench-broker", "type": "mqtt-broker", "name": "bench broker",
            "broker": "127.0.0.1", "port": "${MQTT_PORT}", "clientid": "bench-node-red",
            "autoConnect": True, "usetls": False, "protocolVersion": "5", "keepalive": "60",
            "cleansession": True, "autoUnsubscribe": True, "sessionExpiry": "",
            "birthTopic": "", "closeTopic": "", "willTopic": "",
        },
        {
            "id": "bench-mqtt-in", "type": "mqtt in", "z": "bench-tab", "name": "SenML packs",
            "topic": TOPIC, "qos": "1", "datatype": "json", "broker": "bench-broker",
            "nl": False, "rap": True, "rh": 0, "inputs": 0, "x": 150, "y": 80,
            "wires": [["bench-senml-to-points"]],
        },
        {
            "id": "bench-senml-to-points", "type": "function", "z": "bench-tab",
            "name": "SenML → point", "func": function_source, "outputs": 1, "timeout": 0,
            "noerr": 0, "initialize": "", "finalize": "", "libs": [], "x": 370, "y": 80,
            "wires": [["bench-influxdb-out"]],
        },
        {
            "id": "bench-sink", "type": "influxdb", "name": "sink", "influxdbVersion": "2.0",
            "url": "${INFLUX_URL}", "timeout": "10", "rejectUnauthorized": False,
            "hostname": "127.0.0.1", "port": "8086", "protocol": "http", "database": "cityhub",
            "usetls": False, "tls": "",
        },
        {
            "id": "bench-influxdb-out", "type": "influxdb out", "z": "bench-tab",
            "influxdb": "bench-sink", "name": "sink", "measurement": MEASUREMENT,
            "precision": "", "retentionPolicy": "", "database": "", "retentionPolicyV18Flux": "",
            "precisionV18FluxV20": "ms", "org": "cityhub", "bucket": "cityhub",
            "x": 580, "y": 80, "wires": [],
        },
    ]  # fmt: skip


def render_flow(function_file: Path = FUNCTION_FILE) -> str:
    """``flows.json``'s exact text for the function in ``function_file``."""
    return json.dumps(build_flow(function_file.read_text()), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    text = render_flow()
    if args.check:
        current = FLOW_FILE.read_text() if FLOW_FILE.exists() else ""
        if current != text:
            print(f"{FLOW_FILE} is stale: run python -m bench.peers.flow", file=sys.stderr)
            return 1
        return 0
    FLOW_FILE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
