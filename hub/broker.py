"""A private MQTT broker for the demo and the tests.

:class:`Mosquitto` runs the Mosquitto binary on a free loopback port with the project's broker
configuration (``deploy/mosquitto/mosquitto.conf``: the no-loss queue and in-flight settings),
keeping its persistence, log and pid in a folder of ours. :class:`EmbeddedBroker` is amqtt
inside this process, the demo's fallback when no Mosquitto binary exists: it speaks MQTT 3.1.1
only, has no shared subscriptions and is about 5x slower, so it is never used for tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from hub.errors import ConfigError

__all__ = ["BROKER_CONFIG", "EmbeddedBroker", "Mosquitto", "free_port", "wait_for_port"]

BROKER_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "mosquitto.conf"
_REPLACED = ("listener", "persistence_location", "log_dest", "pid_file", "allow_anonymous",
             "password_file", "acl_file")  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout_s} s"
                ) from None
            time.sleep(0.05)


class Mosquitto:
    """A Mosquitto process with the project's configuration on ``127.0.0.1:<port>``."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        base_config: Path = BROKER_CONFIG,
        extra: list[str] | None = None,
    ) -> None:
        self.binary = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if self.binary is None:
            raise ConfigError("mosquitto", "no mosquitto binary on PATH or in /usr/sbin")
        self.workdir = workdir
        self.port = port or free_port()
        self.extra = extra or []
        self.base_config = base_config
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        kept = [
            line
            for line in self.base_config.read_text().splitlines()
            if not line.strip().startswith(_REPLACED)
        ]
        ours = [
            f"listener {self.port} 127.0.0.1",
            f"persistence_location {data}/",
            f"log_dest file {self.workdir / 'mosquitto.log'}",
            *self.extra,
        ]
        if not any(line.startswith(("allow_anonymous", "password_file")) for line in self.extra):
            ours.append("allow_anonymous true")
        config = self.workdir / "mosquitto.conf"
        config.write_text("\n".join([*kept, "", "# private instance", *ours, ""]))
        if os.geteuid() == 0:
            # As root, Mosquitto switches to its own user, which cannot reach a folder below a
            # private (0700) parent such as pytest's tmp_path: it would then run without its
            # log and, worse, without persistence. A private loopback instance may stay root.
            config.write_text(config.read_text() + "user root\n")
        return config

    def start(self, timeout_s: float = 10.0) -> Mosquitto:
        assert self.binary is not None
        config = self.write_config()
        self.process = subprocess.Popen(
            [self.binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_port(self.port, timeout_s)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class EmbeddedBroker:
    """amqtt in a background thread of this process (MQTT 3.1.1 only)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._broker: Any = None

    def start(self) -> EmbeddedBroker:
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }

        async def start() -> None:
            self._broker = Broker(config)
            await self._broker.start()

        self._thread.start()
        asyncio.run_coroutine_threadsafe(start(), self._loop).result(15)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self._broker is not None:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
