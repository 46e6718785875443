"""The benchmark harness's machinery on a tiny scale: it runs and its report is well formed.

No timing is asserted (DESIGN.md: performance is measured by the harness, never by a test).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.drain import _median_run
from bench.profile import summarize_raw
from bench.report import _split
from bench.workload import DEVICES, Workload, marker_message
from hub.contracts import AdapterEnv
from hub.devices import DeviceRegistry
from hub.errors import Rejected
from hub.plugins import load_adapters
from hub.topics import TopicRouter

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(),
    reason="needs the mosquitto binary",
)


@pytest.mark.parametrize("device_scale", [1, 3])
def test_every_generated_message_is_accepted_and_becomes_distinct_points(
    device_scale: int,
) -> None:
    workload = Workload(seed=3, device_scale=device_scale)
    registry = workload.registry()
    assert len(registry) == device_scale * sum(DEVICES.values()) + 1  # and the marker
    env = AdapterEnv(devices=DeviceRegistry(registry))
    router = TopicRouter((a.topics, a) for a in load_adapters(None, {}, env))
    messages = [*workload.messages(2000), marker_message(1, workload.start_s * 10**9)]
    keys = set()
    adapters = set()
    devices: set[str] = set()
    for topic, payload in messages:
        adapter = router.route(topic)
        assert adapter is not None, topic
        try:
            points = adapter.parse(topic, payload)
        except Rejected as rejected:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{topic}: {rejected.reason} {rejected.detail}")
        adapters.add(adapter.name)
        keys.update((p.measurement, p.series, p.time_ns) for p in points)
        devices.update(p.tags["device"] for p in points if "device" in p.tags)
    assert adapters == {"senml", "tasmota", "shelly", "ocpp", "gtfsrt"}
    # the messages come from the scaled fleet: more devices, fewer messages each
    assert len(devices) > 0.5 * min(len(messages), len(registry))
    assert len(keys) >= len(messages)  # no two messages collapse into the same points


def test_a_tiny_drain_produces_a_well_formed_report(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    code = main(
        [
            "--only", "drain", "--consumers", "b,c", "--messages", "500",
            "--workdir", str(tmp_path / "work"), "--results-dir", str(results_dir),
        ]
    )  # fmt: skip
    assert code == 0
    report = json.loads((results_dir / "latest.json").read_text())
    assert report["machine"]["cores"] >= 1
    assert report["machine"]["python"]
    rows = {row["key"]: row for row in report["drain"]}
    assert set(rows) == {"b", "c"}
    for row in rows.values():
        assert row["status"] == "ok", row.get("note")
        assert row["messages"] == 500
        assert row["seconds"] > 0 and row["rate"] > 0
    assert rows["b"]["ratio_to_b"] == 1.0
    assert rows["c"]["ratio_to_b"] > 0
    # the hub stored every message and rejected none
    assert rows["c"]["dead_letters"] == 0
    assert rows["c"]["points"] >= 500
    c = rows["c"]
    if "main_cpu_s_per_100k" in c:  # measured when most messages came after the first poll
        assert c["mqtt_cpu_s_per_100k"] + c["main_cpu_s_per_100k"] == pytest.approx(
            c["cpu_s_per_100k"], abs=0.011
        )
    markdown = (results_dir / "latest.md").read_text()
    assert "| (b) | bare paho-mqtt" in markdown
    assert "| (c) | hub → DuckDB" in markdown
    assert "| of which MQTT process / hub process |" in markdown


def test_a_short_live_run_reports_latency_and_the_operators_question(tmp_path: Path) -> None:
    """The live bench against a real hub, in two rounds: markers seen through the API, and
    the operator's question answered during the load and once caught up, all in the report,
    with the round of the median p99 and every round's figures; each round's markers are
    left in the work directory with their latencies."""
    results_dir = tmp_path / "results"
    code = main(
        [
            "--only", "live", "--rates", "200", "--live-seconds", "6", "--live-rounds", "2",
            "--workdir", str(tmp_path / "work"), "--results-dir", str(results_dir),
        ]
    )  # fmt: skip
    assert code == 0
    [row] = json.loads((results_dir / "latest.json").read_text())["live"]
    assert row["status"] == "ok", row.get("note")
    assert row["markers"] > 10 and 0 < row["p50_ms"] <= row["p99_ms"]
    assert row["question_p50_ms"] > 0 and row["question_idle_p50_ms"] > 0
    assert row["dead_letters"] == 0
    p99s = sorted(r["p99_ms"] for r in row["rounds"])
    assert len(p99s) == 2 and row["p99_ms"] == p99s[0]  # the lower median of two
    for round_number in (1, 2):
        timeline = json.loads(
            (tmp_path / "work" / f"live-200-round-{round_number}" / "markers.json").read_text()
        )
        assert len(timeline) > 10
        assert all(ms is None or ms > 0 for _, ms in timeline)
        assert sum(ms is not None for _, ms in timeline) >= row["markers"] // 2
    markdown = (results_dir / "latest.md").read_text()
    assert "question p50 / max ms under load" in markdown
    assert "200 msg/s in 2 rounds, p50–p99 ms of each:" in markdown


def test_the_mapping_bench_compares_adapters_that_give_the_same_points(tmp_path: Path) -> None:
    from bench.mapping import CASES, build_pairs, run_mapping

    pairs = build_pairs(tmp_path / "pairs")  # raises unless every contender's points agree
    assert [len(contenders) for *_, contenders in pairs] == [3] * len(CASES)
    for _, topic, payload, contenders in pairs:
        points = [adapter.parse(topic, payload) for _, adapter in contenders]
        assert points[0] and points[1] == points[0] == points[2]
    rows = run_mapping(tmp_path / "run", messages=50, rounds=1)
    assert [r["ratio_to_hand_written"] for r in rows[::3]] == [1.0] * len(CASES)
    assert all(r["us_per_message"] > 0 for r in rows)


def test_the_profile_attributes_samples_to_the_mqtt_process_and_its_threads() -> None:
    # py-spy --subprocesses output (raw, collapsed stacks): the hub, then its MQTT client
    # process under it (spawned by multiprocessing), as in a real drain's profile.
    hub = 'process 10:"python -m hub.cli run"'
    child = (
        f'{hub};process 11:"python -c from multiprocessing.spawn import spawn_main; '
        'spawn_main(tracker_fd=16, pipe_handle=18) --multiprocessing-fork"'
    )
    thread = "Thread._bootstrap (threading.py);Thread.run (threading.py)"
    raw = "\n".join(
        [
            f"{child};{thread};Client._thread_main (paho/mqtt/client.py);"
            "Properties.__init__ (paho/mqtt/properties.py) 30",
            f"{child};{thread};_child.<locals>.flusher (hub/ingest/mqtt_process.py);"
            "Connection._send (multiprocessing/connection.py) 10",
            f"{hub};{thread};Pipeline._run (hub/ingest/pipeline.py);"
            "DuckDBStore._insert (hub/stores/duckdb.py) 40",
            f"{hub};{thread};DuckDBStore._flush_in_background (hub/stores/duckdb.py);"
            "DuckDBStore._compose (hub/stores/duckdb.py) 20",
            f"{hub};<module> (hub/cli.py);_find_and_load (<frozen importlib._bootstrap>) 99",
        ]
    )
    summary = summarize_raw(raw)
    assert summary["samples"] == 100  # the import-time samples are left out
    assert {p["function"]: p["pct"] for p in summary["processes"]} == {
        "hub process": 60.0,
        "MQTT client process": 40.0,
    }
    assert {t["function"]: t["pct"] for t in summary["threads"]} == {
        "pipeline worker": 40.0,
        "paho network loop": 30.0,
        "rollup flush": 20.0,
        "hand-over to the hub": 10.0,
    }


def test_the_drain_splits_the_hub_s_cpu_between_its_processes_round_by_median() -> None:
    rounds = [
        {
            "key": "c",
            "status": "ok",
            "rate": rate,
            "cpu_s_per_100k": cpu,
            "main_cpu_s_per_100k": main,
        }
        for rate, cpu, main in ((900, 17.0, 9.0), (1000, 16.0, 9.5), (1100, 18.0, 10.0))
    ]
    row = _median_run(rounds)
    assert row["rate"] == 1000 and row["rounds"] == [900, 1000, 1100]
    assert row["cpu_s_per_100k"] == 17.0 and row["main_cpu_s_per_100k"] == 9.5
    assert row["mqtt_cpu_s_per_100k"] == 7.5  # the rest of the whole
    assert _split(row) == "7.50 / 9.50"
