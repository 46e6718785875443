"""The parts every chaos experiment uses: a broker to crash, hubs to kill, a numbered publisher.

Written apart from the test suite's fixtures on purpose: the experiments must not share a bug
with the tests they double-check. Every message carries its number ``i`` as the reading's
value (meter ``i % meters``, its own instant), so a count and a sum read back through the API
tell how many were stored and whether any was stored twice or lost.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hub.broker import BROKER_CONFIG, Mosquitto, NatsServer, free_port

__all__ = [
    "Broker",
    "Hub",
    "NumberedPublisher",
    "Result",
    "log",
    "stored",
    "wait_for",
]

READ_KEY = "chaos-read-key-0123456789"
ADMIN_KEY = "chaos-admin-key-0123456789"
HOUR_NS = 3_600_000_000_000
# The compose stack's broker (NATS, MQTT on JetStream files) and its accounts' passwords
NATS_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "nats" / "nats.conf"
NATS_PASSWORDS = {"MQTT_HUB_PASSWORD": "chaos-hub-pw", "MQTT_SIMULATOR_PASSWORD": "chaos-sim-pw"}


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wait_for(predicate: Any, timeout_s: float, interval_s: float = 0.1) -> Any:
    """The predicate's first truthy value, or ``None`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = predicate()
        except (httpx.HTTPError, OSError, ValueError, KeyError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval_s)


@dataclass
class Result:
    """One experiment's outcome: what was sent, stored, lost and doubled, and how long the
    system took to recover. ``ok`` is the experiment's own verdict (0 lost, 0 doubled...)."""

    name: str
    fault: str
    sent: int = 0
    stored: int = 0
    lost: int = 0
    doubled: int = 0
    recovery_s: float | None = None
    ok: bool = False
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def settle(self, sent: int, count: int, total: float, expected_sum: float) -> None:
        """Fill sent/stored/lost/doubled from the count and sum read back."""
        self.sent, self.stored = sent, count
        self.lost = max(0, sent - count)
        self.doubled = max(0, count - sent)
        self.details["sum_exact"] = total == expected_sum
        self.ok = self.lost == 0 and self.doubled == 0 and total == expected_sum


