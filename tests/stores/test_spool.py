"""The durable spool: outages, a full spool, refused points, crash recovery, the wiring.

The inner store is a real DuckDB file behind a switch: the one seam where a test needs the
remote store to fail on demand. Crash recovery kills a real writer process with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from hub.contracts import RefusedPoint
from hub.errors import StoreUnavailable
from hub.points import Point
from hub.query import AggregateQuery, Bucket, Catalog, LatestQuery, LatestRow, SeriesResult
from hub.settings import Settings
from hub.stores import open_store
from hub.stores.duckdb import DuckDBStore
from hub.stores.spool import SpooledStore
from tests.servers_influx import RunningServer
from tests.stores.conftest import fresh_database

T0 = 1_699_999_200 * 1_000_000_000
S = 1_000_000_000


class SwitchableStore:
    """A real DuckDBStore that answers ``StoreUnavailable`` while switched off, and records
    every batch it stored."""

    def __init__(self, path: Path) -> None:
        self.inner = DuckDBStore(path)
        self.up = True
        self.batches: list[list[Point]] = []

    def write(self, points: Sequence[Point]) -> list[RefusedPoint]:
        if not self.up:
            raise StoreUnavailable("switched off")
        self.batches.append(list(points))
        return self.inner.write(points)

    def aggregate(self, query: AggregateQuery) -> list[SeriesResult]:
        return self.inner.aggregate(query)

    def latest(self, query: LatestQuery) -> list[LatestRow]:
        return self.inner.latest(query)

    def catalog(self) -> Catalog:
        return self.inner.catalog()

    def ping(self) -> None:
        if not self.up:
            raise StoreUnavailable("switched off")

    def close(self) -> None:
        self.inner.close()

    def forwarded(self) -> list[Point]:
        return [point for batch in self.batches for point in batch]


def batch(number: int, size: int = 50) -> list[Point]:
    return [
        Point(
            "energy",
            {"device": f"m{i % 5}"},
            {"power_w": float(number * size + i)},
            T0 + (number * size + i) * S,
        )
        for i in range(size)
    ]


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def count(store: SwitchableStore) -> list[SeriesResult]:
    return store.aggregate(AggregateQuery("energy", "power_w", "count", T0, T0 + 10**6 * S))


@pytest.fixture
def inner(tmp_path: Path) -> SwitchableStore:
    return SwitchableStore(tmp_path / "inner.duckdb")


@pytest.fixture
def refused() -> list[RefusedPoint]:
    return []


@pytest.fixture
def spool(
    tmp_path: Path, inner: SwitchableStore, refused: list[RefusedPoint]
) -> Iterator[SpooledStore]:
    store = SpooledStore(
        inner,
        tmp_path / "spool",
        max_bytes=1 << 20,
        on_refused=refused.extend,
        segment_bytes=4096,
        retry_initial_s=0.01,
        retry_max_s=0.05,
    )
    yield store
    store.close()


def test_an_outage_spools_then_drains_in_order_exactly_once(
    spool: SpooledStore, inner: SwitchableStore, tmp_path: Path
) -> None:
    wait_for(lambda: spool.status().store_reachable)
    inner.up = False
    written = [batch(number) for number in range(12)]
    for points in written:
        assert spool.write(points) == []
    wait_for(lambda: spool.status().last_error is not None)
    status = spool.status()
    assert (status.pending_batches, status.store_reachable) == (12, False)
    assert status.last_error == "switched off"
    segments = sorted((tmp_path / "spool").glob("*.seg"))
    assert len(segments) > 1  # the 4 KiB segments rolled
    assert status.pending_bytes == sum(path.stat().st_size for path in segments)
    assert status.oldest_pending_age_s is not None and status.oldest_pending_age_s > 0
    assert inner.batches == []

    inner.up = True
    assert spool.flush(timeout_s=10)
    assert inner.forwarded() == [point for points in written for point in points]
    assert count(inner) == [SeriesResult({}, [Bucket(T0, 600.0)])]
    status = spool.status()
    assert (status.pending_batches, status.pending_bytes, status.store_reachable) == (0, 0, True)
    assert (status.last_error, status.oldest_pending_age_s) == (None, None)
    assert len(list((tmp_path / "spool").glob("*.seg"))) == 1  # forwarded segments deleted


def test_a_full_spool_refuses_to_take_more(tmp_path: Path, inner: SwitchableStore) -> None:
    inner.up = False
    spool = SpooledStore(inner, tmp_path / "spool", max_bytes=4096, on_refused=lambda _: None)
    accepted = 0
    with pytest.raises(StoreUnavailable, match="spool full"):
        for number in range(100):
            spool.write(batch(number))
            accepted += 1
    assert 0 < accepted < 100
    assert spool.status().pending_bytes <= 4096
    assert spool.status().pending_batches == accepted
    inner.up = True
    assert spool.flush(timeout_s=10)
    assert spool.write(batch(100)) == []  # room again
    assert spool.flush(timeout_s=10)
    assert count(inner) == [SeriesResult({}, [Bucket(T0, 50.0 * (accepted + 1))])]
    spool.close()


def test_refused_points_go_to_on_refused_and_their_batch_mates_are_stored(
    spool: SpooledStore, inner: SwitchableStore, refused: list[RefusedPoint]
) -> None:
    spool.write(batch(0))
    bad = Point("energy", {"device": "m9"}, {"power_w": "high"}, T0)
    spool.write([*batch(1, 3), bad, *batch(2, 3)])
    assert spool.flush(timeout_s=10)
    assert [item.point for item in refused] == [bad]
    assert count(inner) == [SeriesResult({}, [Bucket(T0, 56.0)])]
    assert spool.status().pending_batches == 0


def test_a_restart_does_not_resend_what_was_forwarded(tmp_path: Path) -> None:
    first = SwitchableStore(tmp_path / "first.duckdb")
    spool = SpooledStore(first, tmp_path / "spool", 1 << 20, lambda _: None)
    for number in range(3):
        spool.write(batch(number))
    assert spool.flush(timeout_s=10)
    spool.close()
    second = SwitchableStore(tmp_path / "second.duckdb")
    spool = SpooledStore(second, tmp_path / "spool", 1 << 20, lambda _: None)
    spool.write(batch(3))
    assert spool.flush(timeout_s=10)
    assert second.batches == [batch(3)]
    spool.close()


_CRASHING_WRITER = """
import sys, time
from pathlib import Path
from hub.stores.influxdb import InfluxDBStore
from hub.stores.spool import SpooledStore
from tests.servers_influx import free_port
from tests.stores.test_spool import batch

