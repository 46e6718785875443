"""Drain test: how fast does each consumer empty a preloaded persistent session?

For every consumer, on a fresh private Mosquitto with the project's config: its client id
connects once (``clean_start=False``, Session Expiry Interval) and subscribes QoS 1 to the
hub's topic filters, leaves; N messages are published QoS 1 (the broker queues them for the
session); then the consumer starts and the clock runs until it has received and
acknowledged N (for the hub: until its ``cityhub_messages_total`` counter, which counts a
message once its batch is stored and acknowledged, reaches N).

Clocks: ``mosquitto_sub`` from process start to exit (its start-up is milliseconds); the
Python consumers from their MQTT connection (CONNACK: the bare client's own clock, the hub's
"connected" log line) to the last acknowledgement, so the hub's import time is not counted.
The hub's end is seen by polling ``/metrics`` every 100 ms.

CPU: ``cpu_s_per_100k`` is user + system seconds per 100,000 messages with the start-up left
out, what the issue-18 target (hub ≤ 1.25x bare paho) compares: the bare client's own from
its CONNACK to its last acknowledgement; the hub's of all its processes (its MQTT client runs
in a child) from the first ``/metrics`` poll after its API answers, over the messages
acknowledged after it.
"""

from __future__ import annotations

import itertools
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench.context import Context, preload, progress
from bench.cputime import process_tree_cpu_s
from bench.services import HUB_FILTERS, HubRunner, Influxd, create_session, hub_client_id
from hub.settings import RollupSettings

__all__ = ["CONSUMERS", "run_drain"]

POLL_S = 0.1  # /metrics costs the hub a little: 10 Hz is enough at these durations
Result = dict[str, Any]


def _timeout_s(count: int) -> float:
    return max(60.0, count / 300)  # generous: 300 msg/s would already be a failure


def mosquitto_sub(ctx: Context, count: int) -> Result:
    with ctx.broker("drain-a") as broker:
        create_session(broker.port, "bench-mosquitto-sub")
        publish_rate = preload(broker.port, ctx.messages(count))
        command = [
            "mosquitto_sub", "-V", "mqttv5", "-c", "-i", "bench-mosquitto-sub", "-q", "1",
            "-x", "3600", "-h", "127.0.0.1", "-p", str(broker.port), "-C", str(count),
            "-W", str(int(_timeout_s(count))), "-D", "connect", "receive-maximum", "10000",
            *[arg for f in HUB_FILTERS for arg in ("-t", f)],
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"mosquitto_sub exited {done.returncode}: {done.stderr[-500:]!r}")
    return {"seconds": seconds, "publish_rate": publish_rate}


def bare_paho(ctx: Context, count: int) -> Result:
    with ctx.broker("drain-b") as broker:
        create_session(broker.port, "bench-bare-paho")
        publish_rate = preload(broker.port, ctx.messages(count))
        command = [
            sys.executable, "-m", "bench.bare_client", "--port", str(broker.port),
            "--client-id", "bench-bare-paho", "--count", str(count),
            "--timeout", str(_timeout_s(count)),
        ]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        process = subprocess.Popen(command, stdout=subprocess.PIPE)
        stdout, _ = process.communicate()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the client, now reaped
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    state = json.loads(stdout)
    if process.returncode != 0 or state["done_at"] is None:
        raise RuntimeError(f"bare client received {state['received']} of {count}")
    draining = state["done_cpu_s"] - state["connected_cpu_s"]  # without start-up and exit
    return {
        "seconds": state["done_at"] - state["connected_at"],
        "publish_rate": publish_rate,
        "cpu_s": round(cpu, 2),
        "cpu_s_per_100k": round(draining * 100_000 / count, 2),
    }


