"""A message read in part: the readings an adapter could read are stored, each refused one is a
dead letter of its own, and the message is acknowledged once (real DuckDB file, real log)."""

from __future__ import annotations

import json
from pathlib import Path

from hub.contracts import Parsed
from hub.deadletters import DeadLetterLog
from hub.errors import Rejected
from hub.ingest.pipeline import Inbound, Pipeline
from hub.metrics import HubMetrics
from hub.points import Point
from hub.query import PointsQuery
from hub.stores.duckdb import DuckDBStore
from hub.topics import TopicFilter, TopicRouter

T0 = 1_700_000_000_000_000_000


class ReadingsAdapter:
    """Reads ``{"id": {"v": number}}``; a reading whose value is not a number is refused."""

    name = "readings"
    topics = (TopicFilter("readings/+"),)

    def parse(self, topic: str, payload: bytes) -> list[Point]:
        points, rejects = [], []
        for device, reading in json.loads(payload).items():
            if not isinstance(reading["v"], int | float):
                rejects.append(Rejected("wrong_type", f"reading {device}: v is not a number"))
                continue
            points.append(Point("reading", {"device": device}, {"v": float(reading["v"])}, T0))
        if not points:
            raise Rejected("wrong_type", "no reading could be read")
        return Parsed(points, rejects)


def test_refused_readings_are_dead_letters_and_the_rest_is_stored(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "store.duckdb")
    letters = DeadLetterLog(tmp_path / "letters.sqlite")
    acknowledged: list[int] = []
    metrics = HubMetrics()
    adapter = ReadingsAdapter()
    pipeline = Pipeline(
        TopicRouter([(adapter.topics, adapter)]),
        store,
        letters,
        lambda batch: acknowledged.extend(m.mid for m in batch),
        metrics=metrics,
    )
    body = {"a": {"v": 1}, "b": {"v": "x"}, "c": {"v": 3}, "d": {"v": None}}
    pipeline.process(
        [
            Inbound("readings/x", json.dumps(body).encode(), 1, 1, T0),
            Inbound("readings/y", json.dumps({"e": {"v": "bad"}}).encode(), 2, 1, T0),
        ]
    )

    rows = store.points(PointsQuery("reading", T0 - 1, T0 + 1))
    assert sorted((r.tags["device"], r.fields["v"]) for r in rows) == [("a", 1.0), ("c", 3.0)]
    details = sorted(letter.detail for letter in letters.list())
    assert details == [
        "no reading could be read",
        "reading b: v is not a number",
        "reading d: v is not a number",
    ]
    assert acknowledged == [1, 2]
    outcome = metrics.messages.labels("readings", "partial")._value.get()
    assert outcome == 1
    assert metrics.dead_letters.labels("wrong_type")._value.get() == 3
    store.close()
    letters.close()
