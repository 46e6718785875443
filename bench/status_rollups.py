"""``python -m bench.status_rollups``: charger utilization over months, from the status
rollups against every status report, and what keeping the rollups costs the writes.

One history (``connectors`` connectors, two per charge point, 10 sites, a status report every
20 minutes on average for ``days`` days ending now, a third of the charging as OCPP 2.0.1
transactions) is written through ``DuckDBStore.write`` in batches of 5,000 twice in one run:
to a file with the status rollups (maintained as the batches land, flushed every 5 s as the
hub does) and to one without; then each question is asked ``repeats`` times after two
warm-ups by ``hub.insights.chargers.utilization_windows`` (what the API calls, without HTTP)
on the rollup file with and without the rollups, and the answers compared. Results go to
``bench/results/status_rollups.json`` and ``.md``; nothing is asserted.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.context import progress
from bench.rollups import timed

HERE = Path(__file__).parent
S = 1_000_000_000
H = 3600 * S
D = 24 * H
STATUSES = ["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Available"]


def history(connectors: int, days: int, end_ns: int, seed: int = 7) -> list[Any]:
    """The points, in time order."""
    from hub.points import Point

    rng = random.Random(seed)
    points = []
    for c in range(connectors):
        device, connector = f"cp-{c // 2:04d}", str(c % 2 + 1)
        tags = {"device": device, "site": f"s-{c % 10}", "connector": connector}
        t = end_ns - days * D + rng.randrange(20 * 60) * S
        index = 0
        while t < end_ns:
            if c % 3 == 0 and rng.random() < 0.3:  # a 2.0.1 transaction
                tx = f"tx-{c}-{index}"
                started = {"session_id": tx, "event": "started", "charging_state": "EVConnected"}
                points.append(Point("charger_status", tags, {"status": "Occupied"}, t))
                points.append(Point("charger_session", tags, started, t))
                state = {"session_id": tx, "event": "updated", "charging_state": "Charging"}
                station = {"device": device, "site": tags["site"]}
                points.append(Point("charger_session", station, state, t + 600 * S))
            else:
                status = rng.choice(STATUSES)
                points.append(Point("charger_status", tags, {"status": status}, t))
            t += rng.randrange(1, 40 * 60) * S
            index += 1
    points.sort(key=lambda p: p.time_ns)
    return points


def write_all(path: Path, points: list[Any], rolled: bool) -> float:
    from hub.query import PointsQuery
    from hub.rollups import RollupPlan
    from hub.stores.duckdb import DuckDBStore

    plan = RollupPlan.from_labels({}, ["1h", "1d"]) if rolled else None
    store = DuckDBStore(path, "1GB", rollups=plan, rollup_flush_s=5.0)
    started = time.perf_counter()
    try:
        for low in range(0, len(points), 5000):
            store.write(points[low : low + 5000])
        # the intervals written since the last flush are rolled up before a read: timed too
        store.points(PointsQuery("charger_status_1h", 0, 1))
    finally:
        store.close()
    return time.perf_counter() - started


def run(workdir: Path, connectors: int, days: int, repeats: int) -> dict[str, Any]:
    from hub.devices import DeviceRegistry
    from hub.insights.chargers import utilization_windows
    from hub.insights.context import Context
    from hub.rollups import RollupPlan
    from hub.settings import InsightsSettings
    from hub.stores.duckdb import DuckDBStore

    now = time.time_ns()
    points = history(connectors, days, now)
    progress(f"status rollups: {len(points):,} points")
    write_raw = write_all(workdir / "raw.duckdb", points, rolled=False)
    write_rolled = write_all(workdir / "rolled.duckdb", points, rolled=True)
    results: dict[str, Any] = {
        "connectors": connectors,
        "days": days,
        "points": len(points),
        "repeats": repeats,
        "write_s": {"without_rollups": round(write_raw, 2), "with_rollups": round(write_rolled, 2)},
        "write_rate_ratio": round(write_raw / write_rolled, 2),
        "queries": [],
    }
    plan = RollupPlan.from_labels({}, ["1h", "1d"])
    store = DuckDBStore(workdir / "rolled.duckdb", "1GB", rollups=plan)
    last_day = now - now % D
    questions = {
        f"every=1d over {days - 8} whole days": (last_day - (days - 8) * D, last_day, D),
        f"every=1d, start=-{days - 8}d (not on a day), up to now": (now - (days - 8) * D, now, D),
        "every=1h over 7 whole days": (last_day - 7 * D, last_day, H),
    }
    try:
        for label, (start, end, every) in questions.items():
            row: dict[str, Any] = {"query": label}
            answers = {}
            for mode, rollups in (("rollups", plan.status), ("raw", ())):
                ctx = Context(store, DeviceRegistry(), InsightsSettings(), 10**8, now, rollups)
                ask = functools.partial(utilization_windows, ctx, {}, start, end, every, "w")
                answers[mode] = ask().model_dump()
                row[mode] = timed(ask, repeats)
                progress(f"status rollups: {label} ({mode}): {row[mode]}")
            row["same_answer"] = answers["rollups"] == answers["raw"]
            row["ratio_raw_to_rollups"] = round(row["raw"]["p50_ms"] / row["rollups"]["p50_ms"], 1)
            results["queries"].append(row)
    finally:
        store.close()
    return results


def report(results: dict[str, Any]) -> str:
    lines = [
        f"{results['points']:,} status points, {results['connectors']} connectors, "
        f"{results['days']} days; writes: {results['write_s']['without_rollups']} s without "
        f"status rollups, {results['write_s']['with_rollups']} s with "
        f"(rate ratio {results['write_rate_ratio']})",
        "",
        "| question | rollups p50 / p99 ms | raw p50 / p99 ms | raw / rollups | same answer |",
        "|---|---|---|---|---|",
    ]
    for q in results["queries"]:
        lines.append(
            f"| {q['query']} | {q['rollups']['p50_ms']} / {q['rollups']['p99_ms']} | "
            f"{q['raw']['p50_ms']} / {q['raw']['p99_ms']} | {q['ratio_raw_to_rollups']}x | "
            f"{q['same_answer']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.status_rollups")
    parser.add_argument("--connectors", type=int, default=200)
    parser.add_argument("--days", type=int, default=98)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        results = run(Path(folder), args.connectors, args.days, args.repeats)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "status_rollups.json").write_text(json.dumps(results, indent=2) + "\n")
    text = report(results)
    (HERE / "results" / "status_rollups.md").write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
