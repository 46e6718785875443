"""``python -m bench.retention``: the DuckDB retention sweep against ingest, on the query
bench's file.

A copy of the query bench's DuckDB file (``--meters`` × ``--readings`` points 3 minutes
apart, built and cached by :func:`bench.query.build_store`) is swept with a clock set so
that its first ``--old-days`` days are past the raw retention, while the main thread writes
batches of one reading per meter (as the pipeline would) back to back. Reported: the sweep's
points and seconds, the time between the ends of two chunks, and the batch write latency
before the sweep (quiet) and during it, p50/p99/max, with their ratio.

Results go to bench/results/retention.json and .md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.context import progress
from bench.machine import describe_machine
from bench.query import DISTRICTS, build_store

HERE = Path(__file__).resolve().parent
DAY_S = 86_400


def _quantiles(times_ms: list[float]) -> dict[str, float]:
    ordered = sorted(times_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * len(ordered)))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from hub.points import Point
    from hub.retention import Retention
    from hub.stores.duckdb import DuckDBStore
    from hub.stores.duckdb_retention import RetentionSweeper
    from hub.timestamps import FixedClock

    cached = args.cache_dir / f"query-{args.meters}x{args.readings}.duckdb"
    meta = build_store(cached, args.meters, args.readings)
    workdir = Path(tempfile.mkdtemp(prefix="bench-retention-"))
    path = workdir / "swept.duckdb"
    shutil.copyfile(cached, path)
    store = DuckDBStore(path)
    raw_days = 8
    now_ns = (meta["start_s"] + (raw_days + args.old_days) * DAY_S) * 10**9
    tags = [
        {"device": f"qm-{m:05d}", "building": f"qb-{m // 2:05d}", "district": DISTRICTS[0]}
        for m in range(args.meters)
    ]
    written = 0

    def write_batch() -> float:
        nonlocal written
        time_ns = (meta["end_s"] + 60 + written) * 10**9
        batch = [Point("building_energy", t, {"power_w": 1.0}, time_ns) for t in tags]
        started = time.perf_counter()
        store.write(batch)
        written += 1
        return (time.perf_counter() - started) * 1000

    chunk_gaps_ms: list[float] = []
    last_chunk = [time.perf_counter()]

    def on_chunk(_measurement: str, _deleted: int) -> None:
        now = time.perf_counter()
        chunk_gaps_ms.append((now - last_chunk[0]) * 1000)
        last_chunk[0] = now

    try:
        quiet = [write_batch() for _ in range(args.quiet_batches)]
        sweeper = RetentionSweeper(
            store, Retention(raw_days, 0), FixedClock(now_ns), on_chunk=on_chunk
        )
        swept: dict[str, int] = {}
        finished = threading.Event()

        def sweep() -> None:
            swept.update(sweeper.sweep())
            finished.set()

        progress("retention: sweeping while writing")
        started = time.perf_counter()
        last_chunk[0] = started
        thread = threading.Thread(target=sweep, name="bench-sweep")
        thread.start()
        during: list[float] = []
        while not finished.is_set():
            during.append(write_batch())
        thread.join()
        sweep_s = time.perf_counter() - started
    finally:
        store.close()
        shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "points": meta["points"],
        "meters": args.meters,
        "deleted": sum(swept.values()),
        "sweep_s": round(sweep_s, 1),
        "chunks": len(chunk_gaps_ms),
        "chunk_gap": _quantiles(chunk_gaps_ms),
        "batch_points": args.meters,
        "quiet": _quantiles(quiet) | {"batches": len(quiet)},
        "during": _quantiles(during) | {"batches": len(during)},
    }
    result["p50_ratio_during_to_quiet"] = round(
        result["during"]["p50_ms"] / result["quiet"]["p50_ms"], 2
    )
    return result


def render(result: dict[str, Any], machine: str) -> str:
    q, d, c = result["quiet"], result["during"], result["chunk_gap"]
    return "\n".join(
        [
            "# DuckDB retention sweep against ingest",
            "",
            f"{result['when']}. {machine}",
            "",
            f"A copy of the query bench's file ({result['points']:,} points, "
            f"{result['meters']:,} meters): {result['deleted']:,} points past the raw "
            f"retention deleted in {result['sweep_s']} s ({result['chunks']} chunks; between "
            f"two chunk ends p50 {c['p50_ms']} ms, max {c['max_ms']} ms), while batches of "
            f"{result['batch_points']:,} points were written back to back.",
            "",
            "| batch write | batches | p50 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|---:|",
            f"| quiet, before the sweep | {q['batches']} | {q['p50_ms']} | {q['p99_ms']} "
            f"| {q['max_ms']} |",
            f"| during the sweep | {d['batches']} | {d['p50_ms']} | {d['p99_ms']} "
            f"| {d['max_ms']} |",
            "",
            f"p50 during / quiet: {result['p50_ratio_during_to_quiet']}. A maximum in seconds "
            "matches a DuckDB checkpoint of this file (timed alone: 0.7 to 7.9 s at 10M "
            "points), which a commit runs once the WAL passes its threshold.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.retention", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--readings", type=int, default=5000)
    parser.add_argument("--old-days", type=int, default=2, help="days past the retention")
    parser.add_argument("--quiet-batches", type=int, default=50)
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache")
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    result = run(args)
    result["when"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    machine = describe_machine()
    result["machine"] = machine
    line = ", ".join(f"{k}: {v}" for k, v in machine.items() if not isinstance(v, dict | list))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "retention.json").write_text(json.dumps(result, indent=2) + "\n")
    text = render(result, line)
    (args.results_dir / "retention.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
