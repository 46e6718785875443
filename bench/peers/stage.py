"""One peer measurement: a bridge, a fresh broker and a fresh sink, the same SenML burst.

Why live and not a preloaded session (as the drain stage does): mqtt2influxdb connects with
a clean session and a random client id, so nothing can be queued for it before it starts.
Every contender is therefore started and subscribed first; then the messages are published
QoS 1 as fast as the raw publisher goes (the broker queues what the bridge has not taken:
the project's config has no queue limit), and the clock runs from the first PUBLISH until the
sink has accepted every expected row (four field values per message; :func:`finish_time` says
how the counter's one-second tick is read). A bridge that stops short is waited for until it
makes no progress for ``STALL_S``, then reported with what it stored. At the end the sink
is asked how many messages' points it holds (``power_w`` samples), which is the proof, not
the counter.

Readiness is the same for all: a probe pack (device ``bench-marker``, time now) is published
every half second until a row of it reaches the sink; probes are left out of the count.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.context import Context, progress
from bench.cputime import process_tree_cpu_s
from bench.peers.contenders import CONTENDERS, FIELDS_PER_MESSAGE, Contender, installed
from bench.peers.report import summarize
from bench.peers.sink import Sink
from bench.wire import RawPublisher
from bench.workload import MARKER_DEVICE, Message, Workload

__all__ = ["finish_time", "measure_peer", "peer_messages", "run_peers"]

POLL_S = 0.1
# No progress for this long ends a run as short: longer than any retry of the peers' clients
# (Node-RED's influxdb-client-js gives up 180 s after a write's first attempt).
STALL_S = 190.0
READY_TIMEOUT_S = 90.0
STORED_METRIC = "building_energy_power_w"  # one sample per message for every contender
Result = dict[str, Any]


def peer_messages(ctx: Context, count: int) -> list[Message]:
    """``count`` SenML packs of the run's meters (the same for every contender)."""
    workload = Workload(ctx.seed, start_s=ctx.workload.start_s)
    return list(workload.messages(count, families=("senml",)))


def _probe(sequence: int) -> Message:
    time_s = round(time.time(), 3)
    pack = [
        {"bn": "urn:dev:bench:", "bt": time_s, "bu": "W"},
        {"n": "power", "v": float(sequence)},
        {"n": "energy", "u": "kWh", "s": 0.0},
        {"n": "voltage", "u": "V", "v": 230.0},
        {"n": "frequency", "u": "Hz", "v": 50.0},
    ]
    return f"senml/{MARKER_DEVICE}", json.dumps(pack).encode()


def _wait_ready(contender: Contender, publisher: RawPublisher, sink: Sink) -> int:
    """Probe until the contender writes to the sink; returns the sink's rows once quiet."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    sequence = 0
    while sink.rows_inserted() == 0:
        contender.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no probe reached the sink in {READY_TIMEOUT_S} s")
        sequence += 1
        publisher.send(publisher.encode([_probe(sequence)]))
        time.sleep(0.5)
    rows = sink.rows_inserted()
    while True:  # until the probes still on their way have arrived (a tick is about 1 s)
        time.sleep(1.5)
        settled, rows = rows, sink.rows_inserted()
        if rows == settled:
            return rows


def finish_time(ticks: list[tuple[float, int]], target: int) -> float:
    """When the sink's row count reached ``target``, from ``ticks``: (time first seen, rows)
    at the start and at every change of VictoriaMetrics' counter.

    The counter moves only about once a second (the ``/metrics`` figures are refreshed on a
    tick), so the tick that shows the end can come up to a second after it: the last stretch
    is interpolated at the rate of the tick before (``target`` at the same speed), which is
    never later than the tick itself. With no full tick before the end there is nothing to
    interpolate from, and the tick's time is the answer (an upper bound). A stalled run
    (never reached ``target``) ends at its last change."""
    end_time, end_rows = ticks[-1]
    if end_rows < target or len(ticks) < 3:
        return end_time
    (earlier_time, earlier_rows), (last_time, last_rows) = ticks[-3], ticks[-2]
    rate = (last_rows - earlier_rows) / (last_time - earlier_time)
    return min(end_time, last_time + (target - last_rows) / rate)


def _count_stored(sink: Sink, expected: int) -> int:
    """The sink's stored messages, once its buffers are searchable (about a second)."""
    stored, deadline = -1, time.monotonic() + 20
    while time.monotonic() < deadline:
        time.sleep(1.0)
        previous, stored = stored, sink.count_samples(STORED_METRIC, MARKER_DEVICE)
        if stored >= expected or (stored == previous and stored > 0):
            break
    return stored


