"""``python -m bench.flush`` times every statement of a real rollup flush (a DuckDB file,
the default plan, the bench's mix through the pipeline): a few small rounds here."""

from __future__ import annotations

from pathlib import Path

from bench import flush
from hub.rollups.plan import RollupPlan
from hub.stores import duckdb_rollups


def test_the_flush_bench_times_each_statement_of_each_tier(tmp_path: Path) -> None:
    results = flush.run(tmp_path, device_scale=1, rounds=3, messages=2000)
    assert len(results["flush_ms"]) == 2  # the first round is not measured
    names = {row["statement"]: row for row in results["statements"]}
    for target, source in (
        ("building_energy_15m", "building_energy"),
        ("building_energy_1h", "building_energy_15m"),
        ("building_energy_1d", "building_energy_1h"),
    ):
        row = names[f"compose {target} from {source}"]
        assert row["runs_per_round"] == 1.0
        assert row["ms_per_round"] > 0
    assert names["building_energy: COMMIT"]["runs_per_round"] == 2.0  # tables, then rows
    timed = sum(row["ms_per_round"] for row in results["statements"])
    assert timed <= results["flush_ms_median"] * 1.5  # the statements are inside the flushes
    assert all(rows > 0 for rows in results["finest_rollup_rows"].values())
    assert results["commits"] and all(commit["ms"] >= 0 for commit in results["commits"])
    text = flush.report(results)
    assert "compose building_energy_1h from building_energy_15m" in text
    assert f"median {results['flush_ms_median']:,} ms" in text


def test_a_compose_is_named_by_its_target_and_source() -> None:
    (target,) = RollupPlan.from_labels({"m": ["1h"]}).of("m")
    sql = duckdb_rollups.compose_sql(target, "m", True, ["e"], ["device"])
    assert flush.label(sql) == "compose m_1h from m"
    assert flush.label("  DELETE FROM\n  t WHERE x") == "DELETE FROM t WHERE x"
