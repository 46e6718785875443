"""``python -m bench.ocpp_gateway``: charge points connected at once to the OCPP gateway, the
frames per second it answers and its reply latency, on this machine.

A real ``cityhub run`` (gateway on, DuckDB) and a real Mosquitto; N charge points (default
1,000, all in the registry) connect over WebSocket with ``ocpp1.6``, boot, start a
transaction, then send a MeterValues every ``--period`` seconds (default 10, start times
spread over the period) for ``--seconds``; each reply's latency (frame sent → CALLRESULT
received, which includes the broker's PUBACK of the CALL and the CALLRESULT) is recorded.
A second phase has every charger send back to back (next frame as soon as the reply came)
for ``--peak-seconds``: the gateway's ceiling in frames/s. Then the hub is given time to
drain and ``cityhub_messages_total{adapter="ocpp"}`` says how many frames it stored.

Results go to bench/results/ocpp-gateway.json and .md. Target (issue 12): 1,000 connected
chargers sending MeterValues every 10 s with p99 reply latency under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import websockets

from bench.machine import describe_machine
from hub.broker import Mosquitto, free_port

HERE = Path(__file__).resolve().parent
KEY = "bench-read-key-0123456789"


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat().replace("+00:00", "Z")


class Charger:
    """One charge point on a raw WebSocket, speaking OCPP 1.6 frames in order."""

    def __init__(self, cp_id: str, connection: websockets.ClientConnection) -> None:
        self.cp_id, self.connection, self.seq = cp_id, connection, 0
        self.register_wh = random.randint(0, 10**6)
        self.transaction_id: int | None = None

    async def call(self, action: str, payload: dict, latencies: list[float] | None) -> list:
        self.seq += 1
        started = time.perf_counter()
        await self.connection.send(json.dumps([2, f"{self.seq}", action, payload]))
        reply = json.loads(await self.connection.recv())
        if latencies is not None:
            latencies.append(time.perf_counter() - started)
        return reply

    async def meter_values(self, latencies: list[float], errors: list[str]) -> None:
        self.register_wh += random.randint(100, 2000)
        sampled = [
            {"value": str(self.register_wh), "measurand": "Energy.Active.Import.Register",
             "unit": "Wh"},
            {"value": f"{random.uniform(3, 11):.2f}", "measurand": "Power.Active.Import",
             "unit": "kW"},
        ]  # fmt: skip
        meter_value = [{"timestamp": iso(time.time()), "sampledValue": sampled}]
        payload = {"connectorId": 1, "transactionId": self.transaction_id,
                   "meterValue": meter_value}  # fmt: skip
        reply = await self.call("MeterValues", payload, latencies)
        if reply[0] != 3:
            errors.append(str(reply[2]))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def load(url: str, count: int, period: float, seconds: float, peak_seconds: float) -> dict:
    chargers: list[Charger] = []
    connect_started = time.perf_counter()
    failures: list[str] = []

    async def connect(i: int) -> None:
        cp_id = f"CP-B{i:05d}"
        try:
            connection = await websockets.connect(
                f"{url}/ocpp/{cp_id}", subprotocols=["ocpp1.6"], open_timeout=60,
                ping_interval=None, max_queue=4,
            )  # fmt: skip
        except Exception as error:
            failures.append(f"{type(error).__name__}: {error}")
            return
        charger = Charger(cp_id, connection)
        await charger.call(
            "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "B"}, None
        )
        start = {"connectorId": 1, "idTag": "BENCH", "meterStart": charger.register_wh,
                 "timestamp": iso(time.time())}  # fmt: skip
        reply = await charger.call("StartTransaction", start, None)
        charger.transaction_id = reply[2]["transactionId"]
        chargers.append(charger)

    for batch in range(0, count, 100):
        await asyncio.gather(*(connect(i) for i in range(batch, min(count, batch + 100))))
    connect_seconds = time.perf_counter() - connect_started

    steady: list[float] = []
    errors: list[str] = []

    async def periodic(charger: Charger) -> None:
        await asyncio.sleep(random.uniform(0, period))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            due = time.monotonic() + period
            await charger.meter_values(steady, errors)
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    steady_started = time.perf_counter()
    await asyncio.gather(*(periodic(c) for c in chargers))
    steady_seconds = time.perf_counter() - steady_started

    peak: list[float] = []

    async def flat_out(charger: Charger) -> None:
        deadline = time.monotonic() + peak_seconds
        while time.monotonic() < deadline:
            await charger.meter_values(peak, errors)

    peak_started = time.perf_counter()
    await asyncio.gather(*(flat_out(c) for c in chargers))
    peak_elapsed = time.perf_counter() - peak_started
    for charger in chargers:
        await charger.connection.close()
    return {
        "chargers_requested": count,
        "chargers_connected": len(chargers),
        "connect_failures": failures[:5],
        "connect_seconds": round(connect_seconds, 2),
        "steady": {
            "period_s": period,
            "seconds": round(steady_seconds, 1),
            "frames": len(steady),
            "frames_per_s": round(len(steady) / steady_seconds, 1),
            "p50_ms": round(statistics.median(steady) * 1000, 2) if steady else None,
            "p99_ms": round(percentile(steady, 0.99) * 1000, 2),
            "max_ms": round(max(steady) * 1000, 2) if steady else None,
        },
        "peak": {
            "seconds": round(peak_elapsed, 1),
            "frames": len(peak),
            "frames_per_s": round(len(peak) / peak_elapsed, 1),
            "p50_ms": round(statistics.median(peak) * 1000, 2) if peak else None,
            "p99_ms": round(percentile(peak, 0.99) * 1000, 2),
        },
        "callerrors": len(errors),
        "callerror_examples": sorted(set(errors))[:3],
    }


def ocpp_messages(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("cityhub_messages_total{") and 'adapter="ocpp"' in line
    )


def run(args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="cityhub-bench-ocpp-"))
    broker = Mosquitto(workdir / "broker").start()
    registry = workdir / "registry.json"
    devices = {f"CP-B{i:05d}": {"site": f"s-{i // 10:03d}"} for i in range(args.chargers)}
    registry.write_text(json.dumps({"devices": devices}))
    api_port, ocpp_port = free_port(), free_port()
    env = {
        **os.environ,
        "CITYHUB_DATA_DIR": str(workdir / "hub"),
        "CITYHUB_MQTT__PORT": str(broker.port),
        "CITYHUB_API__PORT": str(api_port),
        "CITYHUB_API__READ_KEYS": json.dumps([KEY]),
        "CITYHUB_INGEST__REGISTRY_FILE": str(registry),
        "CITYHUB_OCPP__ENABLED": "true",
        "CITYHUB_OCPP__PORT": str(ocpp_port),
        "CITYHUB_LOG_LEVEL": "WARNING",
    }
    log = (workdir / "hub.log").open("wb")
    hub = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "run"], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        process = psutil.Process(hub.pid)
        cpu_before = sum(p.cpu_times().user + p.cpu_times().system
                         for p in [process, *process.children(recursive=True)])  # fmt: skip
        started = time.perf_counter()
        result = asyncio.run(
            load(f"ws://127.0.0.1:{ocpp_port}", args.chargers, args.period, args.seconds,
                 args.peak_seconds)
        )  # fmt: skip
        wall = time.perf_counter() - started
        expected = (
            result["chargers_connected"] * 2 + result["steady"]["frames"] + result["peak"]["frames"]
        )
        drain_deadline = time.monotonic() + 120
        stored = 0.0
        while time.monotonic() < drain_deadline:
            stored = ocpp_messages(base)
            if stored >= 2 * expected:  # each answered CALL: its CALL and CALLRESULT
                break
            time.sleep(1)
        cpu_after = sum(p.cpu_times().user + p.cpu_times().system
                        for p in [process, *process.children(recursive=True)])  # fmt: skip
        rss = sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
        result["hub"] = {
            "cpu_s": round(cpu_after - cpu_before, 1),
            "cpu_share_of_wall": round((cpu_after - cpu_before) / wall, 2),
            "rss_mb": round(rss / 2**20),
            "mqtt_messages_processed": int(stored),
            "mqtt_messages_expected": 2 * expected,
        }
    finally:
        hub.terminate()
        hub.wait(30)
        broker.stop()
    return result


def render(result: dict, machine: str) -> str:
    s, p, h = result["steady"], result["peak"], result["hub"]
    connected = result["chargers_connected"]
    met = s["p99_ms"] is not None and s["p99_ms"] < 100 and connected >= 1000
    command = (
        f"python -m bench.ocpp_gateway --chargers {result['chargers_requested']} "
        f"--period {s['period_s']} --seconds {result['args']['seconds']}"
    )
    lines = [
        "# OCPP gateway benchmark",
        "",
        f"{result['when']}. {machine}",
        "",
        f"`{command}`: a real `cityhub run` (gateway on, DuckDB) and Mosquitto on this machine;",
        "the load generator (raw OCPP 1.6 frames over `websockets`, one process) shares its cores.",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| 1,000 chargers connected, MeterValues every 10 s, p99 reply < 100 ms "
        f"| {connected} connected, p99 {s['p99_ms']} ms | {'met' if met else '**missed**'} |",
        "",
        "| phase | frames | seconds | frames/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
        f"| steady: every charger every {s['period_s']} s | {s['frames']:,} | {s['seconds']} "
        f"| {s['frames_per_s']} | {s['p50_ms']} | {s['p99_ms']} (max {s['max_ms']}) |",
        f"| peak: every charger back to back | {p['frames']:,} | {p['seconds']} "
        f"| {p['frames_per_s']} | {p['p50_ms']} | {p['p99_ms']} |",
        "",
        f"Connecting (handshake, BootNotification, StartTransaction) took "
        f"{result['connect_seconds']} s for {connected} chargers; CALLERRORs: "
        f"{result['callerrors']}. The hub (ingest and gateway, all its processes) used "
        f"{h['cpu_s']} CPU s ({h['cpu_share_of_wall']} of a core over the run), RSS "
        f"{h['rss_mb']} MB, and processed {h['mqtt_messages_processed']:,} of the "
        f"{h['mqtt_messages_expected']:,} MQTT messages (each answered CALL is published "
        "with its CALLRESULT).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ocpp_gateway", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--peak-seconds", type=float, default=15.0)
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    result = run(args)
    result["when"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    result["args"] = vars(args) | {"results_dir": str(args.results_dir)}
    machine = describe_machine()
    result["machine"] = machine
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "ocpp-gateway.json").write_text(json.dumps(result, indent=2) + "\n")
    text = render(result, _machine_line(machine))
    (args.results_dir / "ocpp-gateway.md").write_text(text)
    print(text)
    return 0


def _machine_line(machine: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in machine.items() if not isinstance(v, dict | list))


if __name__ == "__main__":
    sys.exit(main())
