"""Whatever arrives, the hub's memory and its dead-letter log stay bounded.

3,000 invalid 200 kB payloads from one publisher (10,000 once made 550 MB of dead letters in
5 s and an RSS of 750 MB), then a backlog of 1,000 messages of 1 MB that the hub cannot finish
while its disk is full (1,500 once made 1.35 GB of RSS: the in-flight window was bounded by
message count only, so everything the broker sent piled up in the hub). The hub, with its MQTT
client process, must stay under 500 MB resident, the dead-letter log under its bound, and the
letters dropped to keep it there must be counted in ``/metrics``.

Both stay under the broker's own bounds (deploy/mosquitto/mosquitto.conf: 1 GiB queued per
client, 1.5 GiB in all), so the broker never cuts the publisher off: with 2 GB of flood it did,
and the test's wall time then hung on the publisher's reconnects (770 s to over 1,200 s on a
slower 2-core machine, 55 s on a quiet one).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hub.broker import Mosquitto
from tests.conftest import ADMIN_KEY, HubProcess, Publisher, wait_until
from tests.reliability.disk import SmallDisk
from tests.reliability.rss import PeakRss

RSS_LIMIT = 500 * 1024 * 1024
DEADLETTER_MAX = 4 << 20  # ~900 letters of 4 kB: the flood overflows it
FLOOD = 3_000  # 600 MB
BACKLOG = 1_000  # 1 GB: without the in-flight byte bound, all of it would sit in the hub

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


def metric_sum(hub: HubProcess, name: str) -> float:
    text = httpx.get(f"{hub.base_url}/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.M))


def publish_paced(publisher: Publisher, topic: str, payload: bytes, count: int) -> None:
    """QoS 1, at most a few hundred unacknowledged at a time (the publisher's own memory).

    The broker's memory_limit may disconnect the publisher while the hub holds back: paho
    raises for a message published while it is away, so the chunk is sent again once it has
    reconnected (QoS 1 is at least once; the test accounts for every letter that arrived)."""
    for start in range(0, count, 200):
        chunk = [(topic, payload)] * min(200, count - start)
        for _ in range(20):
            try:
                publisher.publish_all(chunk)
                break
            except (RuntimeError, AssertionError):  # not connected, or cut off while waiting
                # for an acknowledgement (the broker's memory_limit): send the chunk again
                wait_until(publisher.client.is_connected, 120, message="no reconnect")
        else:
            raise AssertionError("the broker kept disconnecting the publisher")


def settled(read: Callable[[], float]) -> Callable[[], float | None]:
    """A predicate: the value once two reads a second apart agree."""
    last: list[float] = []

    def check() -> float | None:
        value = read()
        stable = bool(last) and last[-1] == value
        last.append(value)
        time.sleep(1)
        return value if stable else None

    return check


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    small = SmallDisk(tmp_path / "disk", size_mb=96).mount()
    yield small
    small.unmount()


def test_invalid_floods_and_a_large_backlog_keep_memory_and_the_log_bounded(
    tmp_path: Path, mosquitto: Mosquitto, disk: SmallDisk, cleanup: list[HubProcess]
) -> None:
    env = {
        "CITYHUB_DATA_DIR": str(disk.path / "hub"),
        "CITYHUB_INGEST__ADAPTERS": '["senml"]',
        "CITYHUB_INGEST__DEADLETTER_MAX_BYTES": str(DEADLETTER_MAX),
    }
    if "CITYHUB_TEST_INFLIGHT_MAX_BYTES" in os.environ:  # to see this test fail without it
        env["CITYHUB_INGEST__INFLIGHT_MAX_BYTES"] = os.environ["CITYHUB_TEST_INFLIGHT_MAX_BYTES"]
    hub = HubProcess(tmp_path, mosquitto.port, **env)
    cleanup.append(hub)
    publisher = Publisher(mosquitto.port)
    invalid = b"{" + b"x" * (200_000 - 1)  # under the 256 kB payload limit, not JSON
    with PeakRss(lambda: hub.process.pid if hub.process else None) as rss:
        hub.start()
        publish_paced(publisher, "senml/m-1", invalid, FLOOD)
        wait_until(
            lambda: metric_sum(hub, "cityhub_dead_letters_total") >= FLOOD,
            timeout_s=300,
            message="the flood was not dead-lettered",
        )
        # Should the publisher be cut off, it resends what was not acknowledged (QoS 1 is at
        # least once), so a letter may arrive twice: wait for the count to settle, then account
        # for each one.
        recorded = wait_until(settled(lambda: metric_sum(hub, "cityhub_dead_letters_total")), 60)
        flood_peak = rss.peak
        dropped = metric_sum(hub, "cityhub_dead_letters_dropped_total")
        with hub.client(key=ADMIN_KEY) as client:
            kept = client.get("/api/v1/dead-letters/counts").json()["total"]
            answer = client.get("/api/v1/dead-letters", params={"limit": 1}).json()
        on_disk = sum(p.stat().st_size for p in (disk.path / "hub").glob("deadletters.sqlite*"))

        # 1 GB the hub cannot finish: the dead-letter log is on a full disk.
        disk.fill()
        large = b"y" * 1_000_000  # dead-lettered as too_large, once there is room
        sender = threading.Thread(
            target=publish_paced, args=(publisher, "senml/m-2", large, BACKLOG)
        )
        sender.start()
        wait_until(
            lambda: metric_sum(hub, 'cityhub_store_errors_total\\{part="deadletters"\\}') > 0,
            timeout_s=60,
            message="the full disk was not noticed",
        )
        time.sleep(10)  # the broker keeps sending what the hub reads
        blocked_peak = rss.peak
        disk.free()
        sender.join(300)
        wait_until(
            lambda: metric_sum(hub, "cityhub_dead_letters_total") >= FLOOD + BACKLOG,
            timeout_s=300,
            message="the backlog was not drained",
        )
    publisher.close()
    print(  # the figures, for the record (pytest -s)
        f"flood: peak RSS {flood_peak / 2**20:.0f} MiB, dead letters kept {kept}, dropped "
        f"{dropped:.0f}, log {on_disk / 2**20:.1f} MiB; backlog on a full disk: peak RSS "
        f"{blocked_peak / 2**20:.0f} MiB; overall peak {rss.peak / 2**20:.0f} MiB"
    )
    assert recorded >= FLOOD and dropped > 0 and kept + dropped == recorded, (kept, dropped)
    [first] = answer["dead_letters"]
    assert first["payload_bytes"] == 200_000 and len(first["payload"]) == 4096
    assert on_disk < 2 * DEADLETTER_MAX, f"dead-letter log of {on_disk} bytes"
    assert rss.peak < RSS_LIMIT, f"peak RSS {rss.peak / 2**20:.0f} MiB"
    hub.stop()
