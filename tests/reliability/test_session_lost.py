"""The broker crashes and forgets the hub's session; the broker is away a while and returns.

After a crash before the broker saved its state, the hub finds "session present: false": it
subscribes again at once, warns with the time it was away, counts it in
``cityhub_mqtt_sessions_lost_total`` and ``/ready`` reports it. And whatever the outage, the
reconnect backoff is capped low (2 s with jitter), so the hub consumes again within seconds of
the broker's return, not after a 30 s backoff. Where the hub may signal the broker
(``CITYHUB_MQTT__BROKER_PID_FILE``, as in the demo), it has a new session saved at once, so a
crash right after the hub subscribed forgets nothing.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import httpx

from hub.broker import Mosquitto
from tests.conftest import HubProcess, Publisher, wait_until, write_registry
from tests.ingest.test_broker_outage_and_sharing import METERS, count, reading


def sessions_lost(hub: HubProcess) -> float:
    text = httpx.get(f"{hub.base_url}/metrics", timeout=5).text
    found = re.search(r"^cityhub_mqtt_sessions_lost_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_a_broker_that_forgot_the_session_is_subscribed_again_and_reported(
    tmp_path: Path,
) -> None:
    registry = write_registry(tmp_path / "registry.json", METERS)
    broker = Mosquitto(tmp_path / "broker").start()
    hub = HubProcess(
        tmp_path,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
    ).start()
    try:
        publisher = Publisher(broker.port, "crash-publisher-1")
        publisher.publish_all([reading(i) for i in range(200)])
        publisher.close()
        wait_until(lambda: count(hub) == 200, message="first 200 not stored")
        assert sessions_lost(hub) == 0

        assert broker.process is not None
        broker.process.send_signal(signal.SIGKILL)  # a crash: nothing saved since
        broker.process.wait()
        for saved in (tmp_path / "broker" / "data").glob("mosquitto.db*"):
            saved.unlink()  # as if it crashed before its first save
        time.sleep(1.0)
        broker.start()  # same port: the hub reconnects to a broker without its session

        wait_until(lambda: sessions_lost(hub) == 1, timeout_s=30, message="loss not counted")
        ready = wait_until(
            lambda: (a := httpx.get(f"{hub.base_url}/ready", timeout=5)).status_code == 200 and a,
            timeout_s=30,
        )
        mqtt = ready.json()["checks"]["mqtt"]
        assert mqtt["sessions_lost"] == 1 and mqtt["last_session_lost"]["away_s"] > 0
        assert "lost this hub's session" in hub.log()
        publisher = Publisher(broker.port, "crash-publisher-2")  # subscribed again: delivered
        publisher.publish_all([reading(i) for i in range(200, 400)])
        publisher.close()
        wait_until(lambda: count(hub) == 400, timeout_s=30, message="not subscribed again")
    finally:
        hub.stop()
        broker.stop()


def test_a_new_session_is_saved_at_once_so_a_crash_right_after_forgets_nothing(
    tmp_path: Path,
) -> None:
    registry = write_registry(tmp_path / "registry.json", METERS)
    # An hour between saves: only the hub's request can have saved its session before the crash.
    broker = Mosquitto(tmp_path / "broker", extra=["autosave_interval 3600"]).start()
    hub = HubProcess(
        tmp_path,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
        CITYHUB_MQTT__BROKER_PID_FILE=str(broker.pid_file),
    ).start()
    saved = tmp_path / "broker" / "data" / "mosquitto.db"
    try:
        wait_until(
            lambda: saved.exists() and b"cityhub" in saved.read_bytes(),
            timeout_s=10,
            message="the broker did not save the hub's new session",
        )
        assert "asked the broker" in hub.log()
        assert broker.process is not None
        broker.process.send_signal(signal.SIGKILL)
        broker.process.wait()
        broker.start()
        # Published before the hub is back: queued for its saved session, not dropped.
        publisher = Publisher(broker.port, "after-crash-publisher")
        publisher.publish_all([reading(i) for i in range(300)])
        publisher.close()
        wait_until(lambda: count(hub) == 300, timeout_s=30, message="messages lost")
        assert sessions_lost(hub) == 0
    finally:
        hub.stop()
        broker.stop()


def test_the_hub_consumes_again_within_seconds_of_the_brokers_return(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.json", METERS)
    broker = Mosquitto(tmp_path / "broker").start()
    hub = HubProcess(
        tmp_path,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
    ).start()
    try:
        broker.stop()
        time.sleep(12)  # long enough for the old backoff (1, 2, 4, 8 s...) to reach 8-16 s
        broker.start()
        back = time.monotonic()
        publisher = Publisher(broker.port, "return-publisher")
        publisher.publish_all([reading(i) for i in range(100)])
        publisher.close()
        # The timeout is the requirement: the backoff cap is 2 s (x1.25 jitter), the old
        # default was 30 s. The measured figure for a 40 s outage is in chaos/results.
        wait_until(lambda: count(hub) == 100, timeout_s=8, message="not consuming within 8 s")
        print(f"consuming again {time.monotonic() - back:.1f} s after the broker returned")
    finally:
        hub.stop()
        broker.stop()
