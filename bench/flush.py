"""``python -m bench.flush``: where a DuckDB rollup flush spends its time, statement by
statement, at a device population of your choosing.

The bench's mix (:class:`bench.workload.Workload`, ``--device-scale`` times its 1,600
devices) goes through the hub's pipeline into a DuckDB file with the default rollup plan, in
batches of 500, ``--messages`` per round; after each round the rollups are brought up to date
once, as the store's own thread does, and every statement of that flush is timed by a cursor
that times what it runs (in this process only), but the status rollups' (written from Python
through Arrow, which such a cursor hides from DuckDB). The first round is left out (the tables
are made in it). Each commit also reports whether it ran a checkpoint (the WAL emptied): a
flush whose rows take the WAL past its threshold pays one, and DuckDB holds every other
commit while it runs.

The rollup flush costs by the (series, interval) pairs it recomputes, so the same messages
from more devices cost more: that is what ``--device-scale`` shows. Results go to
``--results-dir`` (``latest.json``, ``latest.md``); nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.context import progress
from bench.workload import Workload

HERE = Path(__file__).parent
BATCH = 500


def label(sql: str) -> str:
    """A statement's name in the report: a compose by its target and source, else its start."""
    text = re.sub(r"\s+", " ", sql.strip())
    if text.startswith("CREATE OR REPLACE TEMP TABLE composed"):
        target = re.search(r'FROM "?(\w+)"? o JOIN', text)
        source = re.search(r'FROM "?(\w+)"? s JOIN', text)
        if target and source:
            return f"compose {target.group(1)} from {source.group(1)}"
    return text[:72]


class _Timed:
    """A DuckDB cursor that records how long each statement took, and around each COMMIT the
    WAL's size (a commit that empties it ran a checkpoint)."""

    def __init__(self, cursor: Any, record: _Record) -> None:
        self._cursor = cursor
        self._record = record

    def execute(self, sql: str, *args: Any) -> Any:
        before = self._record.wal_bytes()
        started = time.perf_counter()
        result = self._cursor.execute(sql, *args)
        name = label(sql)
        if not name.startswith("compose "):
            name = f"{self._record.table}: {name}"
        self._record.statement(name, time.perf_counter() - started, before)
        return self if result is self._cursor else result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _Record:
    def __init__(self, wal: Path) -> None:
        self.wal = wal
        self.table = ""  # the measurement being flushed
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.commits: list[dict[str, Any]] = []

    def wal_bytes(self) -> int:
        return self.wal.stat().st_size if self.wal.exists() else 0

    def statement(self, name: str, seconds: float, wal_before: int) -> None:
        self.seconds[name].append(seconds)
        after = self.wal_bytes()
        if name.endswith(": COMMIT"):
            self.commits.append(
                {
                    "ms": round(seconds * 1000, 1),
                    "wal_mb_before": round(wal_before / 2**20, 1),
                    "checkpoint": after < wal_before,
                }
            )


