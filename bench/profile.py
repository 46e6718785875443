"""Where the hub's time goes while it drains.

Two views, both on the drain test's messages:

- ``py-spy`` sampling the real ``cityhub run`` process and its MQTT client process (a child,
  ``hub.ingest.mqtt_process``) during a drain (when ``py-spy`` is installed: ``pip install
  py-spy``), samples attributed to the process and the thread they were taken on (pipeline
  worker, paho network loop, rollup flush, API...) and to the functions on top of the stack
  (self) and anywhere on it (inclusive). Import-time samples are left out.
- ``cProfile`` over the ingest pipeline alone, in this process: ``Pipeline.process`` on
  batches of the hub's default size into a real DuckDB file, without MQTT, which also gives
  the pipeline's own cost per message (route, parse, store, dead letters, metrics).
- each wire format's parse alone (``adapter.parse``, in this process): CPU µs per message,
  the best of interleaved rounds (thread CPU time: what other processes on a shared machine
  take is left out, mostly).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.context import Context, preload, progress
from bench.drain import drive_hubs
from bench.services import HubRunner, create_session
from bench.workload import MIX, Workload

__all__ = ["format_costs", "pipeline_profile", "pyspy_profile", "run_profile"]

_THREADS = (  # a frame that identifies the thread a sample was taken on, first match wins
    ("pipeline worker", "_run (hub/ingest/pipeline.py)"),
    ("paho network loop", "_thread_main (paho/mqtt/client.py)"),
    ("hand-over to the hub", "_child.<locals>.flusher (hub/ingest/mqtt_process.py)"),
    ("acks from the hub", "_child (hub/ingest/mqtt_process.py)"),
    ("receiver from the MQTT process", "_receive (hub/ingest/mqtt_process.py)"),
    ("rollup flush", "_flush_in_background (hub/stores/duckdb.py)"),
    ("spool forwarder", "_forward_loop (hub/stores/spool.py)"),
    ("API (uvicorn)", "uvicorn"),
)
_CHILD = "spawn_main"  # on the stacks of the MQTT client process (multiprocessing's spawn)
_OURS = ("hub/", "adapters/", "paho/", "duckdb", "pydantic", "pyarrow", "json/", "google/")


def _thread_of(frames: Sequence[str]) -> str:
    for name, marker in _THREADS:
        if any(marker in frame for frame in frames):
            return name
    return "other"


def summarize_raw(text: str, top: int = 15) -> dict[str, Any]:
    """Process, thread, self and inclusive shares from py-spy's raw (collapsed stack)
    output."""
    processes: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if any("_find_and_load" in frame for frame in frames):
            continue  # start-up imports
        count = int(count_text)
        total += count
        child = any(_CHILD in frame for frame in frames)
        processes["MQTT client process" if child else "hub process"] += count
        threads[_thread_of(frames)] += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            if any(part in frame for part in _OURS):
                inclusive[frame] += count

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": name, "pct": round(100 * n / total, 1)}
            for name, n in counter.most_common(top)
        ]

    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "processes": share(processes),
        "threads": share(threads),
        "self": share(self_time),
        "inclusive": share(inclusive),
    }


def pyspy_profile(ctx: Context, count: int) -> dict[str, Any]:
    binary = shutil.which("py-spy")
    if binary is None:
        return {"status": "not run", "note": "py-spy is not installed (pip install py-spy)"}
    output = ctx.workdir / "profile" / "pyspy.txt"
    spies: list[subprocess.Popen[bytes]] = []

    def attach(hubs: list[HubRunner]) -> None:
        command = [
            binary, "record", "--pid", str(hubs[0].pid), "--format", "raw", "--nolineno",
            "--rate", "250", "--nonblocking", "--subprocesses", "--output", str(output),
        ]  # fmt: skip
        spies.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )

    with ctx.broker("profile") as broker:
        create_session(broker.port, "bench-hub-profile")
        preload(broker.port, ctx.messages(count))
        hub = HubRunner(
            ctx.workdir / "profile" / "hub", broker.port, ctx.registry,
            client_id="bench-hub-profile",
        )  # fmt: skip
        try:
            drained = drive_hubs(ctx, "profile", count, [hub], on_started=attach)
        finally:
            for spy in spies:  # the hub has stopped: py-spy writes its file and exits
                try:
                    spy.wait(30)
                except subprocess.TimeoutExpired:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(30)
    if not output.exists():
        return {"status": "failed", "note": "py-spy wrote nothing (ptrace not permitted?)"}
    summary = summarize_raw(output.read_text())
    return {
        "status": "ok",
        "rate_under_profiler": round(count / drained["seconds"]),
        "raw_file": str(output),
        **summary,
    }


def pipeline_profile(ctx: Context, count: int, top: int = 20) -> dict[str, Any]:
    """The pipeline alone (no MQTT) under cProfile, and its rate without the profiler."""
    from hub.contracts import AdapterEnv
    from hub.deadletters import DeadLetterLog
    from hub.devices import DeviceRegistry
    from hub.ingest.pipeline import Inbound, Pipeline
    from hub.plugins import load_adapters
    from hub.stores.duckdb import DuckDBStore
    from hub.topics import TopicRouter

    messages = ctx.messages(count)
    env = AdapterEnv(devices=DeviceRegistry(ctx.workload.registry()))
    adapters = load_adapters(None, {}, env)
    batch_size = 5000
    results: dict[str, Any] = {}
    for run in ("plain", "cprofile"):
        folder = ctx.workdir / "profile" / f"pipeline-{run}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        store = DuckDBStore(folder / "cityhub.duckdb")
        letters = DeadLetterLog(folder / "deadletters.sqlite")
        router = TopicRouter((a.topics, a) for a in adapters)
        pipeline = Pipeline(router, store, letters, lambda _batch: None)
        inbound = [
            Inbound(t, p, i % 65535 + 1, 1, time.time_ns()) for i, (t, p) in enumerate(messages)
        ]
        batches = [inbound[i : i + batch_size] for i in range(0, len(inbound), batch_size)]
        profiler = cProfile.Profile() if run == "cprofile" else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for batch in batches:
            pipeline.process(batch)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        store.close()
        letters.close()
        if profiler is None:
            results["rate"] = round(count / seconds)
            results["us_per_message"] = round(seconds / count * 1e6, 1)
        else:
            stream = io.StringIO()
            stats = pstats.Stats(profiler, stream=stream)
            results["top_tottime"] = _top(stats, "tottime", top)
            results["top_cumtime"] = _top(stats, "cumulative", top)
    return {"status": "ok", "messages": count, "batch": batch_size, **results}


def format_costs(ctx: Context, count: int = 1000, rounds: int = 15) -> dict[str, float]:
    """CPU µs per message of each format's ``adapter.parse`` (and of the mix), best of
    ``rounds`` rounds that take every format in turn, on ``count`` messages of each."""
    from hub.contracts import AdapterEnv
    from hub.devices import DeviceRegistry
    from hub.plugins import load_adapters
    from hub.topics import TopicRouter

    workload = Workload(ctx.seed)  # its own device clocks: the context's traffic is untouched
    env = AdapterEnv(devices=DeviceRegistry(workload.registry()))
    router = TopicRouter((a.topics, a) for a in load_adapters(None, {}, env))
    traffic = {family: list(workload.messages(count, [family])) for family in MIX}
    traffic["mix"] = list(workload.messages(count))
    routed = {
        family: [(router.route(topic), topic, payload) for topic, payload in messages]
        for family, messages in traffic.items()
    }
    best: dict[str, float] = {}
    for _ in range(rounds):
        for family, messages in routed.items():
            started = time.thread_time()
            for adapter, topic, payload in messages:
                if adapter is not None:
                    adapter.parse(topic, payload)
            seconds = (time.thread_time() - started) / len(messages)
            best[family] = min(best.get(family, seconds), seconds)
    return {family: round(seconds * 1e6, 1) for family, seconds in best.items()}


def _top(stats: pstats.Stats, key: str, top: int) -> list[dict[str, Any]]:
    raw: dict = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())  # tottime sums to the profiled time
    column = 2 if key == "tottime" else 3
    rows = sorted(raw.items(), key=lambda item: item[1][column], reverse=True)[:top]
    return [
        {
            "function": f"{func} ({_short(file)}:{line})",
            "calls": entry[1],
            "seconds": round(entry[column], 3),
            "pct": round(100 * entry[column] / total, 1) if total else 0.0,
        }
        for (file, line, func), entry in rows
    ]


def _short(path: str) -> str:
    for anchor in ("site-packages/", "/main/", "lib/python"):
        if anchor in path:
            return path.split(anchor, 1)[1]
    return Path(path).name if "/" in path else path


def run_profile(ctx: Context, count: int) -> dict[str, Any]:
    progress(f"profile: pipeline alone (no MQTT) on {count:,} messages, plain and cProfile")
    result: dict[str, Any] = {"pipeline": pipeline_profile(ctx, count)}
    progress("profile: each format's parse alone, CPU µs per message")
    result["formats_us"] = format_costs(ctx)
    progress(f"profile: py-spy on a hub draining {count:,} messages")
    try:
        result["pyspy"] = pyspy_profile(ctx, count)
    except Exception as error:
        result["pyspy"] = {"status": "failed", "note": f"{type(error).__name__}: {error}"[:1500]}
    return result