class Broker:
    """A private broker that can be crashed: Mosquitto (the shipped configuration, or a
    variant), or with ``nats`` the compose stack's NATS Server (``deploy/nats/nats.conf``,
    MQTT 3.1.1 with its accounts: the hub and the publisher log in as the stack's)."""

    def __init__(
        self, workdir: Path, config_lines: dict[str, str] | None = None, *, nats: bool = False
    ) -> None:
        self.server: Mosquitto | NatsServer
        # what the results say it ran: the file, or the options replaced in the shipped one
        self.config: str | dict[str, str] = config_lines or "deploy/mosquitto/mosquitto.conf"
        self.hub_env: dict[str, str] = {}
        self.publisher_options: dict[str, Any] = {}
        # How long a message a hub received and never acknowledged (it was killed) may take
        # to come back: Mosquitto sends it again at the reconnect, NATS after its ack_wait.
        self.redelivery_s = 0.0
        if nats:
            self.server = NatsServer(workdir, NATS_CONFIG, NATS_PASSWORDS)
            self.config = "deploy/nats/nats.conf"
            ack_wait = re.search(r"^\s*ack_wait: (\d+)s$", NATS_CONFIG.read_text(), re.M)
            assert ack_wait, f"no ack_wait in {NATS_CONFIG}"
            self.redelivery_s = float(ack_wait[1])
            self.hub_env = {
                "CITYHUB_MQTT__PROTOCOL": "3.1.1",
                "CITYHUB_MQTT__USERNAME": "hub",
                "CITYHUB_MQTT__PASSWORD": NATS_PASSWORDS["MQTT_HUB_PASSWORD"],
            }
            self.publisher_options = {
                "protocol": MQTTProtocolVersion.MQTTv311,
                "login": ("simulator", NATS_PASSWORDS["MQTT_SIMULATOR_PASSWORD"]),
            }
        else:
            self.server = Mosquitto(workdir, base_config=self._variant(workdir, config_lines))
        self.port = self.server.port
        self.started_at = 0.0

    @staticmethod
    def _variant(workdir: Path, config_lines: dict[str, str] | None) -> Any:
        """The shipped Mosquitto file, or a copy with some options replaced or added."""
        if not config_lines:
            return BROKER_CONFIG
        shipped = BROKER_CONFIG.read_text()
        lines = []
        for line in shipped.splitlines():
            key = line.split(" ", 1)[0]
            lines.append(key + " " + config_lines[key] if key in config_lines else line)
        lines += [f"{k} {v}" for k, v in config_lines.items() if k not in shipped]
        workdir.mkdir(parents=True, exist_ok=True)
        variant = workdir / "variant.conf"
        variant.write_text("\n".join(lines) + "\n")
        return variant

    def start(self) -> Broker:
        self.server.start()
        self.started_at = time.monotonic()
        return self

    @property
    def pid(self) -> int:
        assert self.server.process is not None
        return self.server.process.pid

    def kill(self) -> None:
        """SIGKILL: what an OOM kill or a node failure does."""
        process = self.server.process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.server.process = None

    def pause(self) -> None:
        """SIGSTOP: the port stays open, nothing answers (a network partition)."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.server.process is not None:
            os.kill(self.server.process.pid, signal.SIGCONT)
        self.server.stop()


class Hub:
    """``cityhub run`` as a subprocess on a broker, with its own data folder and API port."""

    def __init__(self, workdir: Path, broker_port: int, name: str = "hub", **env: str) -> None:
        self.name = name
        self.port = free_port()
        self.data_dir = workdir / f"{name}-data"
        self.log_path = workdir / f"{name}.log"
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CITYHUB_DATA_DIR": str(self.data_dir),
            "CITYHUB_MQTT__PORT": str(broker_port),
            "CITYHUB_API__PORT": str(self.port),
            "CITYHUB_API__READ_KEYS": json.dumps([READ_KEY]),
            "CITYHUB_API__ADMIN_KEYS": json.dumps([ADMIN_KEY]),
            "CITYHUB_INGEST__ADAPTERS": '["senml"]',
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.argv = [sys.executable, "-m", "hub.cli", "run"]  # a wrapper may be put before

    def start(self, wait_s: float = 60.0) -> float:
        """Start and wait until ready; the seconds it took (``inf`` if it never was)."""
        started = time.monotonic()
        for _attempt in range(3):  # another program may take the free port we picked
            with self.log_path.open("ab") as out:
                self.process = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=out)
            try:
                self.process.wait(1.0)
            except subprocess.TimeoutExpired:
                break
            if "is not free" not in self.log_path.read_text(errors="replace")[-2000:]:
                break
            self.port = free_port()
            self.base_url = f"http://127.0.0.1:{self.port}"
            self.env["CITYHUB_API__PORT"] = str(self.port)
        return self.wait_ready(wait_s, started)

    def wait_ready(self, wait_s: float, since: float | None = None) -> float:
        since = since or time.monotonic()
        ready = wait_for(lambda: self.ready() == 200, wait_s, 0.05)
        return time.monotonic() - since if ready else float("inf")

    def ready(self) -> int:
        return httpx.get(f"{self.base_url}/ready", timeout=2).status_code

    def pipeline_error(self) -> str | None:
        """The ingest error ``/ready`` reports, if any."""
        answer = httpx.get(f"{self.base_url}/ready", timeout=2)
        error = answer.json()["checks"]["pipeline"].get("error")
        return str(error) if error else None

    def health(self) -> httpx.Response:
        return httpx.get(f"{self.base_url}/health", timeout=2)

    def metric(self, name: str) -> float:
        text = httpx.get(f"{self.base_url}/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                if key == name or key.startswith(name + "{"):
                    total += float(value)
        return total

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def rss(self) -> int:
        """Resident bytes of the hub and its children (its MQTT client process)."""
        if self.process is None:
            return 0
        total, todo = 0, [self.process.pid]
        while todo:
            pid = todo.pop()
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
        return total


class NumberedPublisher:
    """A device fleet as one QoS 1 publisher: message ``i`` is meter ``i % meters``'s reading
    ``i`` at its own instant. It reconnects by itself, and what the broker never acknowledged
    is published again (a device retries), so every message ends up acknowledged once the
    broker is back: a message then missing from the store was lost by the system under test.
    ``no_subscribers`` counts PUBACKs with reason 16: accepted, then dropped by the broker."""

    def __init__(
        self,
        port: int,
        t0_ns: int,
        meters: int = 50,
        client_id: str = "",
        *,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.t0_ns = t0_ns
        self.meters = meters
        self.infos: dict[int, mqtt.MQTTMessageInfo] = {}
        self.no_subscribers = 0
        # No lock shared with paho's callbacks: paho holds its own while calling on_publish,
        # and a publish() waiting for it under ours would deadlock.
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"chaos-publisher-{time.time_ns()}",
            protocol=protocol,
        )
        if login is not None:
            self.client.username_pw_set(*login)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_publish = self._on_publish
        connected = threading.Event()
        self.client.on_connect = lambda *_: connected.set()
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()
        connected.wait(30)

    def _on_publish(self, _c: Any, _u: Any, _mid: int, reason: Any, _p: Any) -> None:
        if int(getattr(reason, "value", 0)) == 16:  # accepted, no matching subscriber: dropped
            self.no_subscribers += 1

    @property
    def acked(self) -> set[int]:
        return {i for i, info in list(self.infos.items()) if _published(info)}

    def message(self, i: int) -> tuple[str, str]:
        at_s = (self.t0_ns + (i // self.meters) * 1_000_000_000) / 1e9
        return f"senml/m-{i % self.meters}", json.dumps(
            [{"bt": at_s, "n": "power", "u": "W", "v": float(i)}]
        )

    def publish(self, numbers: Iterable[int]) -> None:
        for i in numbers:
            topic, payload = self.message(i)
            self.infos[i] = self.client.publish(topic, payload, qos=1)

    def stream(self, count: int, rate: float, stop: threading.Event | None = None) -> None:
        """``count`` messages at ``rate`` per second (in slices of 10 ms)."""
        started = time.monotonic()
        for i in range(count):
            if stop is not None and stop.is_set():
                return
            self.publish([i])
            ahead = i / rate - (time.monotonic() - started)
            if ahead > 0.01:
                time.sleep(ahead)

    def settle(self, count: int, timeout_s: float = 180.0) -> int:
        """Publish again what was not acknowledged until all ``count`` are; returns how many
        are acknowledged in the end. A round waits until acknowledgements stop coming (paho
        also resends its in-flight messages after a reconnect) before publishing again."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            last, since = -1, time.monotonic()
            while time.monotonic() < deadline:
                acked = len(self.acked)
                if acked >= count:
                    return acked
                if acked != last:
                    last, since = acked, time.monotonic()
                elif time.monotonic() - since > 3.0:
                    break
                time.sleep(0.2)
            done = self.acked
            self.publish(i for i in range(count) if i not in done)
        return len(self.acked)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _published(info: mqtt.MQTTMessageInfo) -> bool:
    """Acknowledged by the broker; a message published while disconnected (paho queues it
    and says so) counts once its PUBACK arrived, else it is published again."""
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        return bool(getattr(info, "_published", False))


