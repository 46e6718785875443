"""Query test: the API's endpoints over millions of stored points.

Loading 10M points through MQTT would take the drain rate times 10M, so the points are
written directly with ``DuckDBStore.write`` in large batches: ``meters`` building meters
(2 per building, 6 districts) × ``readings`` readings 3 minutes apart ending on the last
whole hour before generation, each with ``power_w`` and a cumulative ``energy_import_wh``
register. The file is cached (``bench/.cache/`` by default, git-ignored) and reused while
its size matches. Then ``cityhub run`` serves it and each endpoint is timed over HTTP
(after two warm-up calls).

Side by side, in the same run on the same file (in process, after the hub stopped, as
DuckDB locks its file): city peak demand over one day of 15-minute windows the way it was
computed before the store primitive (``aggregate`` means per meter, summed in Python) and
through ``sum_of_means``, with the same answer checked, reported as p50s and their ratio.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from bench.context import Context, progress
from bench.drain import _peak_rss_mb
from bench.services import HubRunner

__all__ = ["build_store", "compare_peak_paths", "run_query"]

STEP_S = 180
HOUR_S = 3600
DISTRICTS = ("harbour", "old-town", "university", "riverside", "north", "airport")
BATCH_POINTS = 200_000


def build_store(path: Path, meters: int, readings: int) -> dict[str, int]:
    """Write ``meters`` × ``readings`` points into a DuckDB file; returns its time span."""
    from hub.points import Point
    from hub.stores.duckdb import DuckDBStore

    meta_path = path.with_suffix(".json")
    wanted = {"meters": meters, "readings": readings, "step_s": STEP_S}
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if all(meta.get(k) == v for k, v in wanted.items()):
            progress(f"query: reusing {path} ({meters * readings:,} points)")
            return meta
    path.unlink(missing_ok=True)
    path.with_suffix(".duckdb.wal").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    end_s = int(time.time()) // HOUR_S * HOUR_S
    start_s = end_s - readings * STEP_S
    rng = random.Random(meters)
    tags = [
        {
            "device": f"qm-{m:05d}",
            "building": f"qb-{m // 2:05d}",
            "district": DISTRICTS[(m // 2) % len(DISTRICTS)],
        }
        for m in range(meters)
    ]
    base_power = [rng.uniform(500, 50_000) for _ in range(meters)]
    registers = [rng.uniform(1e4, 1e7) for _ in range(meters)]
    # The primary key's index grows with the table and DuckDB keeps it in its buffer pool: at
    # the hub's 256 MB the build ran out of memory near 3.4M points. The hub serves the
    # finished file at its own limit.
    store = DuckDBStore(path, memory_limit="4GB")
    started = time.perf_counter()
    steps_per_batch = max(1, BATCH_POINTS // meters)
    written = 0
    try:
        for first in range(0, readings, steps_per_batch):
            points = []
            for step in range(first, min(readings, first + steps_per_batch)):
                time_ns = (start_s + step * STEP_S) * 10**9
                daily = 0.6 + 0.4 * ((step * STEP_S) % 86_400) / 86_400
                for m in range(meters):
                    power = base_power[m] * daily * rng.uniform(0.8, 1.2)
                    registers[m] += power * STEP_S / 3600
                    points.append(
                        Point(
                            "building_energy",
                            tags[m],
                            {
                                "power_w": round(power, 1),
                                "energy_import_wh": round(registers[m], 1),
                            },
                            time_ns,
                        )
                    )
            store.write(points)
            written += len(points)
            rate = written / (time.perf_counter() - started)
            progress(f"query: wrote {written:,} of {meters * readings:,} points ({rate:,.0f}/s)")
    finally:
        store.close()
    meta = {**wanted, "start_s": start_s, "end_s": end_s, "points": written}
    meta_path.write_text(json.dumps(meta))
    return meta


def _rfc3339(epoch_s: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def _cases(meta: dict[str, int]) -> dict[str, tuple[str, dict[str, Any]]]:
    end = meta["end_s"]
    day = {"start": _rfc3339(end - 86_400), "end": _rfc3339(end)}
    week = {"start": _rfc3339(end - 7 * 86_400), "end": _rfc3339(end)}
    energy = {"measurement": "building_energy", "field": "energy_import_wh", "fn": "increase"}
    power = {"measurement": "building_energy", "field": "power_w", "fn": "mean"}
    return {
        "energy per building per hour, 1 day, city-wide (increase)": (
            "/api/v1/aggregate",
            {**energy, "every": "1h", "group_by": "building", **day},
        ),
        "mean power per district per 15 min, 1 week": (
            "/api/v1/aggregate",
            {**power, "every": "15m", "group_by": "district", **week},
        ),
        "energy of one building per hour, 1 week (increase)": (
            "/api/v1/aggregate",
            {**energy, "every": "1h", "where": "building:qb-00001", **week},
        ),
        "latest reading of every meter": ("/api/v1/latest", {"measurement": "building_energy"}),
        "catalog (measurements, devices, last seen)": ("/api/v1/catalog", {}),
        # The operator endpoints, built on those primitives:
        "city energy per hour, 1 day (kWh)": ("/api/v1/city/energy", {"every": "1h", **day}),
        "district energy per day, 1 week (kWh)": (
            "/api/v1/districts/" + DISTRICTS[0] + "/energy",
            {"every": "1d", **week},
        ),
        "building energy per hour, 1 day (kWh)": (
            "/api/v1/buildings/qb-00001/energy",
            {"every": "1h", **day},
        ),
        "city peak demand, 1 day (15 min windows)": ("/api/v1/city/peak", day),
        "city energy against the week before, 1 day": ("/api/v1/city/comparison", day),
        "buildings: power now and kWh today": ("/api/v1/buildings", {}),
        "city overview": ("/api/v1/city/overview", {}),
        "devices with last seen": ("/api/v1/devices", {}),
    }


def _timed(call: Any, repeats: int) -> tuple[Any, list[float]]:
    """The answer of ``call`` and its times in ms, after two warm-up calls."""
    answer, times_ms = None, []
    for attempt in range(repeats + 2):
        started = time.perf_counter()
        answer = call()
        if attempt >= 2:
            times_ms.append((time.perf_counter() - started) * 1000)
    return answer, sorted(times_ms)


def compare_peak_paths(path: Path, meta: dict[str, int], repeats: int) -> dict[str, Any]:
    """City peak demand of the last day (15 min windows): the Python path against the store's
    ``sum_of_means``, on the DuckDB file at ``path``."""
    from collections import defaultdict

    from hub.insights.energy import DEMAND_SERIES, peak_demand_w
    from hub.query import AggregateQuery
    from hub.stores.duckdb import DuckDBStore

    end_ns = meta["end_s"] * 10**9
    start_ns, window_ns = end_ns - 86_400 * 10**9, 15 * 60 * 10**9
    store = DuckDBStore(path)

    def python_path() -> tuple[int, float] | None:
        # What hub.insights.energy.peak_demand_w did before the primitive.
        query = AggregateQuery(
            "building_energy", "power_w", "mean", start_ns, end_ns, window_ns, DEMAND_SERIES
        )
        demand: dict[int, float] = defaultdict(float)
        for series in store.aggregate(query):
            for bucket in series.buckets:
                demand[bucket.time_ns] += float(bucket.value or 0.0)
        return max(sorted(demand.items()), key=lambda item: item[1]) if demand else None

    try:
        old, old_ms = _timed(python_path, repeats)
        new, new_ms = _timed(lambda: peak_demand_w(store, {}, start_ns, end_ns, window_ns), repeats)
    finally:
        store.close()
    same = (old is None and new is None) or (
        old is not None and new is not None and old[0] == new[0] and abs(old[1] - new[1]) < 1e-6
    )
    row = {
        "query": "city peak demand, 1 day (15 min windows), in process",
        "repeats": repeats,
        "python_p50_ms": round(statistics.median(old_ms), 1),
        "python_p99_ms": round(old_ms[min(len(old_ms) - 1, round(0.99 * len(old_ms)))], 1),
        "store_p50_ms": round(statistics.median(new_ms), 1),
        "store_p99_ms": round(new_ms[min(len(new_ms) - 1, round(0.99 * len(new_ms)))], 1),
        "same_answer": same,
    }
    row["ratio_store_to_python"] = round(row["store_p50_ms"] / row["python_p50_ms"], 3)
    progress(
        f"query: peak demand: Python path p50 {row['python_p50_ms']} ms, store primitive p50 "
        f"{row['store_p50_ms']} ms (ratio {row['ratio_store_to_python']}, same answer: {same})"
    )
    return row


def run_query(ctx: Context, meters: int, readings: int, repeats: int) -> dict[str, Any]:
    store_path = ctx.cache_dir / f"query-{meters}x{readings}.duckdb"
    meta = build_store(store_path, meters, readings)
    # The hub opens the file read-write (and may checkpoint it): serve a copy, keep the cache.
    served = ctx.workdir / "query" / "cityhub.duckdb"
    served.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(store_path, served)
    rows: list[dict[str, Any]] = []
    with ctx.broker("query") as broker:
        hub = HubRunner(
            ctx.workdir / "query" / "hub",
            broker.port,
            ctx.registry,
            env={"CITYHUB_STORE__DUCKDB_PATH": str(served)},
        )
        hub.start()
        try:
            hub.wait_api()
            for label, (path, params) in _cases(meta).items():
                times_ms: list[float] = []
                size = 0
                for attempt in range(repeats + 2):
                    started = time.perf_counter()
                    body = hub.get(path, params)
                    if attempt >= 2:  # two warm-up calls
                        times_ms.append((time.perf_counter() - started) * 1000)
                    size = len(body)
                ordered = sorted(times_ms)
                row = {
                    "query": label,
                    "path": path,
                    "params": params,
                    "repeats": repeats,
                    "p50_ms": round(statistics.median(ordered), 1),
                    "p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * len(ordered)))], 1),
                    "max_ms": round(ordered[-1], 1),
                    "response_bytes": size,
                }
                progress(f"query: {label}: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms")
                rows.append(row)
            rss = _peak_rss_mb(hub.pid)
        finally:
            hub.stop()
    peak = compare_peak_paths(served, meta, repeats)
    return {"points": meta["points"], "meters": meters, "readings": readings, "step_s": STEP_S,
            "hub_peak_rss_mb": round(rss, 1) if rss else None, "queries": rows,
            "peak_paths": peak}  # fmt: skip
