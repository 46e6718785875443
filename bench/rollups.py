"""``python -m bench.rollups``: year-long questions with rollups against raw points.

Two DuckDB files are generated in SQL (a bulk ``INSERT ... SELECT`` over ``range()``, not
through MQTT: minutes for a year instead of hours), each ``meters`` building meters (2 per
building, 6 districts) with ``power_w`` and a cumulative ``energy_import_wh`` register:

* **year**: 2,000 meters read every 100 minutes for 367 days (10.6M raw points), ending now
  (a year, and the day before it that the first day's increase is anchored on);
* **dense**: 2,000 meters read every 3 minutes for 10.4 days (10M raw points), ending on the
  last whole hour (the data set of ``bench/query.py``).

Then ``cityhub rollups rebuild`` does its work (``DuckDBStore.rebuild_rollups``, timed), and
each question is asked of the same file twice, in one run: by a store with rollups and by one
without (reading raw points), in-process (the store call the API makes, without HTTP and
JSON), ``repeats`` times after two warm-ups. Results go to
``bench/results/rollups.json`` and ``rollups.md``; nothing is asserted (the issue's targets
are printed beside the figures).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.context import progress
from bench.machine import describe_machine

HERE = Path(__file__).parent
S = 1_000_000_000
H = 3600 * S
D = 24 * H
DISTRICTS = ("harbour", "old-town", "university", "riverside", "north", "airport")
LABELS = {"building_energy": ["15m", "1h", "1d"]}


def generate(path: Path, meters: int, readings: int, step_s: int, end_s: int) -> int:
    """Write the data set; returns the number of raw points."""
    from hub.points import Point
    from hub.stores.duckdb import DuckDBStore

    start_s = end_s - readings * step_s
    store = DuckDBStore(path, "2GB")
    try:
        # The first reading of each meter through the store (it creates the table, its tag
        # columns and the primary key), the rest in one bulk statement.
        store.write(
            [
                Point(
                    "building_energy",
                    {
                        "building": f"qb-{m // 2:05d}",
                        "device": f"qm-{m:05d}",
                        "district": DISTRICTS[(m // 2) % len(DISTRICTS)],
                    },
                    {"power_w": 1000.0, "energy_import_wh": 1e5},
                    start_s * S,
                )
                for m in range(meters)
            ]
        )
        districts = "[" + ", ".join(f"'{d}'" for d in DISTRICTS) + "]"
        store._cursor().execute(
            f"""
            INSERT INTO building_energy (series, time, building, device, district, power_w,
                                         energy_import_wh)
            SELECT 'building=' || building || ',device=' || device || ',district=' || district,
                   make_timestamp_ns(({start_s} + i * {step_s}) * 1000000000::BIGINT),
                   building, device, district, power_w,
                   round(1e5 + sum(power_w * {step_s} / 3600) OVER (
                       PARTITION BY m ORDER BY i), 1) AS energy_import_wh
            FROM (
                SELECT m, i, printf('qb-%05d', m // 2) AS building,
                       printf('qm-%05d', m) AS device,
                       {districts}[(m // 2) % {len(DISTRICTS)} + 1] AS district,
                       round((500 + hash(m) % 49500) * (0.6 + 0.4 * ((i * {step_s}) % 86400)
                             / 86400) * (0.8 + 0.4 * random()), 1) AS power_w
                FROM range({meters}) AS meters(m), range(1, {readings}) AS steps(i)
            )"""
        )
        (count,) = store._cursor().execute("SELECT count(*) FROM building_energy").fetchone()
    finally:
        store.close()
    return int(count)


def timed(call: Any, repeats: int) -> dict[str, float]:
    times = []
    for attempt in range(repeats + 2):
        started = time.perf_counter()
        call()
        if attempt >= 2:
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(times[min(len(times) - 1, round(0.99 * len(times)))], 1),
    }


@dataclass(frozen=True)
class Peak:
    """A peak demand question as the API asks it (:func:`hub.insights.energy.peak_demand_w`:
    the store's ``sum_of_means`` of every window, and the highest)."""

    where: dict[str, tuple[str, ...]]
    start_ns: int
    end_ns: int
    window_ns: int


def _call(store: Any, question: Any) -> Any:
    """``question`` asked of ``store``: the call that is timed."""
    from hub.insights.energy import peak_demand_w

    if isinstance(question, Peak):
        return peak_demand_w(
            store, question.where, question.start_ns, question.end_ns, question.window_ns
        )
    return store.aggregate(question)


def _comparable(question: Any, answer: Any) -> list[Any]:
    """An answer of :func:`_call` as (tags, [(time, value)]) pairs."""
    if isinstance(question, Peak):
        return [({}, [answer] if answer else [])]
    return [(s.tags, [(b.time_ns, b.value) for b in s.buckets]) for s in answer]


def measure(path: Path, queries: dict[str, Any], repeats: int) -> list[dict[str, Any]]:
    """Each query with rollups and from raw points, on the same file."""
    from hub.rollups import RollupPlan
    from hub.stores.duckdb import DuckDBStore

    rows: dict[str, dict[str, Any]] = {label: {"query": label} for label in queries}
    # One store at a time: two open on the file share DuckDB's buffer pool, and measured that
    # way (a question asked of each in turn) city-wide days took 670-820 ms from rollups
    # against 360-390 ms with the rollup store alone.
    for mode, plan in (("rollups", RollupPlan.from_labels(LABELS)), ("raw", None)):
        store = DuckDBStore(path, rollups=plan)
        try:
            for label, query in queries.items():
                rows[label][f"{mode}_answer"] = _comparable(query, _call(store, query))
                rows[label][mode] = timed(lambda q=query, s=store: _call(s, q), repeats)
                progress(f"rollups: {label} ({mode}): {rows[label][mode]}")
        finally:
            store.close()
    for row in rows.values():
        row["same_answer"] = _close(row.pop("rollups_answer"), row.pop("raw_answer"))
        row["ratio_raw_to_rollups"] = round(row["raw"]["p50_ms"] / row["rollups"]["p50_ms"], 1)
    return list(rows.values())


def _close(a: list[Any], b: list[Any]) -> bool:
    """Equal, up to the last bits of a sum added in another order."""
    if [(t, [w for w, _ in bs]) for t, bs in a] != [(t, [w for w, _ in bs]) for t, bs in b]:
        return False
    return all(
        abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))
        for (_, xs), (_, ys) in zip(a, b, strict=True)
        for (_, x), (_, y) in zip(xs, ys, strict=True)
    )


def rebuild(path: Path, since_ns: int) -> float:
    from hub.rollups import RollupPlan
    from hub.stores.duckdb import DuckDBStore

    store = DuckDBStore(path, "1GB", rollups=RollupPlan.from_labels(LABELS))
    started = time.perf_counter()
    try:
        store.rebuild_rollups(
            since_ns, lambda _m, done, total: done % 50 == 0 and progress(f"rebuild {done}/{total}")
        )
    finally:
        store.close()
    return time.perf_counter() - started


def run(workdir: Path, meters: int, repeats: int, keep: bool = False) -> dict[str, Any]:
    """``keep``: leave the generated files (and ``<set>.json``, what made them) in ``workdir``
    and reuse those already there for the same ``meters``, rather than generate them again."""
    from hub.query import AggregateQuery

    now_s = int(time.time())
    results: dict[str, Any] = {"meters": meters, "repeats": repeats, "sets": {}}
    sets = {
        # 367 days every 100 minutes, ending now (a day more than asked: the anchor lookback)
        "year": (5285, 6000, now_s),
        "dense": (5000, 180, now_s // 3600 * 3600),  # 10.4 days every 3 min, on a whole hour
    }
    for name, (readings, step_s, end_s) in sets.items():
        path = workdir / f"{name}.duckdb"
        made = path.with_suffix(".json")
        if keep and path.exists() and made.exists():
            points, generated_s, rebuild_s, end_s, was_for = json.loads(made.read_text())
            if was_for != meters:
                raise SystemExit(f"{path} was generated for {was_for} meters, not {meters}")
            progress(f"rollups: {name}: reusing {path} ({points:,} points)")
        else:
            started = time.perf_counter()
            points = generate(path, meters, readings, step_s, end_s)
            generated_s = time.perf_counter() - started
            progress(f"rollups: {name}: {points:,} points in {generated_s:.1f} s")
            rebuild_s = rebuild(path, (end_s - readings * step_s) * S)
            progress(f"rollups: {name}: rebuilt in {rebuild_s:.1f} s")
            if keep:
                made.write_text(json.dumps([points, generated_s, rebuild_s, end_s, meters]))
        end = end_s * S
        energy = {"measurement": "building_energy", "field": "energy_import_wh"}
        days = end - end % D  # the last whole day
        if name == "year":
            start = end - 365 * D  # relative to now, as start=-365d asks: not on a day
            queries = {
                "buildings/{id}/energy?every=1d&start=-365d (not on a day: raw edges + days)": (
                    AggregateQuery(
                        **energy, function="increase", start_ns=start, end_ns=end, every_ns=D,
                        where={"building": ("qb-00001",)},
                    )
                ),
                "building energy per day, 365 whole days": AggregateQuery(
                    **energy, function="increase", start_ns=days - 365 * D, end_ns=days,
                    every_ns=D, where={"building": ("qb-00001",)},
                ),
                "city-wide energy per building per day, 365 whole days": AggregateQuery(
                    **energy, function="increase", start_ns=days - 365 * D, end_ns=days,
                    every_ns=D, group_by=("building",),
                ),
                "mean power per district per day, start=-365d (cut: raw edges + rollups)": (
                    AggregateQuery(
                        "building_energy", "power_w", "mean", start, end, every_ns=D,
                        group_by=("district",),
                    )
                ),
                "city peak demand, start=-365d, 15 min windows": Peak({}, start, end, H // 4),
                "district peak demand, start=-365d, 15 min windows": Peak(
                    {"district": ("harbour",)}, start, end, H // 4
                ),
                "building peak demand, start=-365d, 15 min windows": Peak(
                    {"building": ("qb-00001",)}, start, end, H // 4
                ),
            }  # fmt: skip
        else:
            queries = {
                "per-building hourly increase city-wide, 1 day (10M raw points)": AggregateQuery(
                    **energy, function="increase", start_ns=end - D, end_ns=end, every_ns=H,
                    group_by=("building",),
                ),
                "mean power per district per 15 min, 1 week": AggregateQuery(
                    "building_energy", "power_w", "mean", end - 7 * D, end, every_ns=H // 4,
                    group_by=("district",),
                ),
                "city peak demand, 1 day, 15 min windows": Peak({}, end - D, end, H // 4),
            }  # fmt: skip
        results["sets"][name] = {
            "points": points,
            "readings_per_meter": readings,
            "step_s": step_s,
            "generate_s": round(generated_s, 1),
            "rebuild_s": round(rebuild_s, 1),
            "queries": measure(path, queries, repeats),
        }
        if not keep:
            path.unlink(missing_ok=True)
            path.with_suffix(".duckdb.wal").unlink(missing_ok=True)
    return results


def _machine(machine: dict[str, Any]) -> str:
    return (
        f"{machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('ram_gb')} GB RAM, "
        f"load average at start {machine.get('load_average_at_start')}; Python "
        f"{machine.get('python')}, DuckDB {machine.get('duckdb')}."
    )


def render(result: dict[str, Any]) -> str:
    lines = [
        "# Rollups against raw points (DuckDB, in-process store calls)",
        "",
        f"{result['started']}. {_machine(result['machine'])}",
        "",
        result.get("note") or "",
        "",
    ]
    for name, data in result["sets"].items():
        lines += [
            f"## {name}: {data['points']:,} raw points ({result['meters']:,} meters × "
            f"{data['readings_per_meter']:,} readings, {data['step_s']} s apart)",
            "",
            f"Generated in {data['generate_s']} s (SQL bulk insert); rollups (15m, 1h, 1d) "
            f"rebuilt in {data['rebuild_s']} s.",
            "",
            "| query | rollups p50 ms | p99 ms | raw p50 ms | p99 ms | raw / rollups "
            "| same answer |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for row in data["queries"]:
            lines.append(
                f"| {row['query']} | {row['rollups']['p50_ms']} | {row['rollups']['p99_ms']} "
                f"| {row['raw']['p50_ms']} | {row['raw']['p99_ms']} "
                f"| {row['ratio_raw_to_rollups']}x | {'yes' if row['same_answer'] else 'NO'} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rollups", description=__doc__)
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--note", default="")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="generate the data sets into DIR and keep them; reuse those already there",
    )
    args = parser.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(args.keep, args.meters, args.repeats, keep=True)
    else:
        with tempfile.TemporaryDirectory(prefix="cityhub-rollups-") as folder:
            result = run(Path(folder), args.meters, args.repeats)
    result |= {"started": started, "machine": describe_machine(), "note": args.note}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "rollups.json").write_text(json.dumps(result, indent=2) + "\n")
    text = render(result)
    (HERE / "results" / "rollups.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
