"""Live test: publish-to-queryable latency, CPU and memory at a steady rate.

For each rate, a fresh ``cityhub run`` (DuckDB) on one private Mosquitto; a publisher process
sends the benchmark's traffic at the rate for a bounded time. Meanwhile this process
publishes a *marker* every 100 ms: a SenML pack of the registered meter ``bench-marker``
whose timestamp is the publish time and whose power reading is its sequence number, and
polls ``GET /api/v1/latest?measurement=building_energy&where=device:bench-marker`` every
20 ms. A marker's latency is from just before it was published to the arrival of the first
API response that shows it (or a later one): publish → stored → visible through the API,
including the query. Markers of the first second are left out (warm-up).

A third thread asks an operator's question every 5 s while the load runs: the city's
energy per hour over the last day (``/api/v1/city/energy?every=1h&start=-1d``, read from the
hourly rollups where they cover it), and reports its latency, beside the same question asked
once the hub has caught up (idle): what a dashboard's user waits under ingest.

The hub's CPU (user + system seconds of all its processes over the window, as a share of one
core) and peak RSS
(``VmHWM``) are read from ``/proc``; after the publisher stops, the time the hub needs to
catch up with what was published is reported too.

A p99 over 30 s is set by its worst three markers, so by one stall (a rollup flush, a DuckDB
checkpoint) and by what else the machine runs: on a quiet 2-core machine, 13 runs at 5,000
msg/s of nearly the same code within an hour gave 0.44 to 2.1 s. ``--live-rounds N`` runs
every rate N times, the rates in turn, and reports per rate the round with the median p99
with every round's p50 and p99 beside it. Each round leaves, in its folder of the work
directory (``--workdir``), the hub's log and ``markers.json``: each marker's publish time
(epoch s) and latency in ms (``null``: never seen during the load), to line up with the log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
from pathlib import Path
from typing import Any

from bench.context import Context, progress
from bench.cputime import process_tree_cpu_s
from bench.drain import _peak_rss_mb
from bench.services import HubRunner
from bench.wire import RawPublisher
from bench.workload import MARKER_DEVICE, marker_message

__all__ = ["run_live"]

MARKER_EVERY_S = 0.1
POLL_EVERY_S = 0.02
QUESTION_EVERY_S = 5.0  # a dashboard refreshing every 5 s
QUESTION = ("/api/v1/city/energy", {"every": "1h", "start": "-1d"})
WARMUP_S = 1.0


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class _MarkerProbe:
    """Publishes markers and polls the API for them, on two threads of this process."""

    def __init__(self, hub: HubRunner, broker_port: int) -> None:
        self._hub = hub
        self._publisher = RawPublisher(broker_port, "bench-marker")
        self._stop = threading.Event()
        self.published: dict[int, float] = {}  # seq → perf_counter just before publishing
        self.seen: dict[int, float] = {}
        self.poll_errors = 0
        self.polls = 0
        self.question_ms: list[float] = []
        self._threads = [
            threading.Thread(target=self._publish_loop, daemon=True),
            threading.Thread(target=self._poll_loop, daemon=True),
            threading.Thread(target=self._question_loop, daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        self._publisher.close()

    def _publish_loop(self) -> None:
        seq = 0
        while not self._stop.is_set():
            seq += 1
            self.published[seq] = time.perf_counter()
            packets = self._publisher.encode([marker_message(seq, time.time_ns())])
            self._publisher.send(packets)
            self._stop.wait(MARKER_EVERY_S)

    def _poll_loop(self) -> None:
        params = {"measurement": "building_energy", "where": f"device:{MARKER_DEVICE}"}
        latest_seen = 0
        while not self._stop.is_set():
            self.polls += 1
            try:
                rows = json.loads(self._hub.get("/api/v1/latest", params))["rows"]
            except (urllib.error.URLError, OSError, ValueError):
                self.poll_errors += 1
                self._stop.wait(POLL_EVERY_S)
                continue
            arrived = time.perf_counter()
            if rows:
                visible = int(rows[0]["fields"].get("power_w", 0))
                for seq in range(latest_seen + 1, visible + 1):
                    self.seen[seq] = arrived
                latest_seen = max(latest_seen, visible)
            self._stop.wait(POLL_EVERY_S)

    def _question_loop(self) -> None:
        while not self._stop.wait(QUESTION_EVERY_S):
            self.question_ms.append(ask_question_ms(self._hub))

    def timeline(self) -> list[tuple[float, float | None]]:
        """Each marker's publish time (epoch s) and latency in ms (``None``: never seen)."""
        offset = time.time() - time.perf_counter()
        return [
            (
                round(sent + offset, 3),
                round((self.seen[seq] - sent) * 1000, 1) if seq in self.seen else None,
            )
            for seq, sent in self.published.items()
        ]

    def latencies_ms(self, after: float) -> list[float]:
        return [
            (self.seen[seq] - sent) * 1000
            for seq, sent in self.published.items()
            if seq in self.seen and sent >= after
        ]


def ask_question_ms(hub: HubRunner) -> float:
    """The operator's question once: its latency in ms (an error raises)."""
    asked = time.perf_counter()
    hub.get(*QUESTION)
    return (time.perf_counter() - asked) * 1000