def measure_peer(ctx: Context, key: str, messages: list[Message]) -> Result:
    """One contender on ``messages``: rate, rows and stored points, CPU of each process."""
    count = len(messages)
    folder = ctx.workdir / f"peers-{key}"
    sink = Sink(folder / "sink")
    try:
        with ctx.broker(f"peers-{key}/broker") as broker:
            contender = CONTENDERS[key][1](folder / key, broker.port, sink.url, ctx.registry)
            contender.start()
            publisher = RawPublisher(broker.port, f"bench-peers-publisher-{key}")
            try:
                baseline = _wait_ready(contender, publisher, sink)
                assert broker.process is not None
                pids = {"bridge": contender.pid, "broker": broker.process.pid, "sink": sink.pid}
                cpu_before = {name: process_tree_cpu_s(pid) for name, pid in pids.items()}
                packets = publisher.encode(messages)
                target = baseline + FIELDS_PER_MESSAGE * count
                started = time.perf_counter()
                publisher.send(packets)
                published_s = time.perf_counter() - started
                ticks = [(started, baseline)]  # (first seen, rows) each time the count moves
                rows = baseline
                while rows < target:
                    time.sleep(POLL_S)
                    rows = sink.rows_inserted()
                    now = time.perf_counter()
                    if rows != ticks[-1][1]:
                        ticks.append((now, rows))
                    elif now - ticks[-1][0] > STALL_S:
                        break
                    contender.check_alive()
                ended = finish_time(ticks, target)
                cpu = {n: round(process_tree_cpu_s(p) - cpu_before[n], 3) for n, p in pids.items()}
                publisher.wait_acked()
            finally:
                publisher.close()
                contender.stop()
            write_errors = contender.write_errors()
            stored = _count_stored(sink, count)
    finally:
        sink.stop()
    seconds = ended - started
    return {
        "seconds": round(seconds, 3),
        "seconds_at_most": round(ticks[-1][0] - started, 3),  # the tick that showed the end
        "publish_seconds": round(published_s, 3),
        "rows": rows - baseline,
        "expected_rows": FIELDS_PER_MESSAGE * count,
        "stored_messages": stored,
        "lost_messages": max(0, count - stored),
        "write_errors_logged": write_errors,
        "cpu_s": cpu,
    }


def run_peers(ctx: Context, count: int, keys: list[str] | None = None) -> Result:
    """Every contender in turn on the same ``count`` SenML messages; rates and ratios."""
    problem = installed()
    if problem and _install():  # the peers' set-up is part of the bench's own
        problem = installed()
    if problem:
        progress(f"peers: not run ({problem})")
        return {"status": "not run", "note": problem, "messages": count, "rows": []}
    messages = peer_messages(ctx, count)
    rows: list[Result] = []
    for key in keys or list(CONTENDERS):
        label = CONTENDERS[key][0]
        row: Result = {"key": key, "contender": label, "messages": count}
        progress(f"peers ({key}) {label}: {count:,} SenML messages")
        try:
            row.update(measure_peer(ctx, key, messages))
            row["status"] = "ok" if row["lost_messages"] == 0 else "lost messages"
            row["rate"] = round(count / row["seconds"]) if row["status"] == "ok" else None
            progress(f"peers ({key}) {row['rate'] or 0:,} msg/s, stored {row['stored_messages']:,}")
        except Exception as error:
            row.update(status="failed", note=f"{type(error).__name__}: {str(error)[:1500]}")
            progress(f"peers ({key}) failed: {row['note'][:300]}")
        rows.append(row)
    return {"status": "ok", "messages": count, "rows": summarize(rows)}


def _install() -> bool:
    """Run ``bench/peers/install.sh`` (npm and PyPI); True when it succeeded."""
    script = Path(__file__).resolve().parent / "install.sh"
    progress(f"peers: installing with {script}")
    return subprocess.run(["bash", str(script)], check=False).returncode == 0