unreachable = InfluxDBStore(f"http://127.0.0.1:{free_port()}", "cityhub", api="v1", timeout_s=1)
spool = SpooledStore(unreachable, Path(sys.argv[1]), 1 << 20, lambda _: None)
for number in range(5):
    spool.write(batch(number))
print("written", flush=True)
time.sleep(60)
"""


def test_a_killed_writer_loses_nothing_and_a_torn_tail_is_cut(
    tmp_path: Path, inner: SwitchableStore
) -> None:
    directory = tmp_path / "spool"
    writer = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_WRITER, str(directory)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert writer.stdout is not None
    assert writer.stdout.readline() == b"written\n"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=10)
    writer.stdout.close()
    [segment] = sorted(directory.glob("*.seg"))
    intact = segment.stat().st_size
    with segment.open("ab") as torn:  # a record whose write the crash interrupted
        torn.write(struct.pack("<IIQ", 1000, 12345, time.time_ns()) + b"only part")

    inner.up = False
    spool = SpooledStore(inner, directory, 1 << 20, lambda _: None, retry_initial_s=0.01)
    assert segment.stat().st_size == intact  # the torn record was cut at start
    assert spool.status().pending_batches == 5
    inner.up = True
    assert spool.flush(timeout_s=10)
    assert inner.forwarded() == [point for number in range(5) for point in batch(number)]
    assert not segment.exists()  # fully forwarded
    spool.close()


@pytest.mark.influxdb
def test_open_store_puts_influxdb_behind_the_spool(tmp_path: Path, influxd: RunningServer) -> None:
    settings = Settings(
        mode="test",
        data_dir=tmp_path,
        store={  # type: ignore[arg-type]
            "backend": "influxdb",
            "influx_url": influxd.url,
            "influx_api": "v1",
            "influx_bucket": fresh_database(influxd),
        },
    )
    store = open_store(settings, on_refused=lambda _: None)
    assert isinstance(store, SpooledStore)
    assert store.write(batch(0)) == []
    assert store.flush(timeout_s=10)
    assert (tmp_path / "spool").is_dir()
    query = AggregateQuery("energy", "power_w", "sum", T0, T0 + 50 * S)
    assert store.aggregate(query) == [SeriesResult({}, [Bucket(T0, float(sum(range(50))))])]
    store.close()
