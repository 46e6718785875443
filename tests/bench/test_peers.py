"""The peer benchmark's pure parts: its committed configurations say what the hub says about
the same SenML packs, and its report computes the ratios it claims. No timing is asserted,
and nothing here needs the peers installed (``bench/peers/install.sh``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from adapters.senml import SenMLAdapter
from bench.peers.flow import FLOW_FILES, FUNCTION_FILE, TO_BATCH, render_flow
from bench.peers.report import render_peers, summarize
from bench.peers.stage import finish_time
from bench.workload import Workload
from hub.contracts import AdapterEnv
from hub.devices import DeviceRegistry

M2I_CONFIG = FUNCTION_FILE.parent / "mqtt2influxdb.yaml"


def _hub_points(count: int) -> list[tuple[str, bytes, dict[str, float], int]]:
    """(topic, payload, the hub's fields, its time in ns) for the bench's first SenML packs."""
    workload = Workload(seed=5)
    adapter = SenMLAdapter({}, AdapterEnv(devices=DeviceRegistry(workload.registry())))
    out = []
    for topic, payload in workload.messages(count, families=("senml",)):
        [point] = adapter.parse(topic, payload)
        assert point.tags["device"] == topic.rpartition("/")[2]
        out.append((topic, payload, dict(point.fields), point.time_ns))
    return out


@pytest.mark.parametrize("batched", [False, True], ids=["per-message", "batched"])
def test_the_committed_flows_are_built_from_the_committed_function(batched: bool) -> None:
    flow_file = FLOW_FILES[batched]
    assert flow_file.read_text() == render_flow(batched), "run python -m bench.peers.flow"
    flow = json.loads(flow_file.read_text())
    nodes = {node["type"]: node for node in flow}
    by_id = {node["id"]: node for node in flow}
    assert nodes["mqtt in"]["topic"] == "senml/+" and nodes["mqtt in"]["qos"] == "1"
    assert by_id["bench-senml-to-points"]["func"] == FUNCTION_FILE.read_text()
    assert nodes["mqtt-broker"]["port"] == "${MQTT_PORT}"  # filled from the environment
    sink = nodes["influxdb batch" if batched else "influxdb out"]
    assert (sink["influxdb"], sink["precisionV18FluxV20"]) == ("bench-sink", "ms")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (the peer runs on it)")
def test_the_node_red_functions_write_the_points_the_hub_stores() -> None:
    cases = _hub_points(20)
    runner = (
        "const fs = require('fs');"
        "const fn = new Function('msg', fs.readFileSync(process.argv[1], 'utf8'));"
        "const msgs = JSON.parse(fs.readFileSync(0, 'utf8'));"
        "const batch = new Function('msg', process.argv[2]);"
        "const points = msgs.map(m => fn(m).payload);"
        "console.log(JSON.stringify([points, batch({payload: points}).payload]));"
    )
    messages = [{"topic": t, "payload": json.loads(p)} for t, p, _, _ in cases]
    done = subprocess.run(
        ["node", "-e", runner, str(FUNCTION_FILE), TO_BATCH],
        input=json.dumps(messages), capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    points, batch = json.loads(done.stdout)
    for (topic, _, fields, time_ns), (js_fields, js_tags), element in zip(
        cases, points, batch, strict=True
    ):
        assert js_tags == {"device": topic.rpartition("/")[2]}
        assert js_fields.pop("time") * 1_000_000 == time_ns
        assert js_fields == pytest.approx(fields)
        # the batched flow's second function: the "influxdb batch" node's shape
        assert element == {"measurement": "building_energy", "fields": js_fields,
                           "tags": js_tags, "timestamp": time_ns // 1_000_000}  # fmt: skip


def test_the_mqtt2influxdb_config_reads_the_fields_the_hub_stores() -> None:
    [point] = yaml.safe_load(M2I_CONFIG.read_text())["points"]
    assert (point["topic"], point["qos"], point["measurement"]) == ("senml/+", 1, "building_energy")
    assert point["tags"] == {"device": "$.topic[1]"}
    path = re.compile(r"^(=\s*)?\$\.payload\[(\d)\]\.([a-z]+)(?:\s*\*\s*(\d+))?$")
    for topic, payload, fields, _ in _hub_points(20):
        pack = json.loads(payload)
        assert topic.split("/")[1] == topic.rpartition("/")[2]
        read = {}
        for name, spec in point["fields"].items():
            found = path.match(spec["value"])
            assert found, spec
            _, index, key, factor = found.groups()
            read[name] = pack[int(index)][key] * int(factor or 1)
        assert read == pytest.approx(fields)


def test_the_report_gives_the_hub_s_ratio_to_each_peer_that_stored_everything() -> None:
    rows = summarize(
        [
            {"key": "hub", "contender": "hub", "messages": 1000, "status": "ok", "rate": 10_000,
             "seconds": 0.1, "stored_messages": 1000, "cpu_s": {"bridge": 0.08, "broker": 0.01}},
            {"key": "node-red", "contender": "Node-RED", "messages": 1000, "status": "ok",
             "rate": 2_500, "seconds": 0.4, "stored_messages": 1000, "cpu_s": {"bridge": 0.3}},
            {"key": "mqtt2influxdb", "contender": "m2i", "messages": 1000,
             "status": "lost messages", "rate": None, "seconds": 2.0, "stored_messages": 990,
             "lost_messages": 10, "cpu_s": {"bridge": 1.5}},
        ]
    )  # fmt: skip
    by_key = {row["key"]: row for row in rows}
    assert by_key["hub"]["hub_ratio"] == 1.0
    assert by_key["node-red"]["hub_ratio"] == 4.0
    assert "hub_ratio" not in by_key["mqtt2influxdb"]  # no speed is claimed for a lossy run
    assert by_key["hub"]["cpu_us_per_message"] == {"bridge": 80.0, "broker": 10.0}
    markdown = "\n".join(render_peers({"status": "ok", "messages": 1000, "rows": rows}))
    assert "| Node-RED | 0.40 | 2,500 | 4.00 | 1,000 | 300.0 |" in markdown
    assert "**lost 10 of 1,000**" in markdown


def test_the_end_is_interpolated_inside_the_sink_s_last_tick_and_never_after_it() -> None:
    # 1,000 rows a second, ticks seen at 1.0 s and 2.0 s; the 2,500th row came at 2.5 s,
    # the tick that shows it at 3.0 s
    ticks = [(0.0, 0), (1.0, 1000), (2.0, 2000), (3.0, 2600)]
    assert finish_time(ticks, 2500) == pytest.approx(2.5)
    assert finish_time([(0.0, 0), (1.0, 100), (2.0, 2000)], 2000) == 2.0  # capped at the tick
    assert finish_time([(0.0, 0), (0.8, 5000)], 5000) == 0.8  # nothing to interpolate from
    assert finish_time([(0.0, 0), (1.0, 1000), (2.0, 1500)], 4000) == 2.0  # stalled