def live_rate(ctx: Context, rate: int, duration_s: float, name: str = "") -> dict[str, Any]:
    name = name or f"live-{rate}"
    with ctx.broker(name) as broker:
        hub = HubRunner(ctx.workdir / name / "hub", broker.port, ctx.registry)
        hub.start()
        try:
            hub.wait_api()
            deadline = time.monotonic() + 30
            while not hub.readiness().get("ready"):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"hub not ready:\n{hub.log()}")
                time.sleep(0.1)
            load = subprocess.Popen(
                [
                    sys.executable, "-m", "bench.publisher", "--port", str(broker.port),
                    "--rate", str(rate), "--duration", str(duration_s), "--seed", str(ctx.seed),
                    "--device-scale", str(ctx.device_scale),
                ],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert load.stderr is not None
            if load.stderr.readline().strip() != "ready":  # payloads generated and encoded
                raise RuntimeError(f"publisher failed: {load.stderr.read()[-1000:]}")
            probe = _MarkerProbe(hub, broker.port)
            cpu_before, started = process_tree_cpu_s(hub.pid), time.perf_counter()
            probe.start()
            stdout, stderr = load.communicate(timeout=duration_s + 120)
            published_at = time.perf_counter()
            cpu = process_tree_cpu_s(hub.pid) - cpu_before  # the MQTT client process too
            if load.returncode != 0:
                raise RuntimeError(f"publisher failed: {stderr[-1000:]}")
            sent = json.loads(stdout)
            probe.stop()
            expected = sent["sent"] + len(probe.published)
            catch_up_deadline = time.monotonic() + 120
            while hub.metrics().get("cityhub_messages", 0) < expected:
                if time.monotonic() > catch_up_deadline:
                    raise TimeoutError(f"hub did not catch up with {expected} messages")
                time.sleep(0.05)
            caught_up_s = time.perf_counter() - published_at
            ask_question_ms(hub)  # rolls up what the load left pending
            idle_ms = [ask_question_ms(hub) for _ in range(5)]
            totals = hub.metrics()
            rss = _peak_rss_mb(hub.pid)
        finally:
            hub.stop()
    latencies = probe.latencies_ms(after=started + WARMUP_S)
    _write_timeline(ctx.workdir / name / "markers.json", probe.timeline())
    window_s = published_at - started
    result: dict[str, Any] = {
        "target_rate": rate,
        "achieved_rate": round(sent["rate"]),
        "seconds": round(window_s, 1),
        "markers": len(latencies),
        "markers_never_seen_during_load": len(probe.published) - len(probe.seen),
        "api_polls": probe.polls,
        "hub_cpu_pct_of_one_core": round(100 * cpu / window_s),
        "hub_peak_rss_mb": round(rss, 1) if rss else None,
        "catch_up_s": round(caught_up_s, 2),
        "dead_letters": int(totals.get("cityhub_dead_letters", 0)),
    }
    if probe.question_ms:
        result.update(
            question_p50_ms=round(_percentile(probe.question_ms, 50), 1),
            question_max_ms=round(max(probe.question_ms), 1),
            question_idle_p50_ms=round(_percentile(idle_ms, 50), 1),
        )
    if latencies:
        result.update(
            p50_ms=round(_percentile(latencies, 50), 1),
            p99_ms=round(_percentile(latencies, 99), 1),
            max_ms=round(max(latencies), 1),
        )
    return result


def _write_timeline(path: Path, timeline: list[tuple[float, float | None]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(timeline))


def run_live(
    ctx: Context, rates: list[int], duration_s: float, rounds: int = 1
) -> list[dict[str, Any]]:
    """Every rate ``rounds`` times, the rates in turn; per rate, the round with the median
    p99 (see the module's docstring)."""
    runs: dict[int, list[dict[str, Any]]] = {rate: [] for rate in rates}
    for round_number in range(1, rounds + 1):
        for rate in rates:
            name = f"live-{rate}" if rounds == 1 else f"live-{rate}-round-{round_number}"
            runs[rate].append(_live_round(ctx, rate, duration_s, name))
    return [_median_p99(runs[rate]) for rate in rates]


def _median_p99(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = sorted((r for r in runs if "p99_ms" in r), key=lambda r: r["p99_ms"])
    if not ok:
        return runs[-1]
    median = dict(ok[(len(ok) - 1) // 2])
    if len(runs) > 1:
        median["rounds"] = [
            {"p50_ms": r.get("p50_ms"), "p99_ms": r.get("p99_ms"), "status": r["status"]}
            for r in runs
        ]
    return median


def _live_round(ctx: Context, rate: int, duration_s: float, name: str) -> dict[str, Any]:
    progress(f"live: {rate:,} msg/s for {duration_s:.0f} s ({name})")
    try:
        row = {"status": "ok", **live_rate(ctx, rate, duration_s, name)}
    except Exception as error:
        row = {
            "target_rate": rate,
            "status": "failed",
            "note": f"{type(error).__name__}: {error}"[:1500],
        }
        progress(f"live: {rate:,} msg/s failed: {row['note'][:300]}")
        return row
    progress(
        f"live: {rate:,} msg/s → p50 {row.get('p50_ms')} ms, p99 {row.get('p99_ms')} ms, "
        f"CPU {row['hub_cpu_pct_of_one_core']}%, RSS {row['hub_peak_rss_mb']} MB"
    )
    return row