def _cpu_s(process: psutil.Process) -> float:
    """User + system CPU seconds of ``process`` alone (the hub's main process)."""
    try:
        times = process.cpu_times()
        return float(times.user + times.system)
    except psutil.Error:
        return 0.0


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _spool_pending(hub: HubRunner) -> int:
    """Batches still in the hub's local spool (InfluxDB backend); 0 when there is none."""
    spool = hub.readiness().get("checks", {}).get("spool")
    if not spool:
        return 0
    if "pending_batches" in spool:
        return int(spool["pending_batches"])
    detail = str(spool.get("detail", ""))
    marker = "pending_batches="
    if marker in detail:
        return int(detail.split(marker, 1)[1].split(",", 1)[0])
    return 0


def drive_hubs(
    ctx: Context,
    name: str,
    count: int,
    hubs: list[HubRunner],
    *,
    wait_spool: bool = False,
    on_started: Callable[[list[HubRunner]], None] | None = None,
) -> Result:
    """Start ``hubs`` on their preloaded sessions and time them until they together have
    stored and acknowledged ``count`` messages (and, with ``wait_spool``, forwarded their
    spools to the remote store)."""
    for hub in hubs:
        hub.start()
    try:
        if on_started:
            on_started(hubs)
        for hub in hubs:
            hub.wait_api()
        watches = [psutil.Process(hub.pid) for hub in hubs]
        deadline = time.monotonic() + _timeout_s(count)
        acked_at = stored_at = None
        totals: dict[str, float] = {}
        # (CPU s of all hub processes, of their main processes, messages) at the first poll
        first: tuple[float, float, float] | None = None
        while True:
            now = time.time()
            per_hub = [hub.metrics() for hub in hubs]
            totals = {
                key: sum(m.get(key, 0.0) for m in per_hub)
                for key in ("cityhub_messages", "cityhub_points_written", "cityhub_dead_letters")
            }
            if first is None:
                first = (
                    _hubs_cpu_s(hubs),
                    sum(_cpu_s(w) for w in watches),
                    totals["cityhub_messages"],
                )
            if acked_at is None and totals["cityhub_messages"] >= count:
                acked_at = now
            if acked_at is not None and (
                not wait_spool or all(_spool_pending(hub) == 0 for hub in hubs)
            ):
                stored_at = now
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{name}: {totals.get('cityhub_messages', 0):.0f} of {count} after "
                    f"{_timeout_s(count):.0f} s:\n{hubs[0].log()}"
                )
            for hub in hubs:
                hub.check_alive()
            time.sleep(POLL_S)
        connected = [hub.connected_at() for hub in hubs]
        if any(c is None for c in connected):
            raise RuntimeError(f"{name}: no 'connected' line in the hub log")
        start = min(c for c in connected if c is not None)
        result: Result = {
            "seconds": stored_at - start,
            "acked_seconds": acked_at - start,
            "points": int(totals["cityhub_points_written"]),
            "dead_letters": int(totals["cityhub_dead_letters"]),
            "cpu_s": round(sum(_cpu_s(w) for w in watches), 2),
            # every process of every hub (the MQTT client runs in a child), start-up included
            "cpu_s_all": round(_hubs_cpu_s(hubs), 2),
            "peak_rss_mb": [_peak_rss_mb(hub.pid) for hub in hubs],
        }
        if first is not None and count - first[2] >= count / 2:
            # the marginal cost, start-up and imports left out (the scale-out model's input)
            per_message = (_hubs_cpu_s(hubs) - first[0]) / (count - first[2])
            result["cpu_us_per_message"] = round(per_message * 1e6, 1)
            result["cpu_s_per_100k"] = round(per_message * 100_000, 2)  # issue 18's measure
            # of which the main process (pipeline, store, API); the rest is the MQTT client's
            main = (sum(_cpu_s(w) for w in watches) - first[1]) / (count - first[2])
            result["main_cpu_s_per_100k"] = round(main * 100_000, 2)
        if len(hubs) > 1:
            result["messages_per_hub"] = [int(m.get("cityhub_messages", 0)) for m in per_hub]
        return result
    finally:
        for hub in hubs:
            hub.stop()


