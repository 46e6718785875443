"""What the poller makes of a body before anything is published: a protobuf cut short (with a
Content-Length that matches, so HTTP cannot tell) or an HTML error page served as 200 is a
failure with its reason, never a publish."""

from __future__ import annotations

import asyncio

import httpx

from hub.gateways.feeds import FeedPoller
from hub.gateways.publisher import AckPublisher
from hub.metrics import HubMetrics
from hub.settings import FeedSettings, MqttSettings
from tests.gateways.feed_server import FeedServer, vehicle_feed


def poll(body: bytes) -> FeedPoller:
    server = FeedServer().start()
    server.script.body = body
    try:
        feed = FeedSettings(name="f", url=server.url, interval_s=1, timeout_s=5)
        poller = FeedPoller(feed, AckPublisher(MqttSettings(port=1), "test"), HubMetrics())

        async def once() -> str:
            async with httpx.AsyncClient() as client:
                return await poller.poll_once(client)

        assert asyncio.run(once()) == "failed"
        return poller
    finally:
        server.stop()


def test_a_protobuf_cut_short_is_a_failure_not_a_publish() -> None:
    whole = vehicle_feed(1_700_000_000, 50)
    status = poll(whole[: len(whole) - 7]).status
    assert "FeedMessage" in (status.last_error or "")
    assert status.consecutive_failures == 1 and status.backoff_s == 2
    assert status.last_published is None


def test_an_html_error_page_is_a_failure() -> None:
    status = poll(b"<html><body>503 upstream busy</body></html>").status
    assert "FeedMessage" in (status.last_error or "")
