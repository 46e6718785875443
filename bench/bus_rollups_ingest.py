"""``python -m bench.bus_rollups_ingest``: what maintaining ``bus_position`` rollups costs
the DuckDB store, in-process, side by side.

The drain test (``python -m bench --only drain --consumers c0,cb,c``) measures the whole hub,
where bus fixes are a fifth of the traffic and the store a part of the work: on a shared
machine its rounds vary more than the effect. This one isolates the store: an hour of fixes
of 300 vehicles every 10 s (108,000 points, six numeric fields as GTFS-RT gives them),
written in batches of 1,000 in time order with the rollups brought up to date every 10
batches (the hub's flush every few seconds), to a fresh file per variant, in interleaved
rounds: no rollups; 1 h and 1 d without the path fields; the default (1 h, 1 d, with the
path); 15 min, 1 h and 1 d. Nothing is asserted; the medians and their ratios are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

from hub.points import Point
from hub.rollups import RollupPlan
from hub.stores import duckdb_rollups
from hub.stores.duckdb import DuckDBStore

S = 1_000_000_000
T0 = 1_699_920_000 * S
VARIANTS = {
    "off": {},
    "1h,1d without path": {"bus_position": ["1h", "1d"]},
    "1h,1d (default)": {"bus_position": ["1h", "1d"]},
    "15m,1h,1d": {"bus_position": ["15m", "1h", "1d"]},
}


def fixes(vehicles: int, steps: int) -> list[Point]:
    rng = random.Random(42)
    return [
        Point(
            "bus_position",
            {"device": f"v{v}", "route": str(v % 20), "propulsion": "diesel"},
            {
                "latitude": 52 + rng.random() / 10,
                "longitude": 13 + rng.random() / 10,
                "bearing_deg": rng.random() * 360,
                "speed_mps": rng.random() * 20,
                "odometer_m": 1e6 + step * 100.0,
                "occupancy_pct": 50.0,
            },
            T0 + step * 10 * S + v * S // 100,
        )
        for step in range(steps)
        for v in range(vehicles)
    ]


def write_all(folder: Path, variant: str, points: list[Point]) -> float:
    """Seconds to write ``points`` and keep the variant's rollups up to date."""
    store = DuckDBStore(
        folder / f"{variant}.duckdb",
        rollups=RollupPlan.from_labels(VARIANTS[variant]),
        rollup_flush_s=1e9,  # flushed here, every 10 batches
    )
    without_path = mock.patch.object(duckdb_rollups, "has_path", lambda fields: False)
    try:
        with without_path if "without path" in variant else contextlib.nullcontext():
            started = time.perf_counter()
            for index in range(0, len(points), 1000):
                store.write(points[index : index + 1000])
                if index // 1000 % 10 == 9:
                    _flush(store)
            _flush(store)
            return time.perf_counter() - started
    finally:
        store.close()


def _flush(store: DuckDBStore) -> None:
    # what the store's write does every CITYHUB_ROLLUPS__FLUSH_S, here at fixed points
    with store._write_lock:
        assert store._flush_rollups()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    points = fixes(300, 360)
    seconds: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for round_ in range(args.rounds):
        for variant in VARIANTS:
            with tempfile.TemporaryDirectory() as folder:
                seconds[variant].append(write_all(Path(folder), variant, points))
        print(f"round {round_ + 1}: " + ", ".join(f"{v} {s[-1]:.2f} s" for v, s in seconds.items()))
    base = statistics.median(seconds["off"])
    print(f"\n{len(points):,} bus fixes | median s | µs per fix | ratio to off")
    for variant, values in seconds.items():
        median = statistics.median(values)
        print(f"{variant} | {median:.2f} | {median / len(points) * 1e6:.1f} | {median / base:.2f}x")


if __name__ == "__main__":
    main()
