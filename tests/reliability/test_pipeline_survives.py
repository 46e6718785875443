"""The disk under the DuckDB store fills up and is freed again, with the hub running.

While the disk is full the ingest worker keeps retrying its batch: ``/ready`` says why (the
store's error), ``cityhub_store_errors_total`` counts it, ``/health`` turns 503 once nothing
progressed for ``CITYHUB_INGEST__STALL_AFTER_S``, and nothing is acknowledged. When space
returns the hub resumes by itself, without a restart, and every message is stored exactly
once. The store-level case makes DuckDB checkpoint at every commit, so the failure is a failed
checkpoint, which invalidates the database: the store reopens it on the next write.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.broker import Mosquitto
from hub.errors import StoreUnavailable
from hub.insights.context import format_time
from hub.points import Point
from hub.query import AggregateQuery
from hub.stores.duckdb import DuckDBStore
from tests.conftest import HubProcess, Publisher, wait_until, write_registry
from tests.reliability.disk import SmallDisk

METERS = 20
T0 = (time.time_ns() // 3_600_000_000_000 - 2) * 3_600_000_000_000

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


def reading(i: int) -> str:
    at_s = (T0 + (i // METERS) * 1_000_000_000) / 1e9
    return json.dumps([{"bt": at_s, "n": "power", "u": "W", "v": float(i)}])


def stored(hub: HubProcess) -> tuple[float, float]:
    params = {
        "measurement": "building_energy",
        "field": "power_w",
        "start": format_time(T0),
        "end": format_time(T0 + 3_600_000_000_000),
    }
    with hub.client() as client:
        values = []
        for fn in ("count", "sum"):
            answer = client.get("/api/v1/aggregate", params={**params, "fn": fn})
            series = answer.json()["series"] if answer.status_code == 200 else []
            values.append(series[0]["points"][0]["value"] if series else 0.0)
    return values[0], values[1]


def store_errors(hub: HubProcess) -> float:
    text = httpx.get(f"{hub.base_url}/metrics", timeout=5).text
    found = re.search(r'^cityhub_store_errors_total\{part="store"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    small = SmallDisk(tmp_path / "disk", size_mb=24).mount()
    yield small
    small.unmount()


def test_the_hub_heals_after_a_full_disk(
    tmp_path: Path, mosquitto: Mosquitto, disk: SmallDisk, cleanup: list[HubProcess]
) -> None:
    registry = write_registry(
        tmp_path / "registry.json",
        {f"m-{n}": {"building": f"b-{n % 3}", "district": "north"} for n in range(METERS)},
    )
    env = {
        "CITYHUB_DATA_DIR": str(disk.path / "hub"),
        "CITYHUB_INGEST__REGISTRY_FILE": str(registry),
        "CITYHUB_INGEST__ADAPTERS": '["senml"]',
        "CITYHUB_INGEST__STALL_AFTER_S": "3",
    }
    hub = HubProcess(tmp_path, mosquitto.port, **env)
    cleanup.append(hub)
    hub.start()
    publisher = Publisher(mosquitto.port)
    before, during = 500, 1500
    publisher.publish_all([(f"senml/m-{i % METERS}", reading(i)) for i in range(before)])
    wait_until(lambda: stored(hub)[0] == before, timeout_s=60, message="first part not stored")

    disk.fill()
    sender = threading.Thread(
        target=publisher.publish_all,
        args=([(f"senml/m-{i % METERS}", reading(i)) for i in range(before, before + during)],),
    )
    sender.start()

    seen: list[object] = []

    def store_error_reported() -> dict | None:
        answer = httpx.get(f"{hub.base_url}/ready", timeout=5)
        seen[:] = [answer.status_code, answer.text]
        pipeline = answer.json()["checks"]["pipeline"]
        return pipeline if answer.status_code == 503 and "error" in pipeline else None

    try:
        pipeline = wait_until(store_error_reported, timeout_s=60)
    except AssertionError:
        raise AssertionError(f"no store error reported: {seen}\n{hub.log()}") from None
    assert "No space left on device" in str(pipeline["error"]), pipeline
    assert store_errors(hub) > 0
    health = wait_until(
        lambda: (a := httpx.get(f"{hub.base_url}/health", timeout=5)).status_code == 503 and a,
        timeout_s=60,
        message="/health did not report the stalled ingest",
    )
    assert health.json()["status"] == "degraded"
    assert stored(hub)[0] < before + during, "the disk was full, yet everything was stored"

    disk.free()
    sender.join(60)
    publisher.close()
    total = before + during
    wait_until(
        lambda: stored(hub)[0] >= total,
        timeout_s=60,
        message=f"the hub did not resume by itself: {stored(hub)}\n{hub.log()}",
    )
    time.sleep(1.0)  # a late redelivery would show up as an extra count now
    assert stored(hub) == (total, float(sum(range(total))))
    wait_until(lambda: httpx.get(f"{hub.base_url}/ready", timeout=5).status_code == 200)
    assert httpx.get(f"{hub.base_url}/health", timeout=5).status_code == 200
    assert "recovered after" in hub.log()
    hub.stop()


def test_a_failed_checkpoint_invalidates_the_database_and_the_store_reopens_it(
    disk: SmallDisk,
) -> None:
    store = DuckDBStore(disk.path / "store.duckdb", checkpoint_threshold="1KB")

    def batch(start: int) -> list[Point]:
        return [
            Point("m", {"device": f"d{i % 50}"}, {"v": float(i)}, T0 + i * 1000)
            for i in range(start, start + 1000)
        ]

    store.write(batch(0))
    disk.fill(leave_bytes=200_000)  # room for the WAL of a commit, not for its checkpoint
    written, failures = 1000, []
    for start in range(1000, 30_000, 1000):
        try:
            store.write(batch(start))
            written += 1000
        except StoreUnavailable as error:
            failures.append(str(error))
            break
    assert failures, "the disk was full, yet every write succeeded"
    assert "checkpoint" in failures[0], failures
    with pytest.raises(StoreUnavailable):  # a read of the invalidated database is a 503
        store.aggregate(AggregateQuery("m", "v", "count", T0, T0 + 10**12))
    disk.free()
    store.write(batch(100_000))  # reopens the file, replays its WAL
    store.ping()
    result = store.aggregate(AggregateQuery("m", "v", "count", T0, T0 + 10**12))
    assert result[0].buckets[0].value == written + 1000
    store.close()
