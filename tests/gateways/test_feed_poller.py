"""The GTFS-Realtime poller inside ``cityhub run`` against a local HTTP server: new data is
stored once, 304 and an unchanged header timestamp store nothing, a 500, a timeout and a
truncated body are retried with backoff and reported, and the hub keeps running. The feed is
500 buses of which one reports latitude 200: 499 positions and one dead letter naming it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from hub.broker import Mosquitto
from tests.conftest import ADMIN_KEY, HubProcess, wait_until
from tests.gateways.feed_server import FeedServer, vehicle_feed


@pytest.fixture
def setup(tmp_path) -> Iterator[tuple[HubProcess, FeedServer]]:
    broker = Mosquitto(tmp_path / "broker").start()
    server = FeedServer().start()
    feeds = [{"name": "city-bus", "url": server.url, "interval_s": 1, "timeout_s": 0.5,
              "max_backoff_s": 4, "headers": {"X-Api-Key": "agency-key-123"}}]  # fmt: skip
    hub = HubProcess(tmp_path, broker.port, CITYHUB_FEEDS=json.dumps(feeds))
    yield hub, server
    hub.stop()
    server.stop()
    broker.stop()


def feed_status(hub: HubProcess) -> dict:
    with hub.client() as client:
        response = client.get("/ready")
    assert response.status_code == 200, response.text  # a failing feed never fails the hub
    return response.json()["checks"]["feeds"]["feeds"]["city-bus"]


def dead_letters(hub: HubProcess) -> list[dict]:
    with hub.client(ADMIN_KEY) as client:
        return client.get("/api/v1/dead-letters", params={"limit": 100}).json()["dead_letters"]


def positions(hub: HubProcess) -> dict[str, str]:
    with hub.client() as client:
        rows = client.get("/api/v1/latest", params={"measurement": "bus_position"}).json()
    return {row["tags"]["device"]: row["time"] for row in rows["rows"]}


def test_poller_stores_new_data_once_and_survives_every_failure(setup) -> None:
    hub, server = setup
    script = server.script
    first_s = int(time.time()) - 120
    script.body, script.etag = vehicle_feed(first_s, 500, bad=137), '"a"'
    hub.start()

    # New data: 499 positions and one dead letter that names the vehicle.
    wait_until(lambda: len(positions(hub)) == 499, 30, message="499 positions not stored")
    [letter] = wait_until(lambda: dead_letters(hub), 10)
    assert letter["reason"] == "out_of_range" and "bus-0137" in letter["detail"]
    assert "bus-0137" not in positions(hub)
    assert script.requests[0][1]["X-Api-Key"] == "agency-key-123"

    # 304: the poller sends the ETag back and stores nothing.
    wait_until(lambda: script.seen("feed", 304) >= 2, 10)
    assert feed_status(hub)["last_outcome"] == "not_modified"
    # A new ETag over the same snapshot (same header timestamp): nothing published.
    script.etag = '"a2"'
    wait_until(lambda: feed_status(hub)["last_outcome"] == "unchanged", 10)
    wait_until(lambda: script.seen("feed", 304) >= 4, 10)

    # Failures, each retried with a growing backoff and visible in readiness and metrics.
    for mode, reason in (("error", "HTTP 500"), ("slow", "timed out"), ("truncated", "")):
        before = feed_status(hub)["consecutive_failures"]
        script.mode = mode
        status = wait_until(
            lambda m=mode, b=before: (
                (s := feed_status(hub))["consecutive_failures"] >= b + 2
                and s["last_error"]
                and script.seen(m) >= 2
                and s
            ),
            40,
            message=f"{mode} was not retried",
        )
        assert reason in status["last_error"]
        assert status["backoff_s"] > 1 and status["last_outcome"] == "failed"
    assert feed_status(hub)["backoff_s"] == 4  # capped at max_backoff_s
    with hub.client() as client:
        metrics = client.get("/metrics").text
    assert 'cityhub_feed_fetches_total{feed="city-bus",outcome="failed"}' in metrics
    assert 'cityhub_feed_fetches_total{feed="city-bus",outcome="published"} 1.0' in metrics

    # The agency recovers with a new snapshot: stored, and the failures are over.
    second_s = first_s + 60
    script.body, script.etag, script.mode = vehicle_feed(second_s, 500), '"b"', "feed"
    wait_until(lambda: feed_status(hub)["last_outcome"] in ("published", "not_modified"), 30)
    status = feed_status(hub)
    assert status["consecutive_failures"] == 0 and status["header_timestamp"] == second_s
    wait_until(lambda: len(positions(hub)) == 500, 20)
    assert len(dead_letters(hub)) == 1  # neither the 304s nor the unchanged copy came back
