"""GTFS-Realtime VehiclePositions feeds, fetched where agencies publish them.

Each feed of ``CITYHUB_FEEDS`` is fetched every ``interval_s`` with httpx:

1. a conditional GET (``If-None-Match`` with the last ETag, ``If-Modified-Since`` with the
   last ``Last-Modified``), gzip accepted; a 304 publishes nothing;
2. the body must be a whole protobuf ``FeedMessage`` (a gzip file served without
   ``Content-Encoding`` is unpacked too); a header timestamp equal to the last one published
   means the agency re-served the same snapshot: nothing is published;
3. otherwise the FeedMessage is published as it came to ``gtfsrt/<name>/vehicle_positions``
   at QoS 1 and the broker's PUBACK awaited, so it takes the durable path every MQTT message
   takes (the GTFS-RT adapter reads it, a corrupt vehicle becomes its own dead letter);
4. only then are the ETag, Last-Modified and header timestamp remembered, so a feed that
   could not be published is fetched again in full.

Any failure (HTTP error status, timeout, connection error, truncated or unreadable body,
broker not acknowledging) is counted, reported in readiness and metrics with its reason, and
retried after an exponential backoff (``interval_s`` x 2^failures, at most ``max_backoff_s``).
A poller never stops on an error: only :meth:`FeedPollers.stop` ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import httpx
from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2

from hub.gateways.publisher import AckPublisher, PublishFailed
from hub.metrics import HubMetrics
from hub.settings import FeedSettings, MqttSettings

__all__ = ["FeedPoller", "FeedPollers", "FeedStatus"]

log = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"


class FeedError(Exception):
    """One fetch failed; the message says why (shown in readiness)."""


@dataclass
class FeedStatus:
    """What readiness says about one feed (times are Unix seconds, None: never)."""

    url: str
    last_fetch: float | None = None  # last attempt
    last_success: float | None = None  # last fetch that ended well (published or nothing new)
    last_published: float | None = None
    last_outcome: str | None = None  # published, not_modified, unchanged, failed
    last_error: str | None = None  # why the last failure failed (kept after a recovery)
    consecutive_failures: int = 0
    backoff_s: float = 0.0  # the wait before the next attempt after a failure
    header_timestamp: int | None = None  # of the last FeedMessage published


class FeedPoller:
    """Polls one feed and publishes what is new."""

    def __init__(self, feed: FeedSettings, publisher: AckPublisher, metrics: HubMetrics) -> None:
        self.feed = feed
        self.topic = f"gtfsrt/{feed.name}/vehicle_positions"
        self.status = FeedStatus(url=feed.url)
        self._publisher = publisher
        self._metrics = metrics
        self._etag: str | None = None
        self._last_modified: str | None = None

    async def run(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            outcome = await self.poll_once(client)
            delay = self.feed.interval_s if outcome != "failed" else self.status.backoff_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def poll_once(self, client: httpx.AsyncClient) -> str:
        """Fetch once; returns the outcome (``published``, ``not_modified``, ``unchanged`` or
        ``failed``), having updated the status and metrics."""
        self.status.last_fetch = time.time()
        try:
            outcome = await self._fetch_and_publish(client)
        except FeedError as error:
            return self._failed(str(error))
        except httpx.TimeoutException:
            return self._failed(f"timed out after {self.feed.timeout_s} s")
        except httpx.HTTPError as error:
            return self._failed(f"{type(error).__name__}: {error}"[:300])
        except PublishFailed as error:
            return self._failed(f"broker: {error}")
        self.status.last_success = time.time()
        self.status.last_outcome = outcome
        self.status.consecutive_failures = 0
        self.status.backoff_s = 0.0
        self._metrics.feed_fetches.labels(self.feed.name, outcome).inc()
        self._metrics.feed_last_success.labels(self.feed.name).set(self.status.last_success)
        return outcome

    async def _fetch_and_publish(self, client: httpx.AsyncClient) -> str:
        headers = {key: value.get_secret_value() for key, value in self.feed.headers.items()}
        if self._etag:
            headers["If-None-Match"] = self._etag
        if self._last_modified:
            headers["If-Modified-Since"] = self._last_modified
        response = await client.get(self.feed.url, headers=headers, timeout=self.feed.timeout_s)
        if response.status_code == 304:
            return "not_modified"
        if response.status_code != 200:
            raise FeedError(f"HTTP {response.status_code} {response.reason_phrase}")
        body = response.content
        if body.startswith(_GZIP_MAGIC):
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as error:
                raise FeedError(f"corrupt gzip body: {error}") from None
        header_timestamp = _header_timestamp(body)
        if header_timestamp is not None and header_timestamp == self.status.header_timestamp:
            self._remember(response)
            return "unchanged"
        await self._publisher.publish(self.topic, body, self.feed.timeout_s)
        self._remember(response)
        self.status.header_timestamp = header_timestamp
        self.status.last_published = time.time()
        return "published"

    def _remember(self, response: httpx.Response) -> None:
        self._etag = response.headers.get("ETag")
        self._last_modified = response.headers.get("Last-Modified")

    def _failed(self, why: str) -> str:
        status = self.status
        status.consecutive_failures += 1
        status.last_outcome = "failed"
        status.last_error = why
        status.backoff_s = min(
            self.feed.interval_s * 2**status.consecutive_failures, self.feed.max_backoff_s
        )
        self._metrics.feed_fetches.labels(self.feed.name, "failed").inc()
        log.warning("feed %s: %s (retry in %.0f s)", self.feed.name, why, status.backoff_s)
        return "failed"


def _header_timestamp(body: bytes) -> int | None:
    """The FeedMessage header's timestamp (None when absent); ``FeedError`` when the body is
    not a whole FeedMessage (a truncated download, an HTML error page)."""
    message = gtfs_realtime_pb2.FeedMessage()
    try:
        message.ParseFromString(body)
    except DecodeError as error:
        raise FeedError(f"not a GTFS-Realtime FeedMessage ({len(body)} bytes): {error}") from None
    if not message.IsInitialized():
        raise FeedError(f"incomplete FeedMessage ({len(body)} bytes): a required field is missing")
    return message.header.timestamp if message.header.HasField("timestamp") else None


class FeedPollers:
    """Every configured feed, polled concurrently in one asyncio loop on a thread of its own."""

    def __init__(
        self,
        feeds: list[FeedSettings],
        mqtt: MqttSettings,
        metrics: HubMetrics,
        ingest_ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.publisher = AckPublisher(mqtt, "feeds", ingest_ready)
        self._ingest_ready = ingest_ready
        self.pollers = [FeedPoller(feed, self.publisher, metrics) for feed in feeds]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.publisher.start()
        self._thread = threading.Thread(target=self._run, name="cityhub-feeds", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)
        self.publisher.stop()

    def status(self) -> dict[str, dict[str, object]]:
        return {poller.feed.name: asdict(poller.status) for poller in self.pollers}

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._started.set()
        await asyncio.to_thread(self.publisher.wait_connected, 10.0)
        while not self._ingest_ready() and not self._stop.is_set():
            await asyncio.sleep(0.1)  # a fetch now could only fail: wait for the hub's SUBACK
        async with httpx.AsyncClient(
            follow_redirects=True, headers={"User-Agent": "cityhub-feed-poller"}
        ) as client:
            await asyncio.gather(*(poller.run(client, self._stop) for poller in self.pollers))