def run(
    workdir: Path,
    device_scale: int,
    rounds: int,
    messages: int,
    checkpoint_threshold: str = "16MB",
) -> dict[str, Any]:
    from hub.contracts import AdapterEnv
    from hub.deadletters import DeadLetterLog
    from hub.devices import DeviceRegistry
    from hub.ingest.pipeline import Inbound, Pipeline
    from hub.plugins import load_adapters
    from hub.rollups.plan import STATUS_MEASUREMENT
    from hub.settings import RollupSettings
    from hub.stores.duckdb import DuckDBStore
    from hub.topics import TopicRouter

    workload = Workload(device_scale=device_scale)
    progress(f"flush: generating {rounds * messages:,} messages")
    inbound = [
        Inbound(topic, payload, i % 65535 + 1, 1, time.time_ns())
        for i, (topic, payload) in enumerate(workload.messages(rounds * messages))
    ]
    path = workdir / "cityhub.duckdb"
    record = _Record(path.with_name(path.name + ".wal"))
    # no background flush: one per round, below
    plan = RollupSettings().plan()
    store = DuckDBStore(
        path, checkpoint_threshold=checkpoint_threshold, rollups=plan, rollup_flush_s=1e9
    )
    letters = DeadLetterLog(workdir / "deadletters.sqlite")
    env = AdapterEnv(devices=DeviceRegistry(workload.registry()))
    router = TopicRouter((adapter.topics, adapter) for adapter in load_adapters(None, {}, env))
    pipeline = Pipeline(router, store, letters, lambda _batch: None)
    plain = store._cursor
    timing = False
    store._cursor = lambda: _Timed(plain(), record) if timing else plain()  # type: ignore[method-assign]
    flushes: list[float] = []
    try:
        for number in range(rounds):
            chunk = inbound[number * messages : (number + 1) * messages]
            for low in range(0, len(chunk), BATCH):
                pipeline.process(chunk[low : low + BATCH])
            spent = 0.0
            for table in sorted(store._pending):
                # the first round makes the tables; the status rollups write from Python (an
                # Arrow table DuckDB finds in its caller's frame, which a wrapper hides)
                timing = number > 0 and table != STATUS_MEASUREMENT
                record.table = table
                started = time.perf_counter()
                with store._flush_lock:
                    if not store._flush_pending(only=table):
                        raise RuntimeError(f"the rollup flush of {table} failed (see the log)")
                spent += time.perf_counter() - started if timing else 0.0
                timing = False
            if number > 0:
                flushes.append(spent)
            progress(f"flush: round {number + 1} of {rounds}")
        finest = [rollups[0].name for rollups in plan.by_measurement.values()]
        rows = {
            table: store._cursor().execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for table in finest
        }
    finally:
        store.close()
        letters.close()
    measured = len(flushes)
    statements = sorted(
        (
            {
                "statement": name,
                "ms_per_round": round(sum(seconds) / measured * 1000, 1),
                "runs_per_round": round(len(seconds) / measured, 1),
            }
            for name, seconds in record.seconds.items()
        ),
        key=lambda row: -row["ms_per_round"],
    )
    return {
        "device_scale": device_scale,
        "checkpoint_threshold": checkpoint_threshold,
        "devices": sum(len(members) for members in workload.devices.values()),
        "rounds": rounds,
        "messages_per_round": messages,
        "flush_ms": [round(s * 1000) for s in flushes],
        "flush_ms_median": round(statistics.median(flushes) * 1000),
        "statements": statements,
        "commits": record.commits,
        "finest_rollup_rows": rows,
    }


def report(results: dict[str, Any]) -> str:
    checkpoints = sum(c["checkpoint"] for c in results["commits"])
    commit_total = round(sum(c["ms"] for c in results["commits"]))
    commit_ms = ", ".join(
        f"{c['ms']:.0f}{' (checkpoint)' if c['checkpoint'] else ''}" for c in results["commits"]
    )
    lines = [
        f"# Rollup flush, statement by statement (device scale {results['device_scale']}: "
        f"{results['devices']:,} devices; checkpoint threshold "
        f"{results['checkpoint_threshold']})",
        "",
        f"{results['messages_per_round']:,} messages of the bench's mix per round, one flush "
        f"after each; {results['rounds'] - 1} rounds measured (the first left out). Flush "
        f"of every measurement but the status rollups: median {results['flush_ms_median']:,} ms "
        f"({', '.join(f'{ms:,}' for ms in results['flush_ms'])}).",
        "",
        f"Commits: {len(results['commits'])} (in all {commit_total:,} ms), {checkpoints} of "
        f"them emptied the WAL (a checkpoint); ms: {commit_ms}.",
        "",
        "| statement | ms per round | runs per round |",
        "|---|---:|---:|",
    ]
    for row in results["statements"]:
        text = row["statement"].replace("|", "\\|")
        lines.append(f"| `{text}` | {row['ms_per_round']:,} | {row['runs_per_round']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flush")
    parser.add_argument("--device-scale", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--messages", type=int, default=25_000, help="per round")
    parser.add_argument(
        "--checkpoint-threshold",
        default="16MB",
        help="DuckDB's (CITYHUB_STORE__DUCKDB_CHECKPOINT_THRESHOLD; default 16MB)",
    )
    parser.add_argument("--results-dir", type=Path, default=HERE / "results" / "flush")
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (the first round is not measured)")
    folder = Path(tempfile.mkdtemp(prefix="cityhub-bench-flush-"))
    try:
        results = run(
            folder, args.device_scale, args.rounds, args.messages, args.checkpoint_threshold
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    text = report(results)
    (args.results_dir / "latest.md").write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
