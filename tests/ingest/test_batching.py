"""The pipeline's batches follow the stream's rate: a trickle is gathered for at most
``max_age_s`` from its first message's receipt, while messages that waited that long already
(a heavy stream, the worker back from a long write) go at once, all of them up to
``max_messages``. A real DuckDB file and dead-letter log behind a running pipeline."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from hub.deadletters import DeadLetterLog
from hub.ingest.pipeline import BatchLimits, Inbound, Pipeline
from hub.query import PointsQuery
from hub.stores.duckdb import DuckDBStore
from hub.topics import TopicRouter
from tests.ingest.test_pipeline_partial import ReadingsAdapter

S = 1_000_000_000


class Acks:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.done = threading.Condition()

    def __call__(self, batch: Sequence[Inbound]) -> None:
        with self.done:
            self.batches.append([m.mid for m in batch])
            self.done.notify_all()

    def wait_for(self, count: int, timeout_s: float) -> bool:
        with self.done:
            return self.done.wait_for(
                lambda: sum(map(len, self.batches)) >= count, timeout=timeout_s
            )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Pipeline, Acks, DuckDBStore]]:
    store = DuckDBStore(tmp_path / "store.duckdb")
    acks = Acks()
    adapter = ReadingsAdapter()
    pipeline = Pipeline(
        TopicRouter([(adapter.topics, adapter)]),
        store,
        DeadLetterLog(tmp_path / "letters.sqlite"),
        acks,
        limits=BatchLimits(max_messages=3, max_age_s=60.0),
    )
    yield pipeline, acks, store
    pipeline.stop()
    store.close()


def message(mid: int, received_ns: int) -> Inbound:
    return Inbound("readings/x", b'{"m-%d": {"v": %d}}' % (mid, mid), mid, 1, received_ns)


def test_messages_older_than_the_batch_age_go_at_once_in_batches_of_the_most(
    running: tuple[Pipeline, Acks, DuckDBStore],
) -> None:
    """Five messages received a minute and more ago (a backlog): written without waiting
    out the 60 s age, in batches of ``max_messages``, in order, all stored."""
    pipeline, acks, store = running
    long_ago = time.time_ns() - 61 * S
    for mid in range(1, 6):
        pipeline.submit(message(mid, long_ago + mid))
    pipeline.start()
    assert acks.wait_for(5, timeout_s=30), "a backlog waited for the batch age"
    assert acks.batches == [[1, 2, 3], [4, 5]]
    stored = store.points(PointsQuery("reading", 0, 2**62))
    assert sorted(p.tags["device"] for p in stored) == [f"m-{n}" for n in range(1, 6)]


def test_a_trickle_is_gathered_until_its_first_message_is_old_enough(
    running: tuple[Pipeline, Acks, DuckDBStore],
) -> None:
    """A fresh message waits for company (the age is 60 s): the next two, arriving later,
    join its batch, which goes when it is full."""
    pipeline, acks, _ = running
    pipeline.start()
    pipeline.submit(message(1, time.time_ns()))
    assert not acks.wait_for(1, timeout_s=0.5)  # gathered, not written alone
    pipeline.submit(message(2, time.time_ns()))
    pipeline.submit(message(3, time.time_ns()))
    assert acks.wait_for(3, timeout_s=30)
    assert acks.batches == [[1, 2, 3]]