def _hubs_cpu_s(hubs: list[HubRunner]) -> float:
    return sum(process_tree_cpu_s(hub.pid) for hub in hubs)


_RUNS = itertools.count(1)


def _hub_env(backend: str, influx: Influxd | None) -> dict[str, str]:
    if backend == "duckdb-no-rollups":
        return {"CITYHUB_ROLLUPS__ENABLED": "false"}
    if backend == "duckdb-no-bus-rollups":  # the default plan but bus_position's
        plan = {m: i for m, i in RollupSettings().intervals.items() if m != "bus_position"}
        return {"CITYHUB_ROLLUPS__INTERVALS": json.dumps(plan)}
    if backend == "duckdb":
        return {}
    assert influx is not None
    return {
        "CITYHUB_STORE__BACKEND": "influxdb",
        "CITYHUB_STORE__INFLUX_API": "v1",
        "CITYHUB_STORE__INFLUX_URL": influx.url,
        "CITYHUB_STORE__INFLUX_BUCKET": influx.database,
    }


def hub_drain(ctx: Context, count: int, *, backend: str, hubs: int = 1) -> Result:
    name = f"drain-hub-{backend}-{hubs}-{next(_RUNS)}"  # every run on fresh folders
    group = "bench" if hubs > 1 else None
    influx = Influxd(ctx.workdir / name / "influxd").start() if backend == "influxdb" else None
    try:
        with ctx.broker(name) as broker:
            runners = [
                HubRunner(
                    ctx.workdir / name / f"hub-{i}",
                    broker.port,
                    ctx.registry,
                    client_id=f"bench-hub-{i}",
                    shared_group=group,
                    env=_hub_env(backend, influx),
                )
                for i in range(hubs)
            ]
            for i in range(hubs):
                create_session(broker.port, hub_client_id(f"bench-hub-{i}", group), group=group)
            # The broker's and the store's CPU, for the scale-out model: receiving the
            # messages (preload) and delivering them (drain) are the two halves of its work.
            assert broker.process is not None
            broker_cpu = [process_tree_cpu_s(broker.process.pid)]
            publish_rate = preload(broker.port, ctx.messages(count))
            broker_cpu.append(process_tree_cpu_s(broker.process.pid))
            store_cpu = process_tree_cpu_s(influx.pid) if influx else 0.0
            result = drive_hubs(ctx, name, count, runners, wait_spool=backend == "influxdb")
            broker_cpu.append(process_tree_cpu_s(broker.process.pid))
            result["publish_rate"] = publish_rate
            result["broker_cpu_s"] = {
                "receive": round(broker_cpu[1] - broker_cpu[0], 2),
                "deliver": round(broker_cpu[2] - broker_cpu[1], 2),
            }
            if influx:
                result["store_cpu_s"] = round(process_tree_cpu_s(influx.pid) - store_cpu, 2)
            return result
    finally:
        if influx is not None:
            influx.stop()


def _influx_ready() -> str | None:
    """Why the InfluxDB measurements cannot run here, or None."""
    if not Influxd.available():
        return "influxd (Debian package influxdb) is not installed"
    try:
        from hub.stores.influxdb import InfluxDBStore  # noqa: F401
        from hub.stores.spool import SpooledStore  # noqa: F401
    except Exception as error:  # the store is being written concurrently: report, not crash
        return f"the InfluxDB store does not import: {error!r}"
    return None


