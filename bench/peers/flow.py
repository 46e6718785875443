"""The Node-RED flows of the peer benchmark, built from the function's JavaScript.

    python -m bench.peers.flow          # rewrite bench/peers/flows.json and flows-batched.json
    python -m bench.peers.flow --check  # exit 1 when either is not what this builds

``flows.json``, the flow the issue names and most users build: MQTT in (``senml/+``, QoS 1,
JSON) → function (``senml-to-points.js``) → influxdb out (node-red-contrib-influxdb, "2.0"
config: the v2 write API, which VictoriaMetrics serves), one write request per message.
``flows-batched.json``, its obvious tuning: a join node gathers up to 1,000 points or 100 ms
of them, and "influxdb batch" writes each group in one request.

The JavaScript lives in its own file so it can be read and diffed as code; the committed
flows are what Node-RED loads, and a test keeps them in step. Ports and the sink's URL are
``${VAR}`` properties, filled by Node-RED from the environment when the bench starts it
(``MQTT_PORT``, ``INFLUX_URL``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["FLOW_FILES", "FUNCTION_FILE", "build_flow", "render_flow"]

HERE = Path(__file__).resolve().parent
FLOW_FILES = {False: HERE / "flows.json", True: HERE / "flows-batched.json"}  # by batched
FUNCTION_FILE = HERE / "senml-to-points.js"
TOPIC = "senml/+"
MEASUREMENT = "building_energy"
BATCH_POINTS = 1000
BATCH_WAIT_S = "0.1"
# [fields, tags] from the function → the "influxdb batch" node's {measurement, fields, tags,
# timestamp}, once per group
TO_BATCH = f"""msg.payload = msg.payload.map(([fields, tags]) => {{
    const {{ time, ...values }} = fields;
    return {{ measurement: "{MEASUREMENT}", fields: values, tags, timestamp: time }};
}});
return msg;
"""


def build_flow(function_source: str, batched: bool = False) -> list[dict[str, Any]]:
    """The flow's nodes, as Node-RED 4 exports them (only the properties the nodes read)."""
    name = "bench-node-red-batched" if batched else "bench-node-red"
    nodes: list[dict[str, Any]] = [
        {"id": "bench-tab", "type": "tab", "label": "SenML → InfluxDB (benchmark peer)"},
        {
            "id": "bench-broker", "type": "mqtt-broker", "name": "bench broker",
            "broker": "127.0.0.1", "port": "${MQTT_PORT}", "clientid": name,
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
            "wires": [["bench-join" if batched else "bench-influxdb-out"]],
        },
        {
            "id": "bench-sink", "type": "influxdb", "name": "sink", "influxdbVersion": "2.0",
            "url": "${INFLUX_URL}", "timeout": "10", "rejectUnauthorized": False,
            "hostname": "127.0.0.1", "port": "8086", "protocol": "http", "database": "cityhub",
            "usetls": False, "tls": "",
        },
    ]  # fmt: skip
    sink = {
        "influxdb": "bench-sink", "name": "sink", "precision": "", "retentionPolicy": "",
        "database": "", "retentionPolicyV18Flux": "", "precisionV18FluxV20": "ms",
        "org": "cityhub", "bucket": "cityhub", "wires": [],
    }  # fmt: skip
    if not batched:
        return [
            *nodes,
            {"id": "bench-influxdb-out", "type": "influxdb out", "z": "bench-tab",
             "measurement": MEASUREMENT, **sink, "x": 580, "y": 80},
        ]  # fmt: skip
    return [
        *nodes,
        {
            "id": "bench-join", "type": "join", "z": "bench-tab",
            "name": f"{BATCH_POINTS:,} points or {BATCH_WAIT_S} s", "mode": "custom",
            "build": "array", "property": "payload", "propertyType": "msg", "key": "topic",
            "joiner": "\\n", "joinerType": "str", "useparts": False, "accumulate": False,
            "timeout": BATCH_WAIT_S, "count": str(BATCH_POINTS), "reduceRight": False,
            "reduceExp": "", "reduceInit": "", "reduceInitType": "", "reduceFixup": "",
            "x": 560, "y": 80, "wires": [["bench-to-batch"]],
        },
        {
            "id": "bench-to-batch", "type": "function", "z": "bench-tab",
            "name": "points → batch", "func": TO_BATCH, "outputs": 1, "timeout": 0,
            "noerr": 0, "initialize": "", "finalize": "", "libs": [], "x": 740, "y": 80,
            "wires": [["bench-influxdb-batch"]],
        },
        {"id": "bench-influxdb-batch", "type": "influxdb batch", "z": "bench-tab", **sink,
         "x": 930, "y": 80},
    ]  # fmt: skip


def render_flow(batched: bool = False, function_file: Path = FUNCTION_FILE) -> str:
    """The exact text of the flow file for the function in ``function_file``."""
    nodes = build_flow(function_file.read_text(), batched)
    return json.dumps(nodes, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    stale = 0
    for batched, path in FLOW_FILES.items():
        text = render_flow(batched)
        if not args.check:
            path.write_text(text)
        elif not path.exists() or path.read_text() != text:
            print(f"{path} is stale: run python -m bench.peers.flow", file=sys.stderr)
            stale = 1
    return stale


if __name__ == "__main__":
    sys.exit(main())