def stored(hubs: Iterable[Hub], t0_ns: int) -> tuple[int, float]:
    """(count, sum) of the readings in the experiment's hour, over one or several hubs."""
    count, total = 0, 0.0
    params = {"measurement": "building_energy", "field": "power_w"}
    for hub in hubs:
        with httpx.Client(base_url=hub.base_url, headers={"X-API-Key": READ_KEY}, timeout=30) as c:
            for fn in ("count", "sum"):
                answer = c.get(
                    "/api/v1/aggregate",
                    params={**params, "fn": fn, "start": _iso(t0_ns), "end": _iso(t0_ns + HOUR_NS)},
                )
                answer.raise_for_status()
                series = answer.json()["series"]
                value = series[0]["points"][0]["value"] if series else 0
                if fn == "count":
                    count += int(value)
                else:
                    total += float(value)
    return count, total


def settled_count(hubs: list[Hub], t0_ns: int, expected: int, quiet_s: float = 3.0,
                  timeout_s: float = 180.0) -> tuple[int, float]:  # fmt: skip
    """Read back once the count reached ``expected`` or stopped moving for ``quiet_s``."""
    deadline = time.monotonic() + timeout_s
    last, since = (-1, 0.0), time.monotonic()
    while time.monotonic() < deadline:
        try:
            now = stored(hubs, t0_ns)
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        if now[0] >= expected:
            time.sleep(1.0)  # a late duplicate would show now
            return stored(hubs, t0_ns)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > quiet_s:
            return now
        time.sleep(0.25)
    return last


def registry(path: Path, meters: int) -> Path:
    devices = {f"m-{n}": {"building": f"b-{n % 7}", "district": "north"} for n in range(meters)}
    path.write_text(json.dumps({"devices": devices}))
    return path


def hour_start(seed: int) -> int:
    """The experiment's hour: recent (within the hub's future limit) and distinct per seed."""
    rng = random.Random(seed)
    return (time.time_ns() // HOUR_NS - 2 - rng.randrange(0, 20)) * HOUR_NS


def _iso(time_ns: int) -> str:
    from hub.insights.context import format_time

    return format_time(time_ns)