CONSUMERS: dict[str, tuple[str, Callable[[Context, int], Result]]] = {
    "a": ("mosquitto_sub (C client, the ceiling)", mosquitto_sub),
    "b": ("bare paho-mqtt, acks only (baseline)", bare_paho),
    "c": ("hub → DuckDB", lambda ctx, n: hub_drain(ctx, n, backend="duckdb")),
    "c0": (
        "hub → DuckDB, rollups off",
        lambda ctx, n: hub_drain(ctx, n, backend="duckdb-no-rollups"),
    ),
    "cb": (
        "hub → DuckDB, rollups but no bus_position ones",
        lambda ctx, n: hub_drain(ctx, n, backend="duckdb-no-bus-rollups"),
    ),
    "d": (
        "hub → InfluxDB 1.x (spool, v1 /write)",
        lambda ctx, n: hub_drain(ctx, n, backend="influxdb"),
    ),
    "e": (
        "2 hubs, shared subscription → one InfluxDB",
        lambda ctx, n: hub_drain(ctx, n, backend="influxdb", hubs=2),
    ),
    "e2": (
        "2 hubs, shared subscription → a DuckDB file each",
        lambda ctx, n: hub_drain(ctx, n, backend="duckdb", hubs=2),
    ),
}  # fmt: skip
_NEEDS_INFLUX = {"d", "e"}


def run_drain(
    ctx: Context, count: int, consumers: list[str] | None = None, rounds: int = 1
) -> list[Result]:
    """Every consumer on the same ``count`` messages; rates and ratios to the bare client.

    With ``rounds`` > 1 the consumers run in turn that many times (a b c, a b c, ...), so a
    slow spell of a shared machine falls on all of them, and each reports its median run."""
    influx_problem = _influx_ready()
    keys = consumers or list(CONSUMERS)
    runs: dict[str, list[Result]] = {key: [] for key in keys}
    for round_number in range(1, rounds + 1):
        for key in keys:
            label, measure = CONSUMERS[key]
            row: Result = {"key": key, "consumer": label, "messages": count}
            if key in _NEEDS_INFLUX and influx_problem:
                row.update(status="not run", note=influx_problem)
                progress(f"drain ({key}) {label}: not run ({influx_problem})")
                runs[key].append(row)
                continue
            progress(f"drain ({key}) {label}: {count:,} messages, round {round_number}/{rounds}")
            try:
                row.update(measure(ctx, count))
                row["status"] = "ok"
                row["rate"] = round(count / row["seconds"])
                progress(f"drain ({key}) {row['rate']:,} msg/s in {row['seconds']:.2f} s")
            except Exception as error:
                row.update(status="failed", note=f"{type(error).__name__}: {str(error)[:1500]}")
                progress(f"drain ({key}) failed: {row['note'][:300]}")
            runs[key].append(row)
    rows = [_median_run(runs[key]) for key in keys]
    baseline = next((r for r in rows if r["key"] == "b" and r["status"] == "ok"), None)
    for row in rows:
        if baseline and row["status"] == "ok":
            row["ratio_to_b"] = round(row["rate"] / baseline["rate"], 3)
            if row.get("cpu_s_per_100k") and baseline.get("cpu_s_per_100k"):
                row["cpu_ratio_to_b"] = round(row["cpu_s_per_100k"] / baseline["cpu_s_per_100k"], 3)
    return rows


def _median_run(runs: list[Result]) -> Result:
    """The run with the median rate among the successful ones, with every rate attached."""
    ok = sorted((r for r in runs if r["status"] == "ok"), key=lambda r: r["rate"])
    if not ok:
        return runs[-1]
    median = dict(ok[(len(ok) - 1) // 2])
    if len(runs) > 1:
        median["rounds"] = [r.get("rate") for r in runs]
        for key in ("cpu_s_per_100k", "main_cpu_s_per_100k"):
            cpu = sorted(r[key] for r in ok if key in r)
            if cpu:  # CPU per message is steadier than the rate: its own median over the rounds
                median[key] = cpu[(len(cpu) - 1) // 2]
        if "cpu_s_per_100k" in median:
            median["cpu_rounds"] = [r.get("cpu_s_per_100k") for r in runs]
    # the hub's MQTT client process: the rest (of the two medians, which may come from
    # different rounds: the split then adds up to the median of the whole)
    if "main_cpu_s_per_100k" in median:
        median["mqtt_cpu_s_per_100k"] = round(
            median["cpu_s_per_100k"] - median["main_cpu_s_per_100k"], 2
        )
    return median
