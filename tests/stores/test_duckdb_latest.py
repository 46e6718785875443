"""The DuckDB store's in-memory latest index agrees with its file across a reopen."""

from __future__ import annotations

from pathlib import Path

from hub.points import Point
from hub.query import LatestQuery, LatestRow
from hub.stores.duckdb import DuckDBStore

T0 = 1_699_999_200 * 1_000_000_000


def test_latest_is_rebuilt_from_the_file_and_kept_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    store = DuckDBStore(path)
    tags = {"device": "m1"}
    store.write([Point("energy", tags, {"power_w": 1.0, "ok": True}, T0)])
    store.write([Point("energy", tags, {"power_w": 2.0}, T0 + 60)])
    before = store.latest(LatestQuery("energy"))
    store.close()

    reopened = DuckDBStore(path)
    assert (
        reopened.latest(LatestQuery("energy"))
        == before
        == [LatestRow(tags, T0 + 60, {"power_w": 2.0, "ok": True})]
    )
    refused = reopened.write(
        [
            Point("energy", tags, {"power_w": "high"}, T0 + 120),  # refused: type conflict
            Point("energy", tags, {"ok": False}, T0 + 90),
        ]
    )
    assert len(refused) == 1
    assert reopened.latest(LatestQuery("energy")) == [
        LatestRow(tags, T0 + 90, {"power_w": 2.0, "ok": False})
    ]
    reopened.close()
