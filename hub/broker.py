"""A private MQTT broker for the demo and the tests.

:class:`Mosquitto` runs the Mosquitto binary on a free loopback port with the project's broker
configuration (the no-loss queue and in-flight settings), keeping its persistence, log and pid
in a folder of ours. It is anonymous by default (the demo and most tests); with ``auth`` it
enforces the deployment's ACL and a password file instead, as the compose stack's broker does.

The configuration and ACL ship inside the package (``hub/broker_config/``, read with
:mod:`importlib.resources`), so an installed wheel finds them from any directory; the compose
stack mounts its copies in ``deploy/mosquitto/``, and a test keeps the two identical.

:class:`EmbeddedBroker` is amqtt inside this process, the demo's fallback when no Mosquitto
binary exists: it speaks MQTT 3.1.1 only, has no shared subscriptions and is about 5x slower,
so it is never used for tests.

:class:`NatsServer` runs ``nats-server`` with the compose stack's broker configuration
(``deploy/nats/nats.conf``: MQTT 3.1.1 on JetStream files, which keep every acknowledged
message across a broker crash) on free loopback ports, for the tests and the chaos suite.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from hub.errors import ConfigError
from hub.stopping import die_with_parent

__all__ = [
    "BROKER_ACL",
    "BROKER_CONFIG",
    "EmbeddedBroker",
    "Mosquitto",
    "NatsServer",
    "free_port",
    "wait_for_port",
]

BROKER_CONFIG: Traversable = files("hub").joinpath("broker_config", "mosquitto.conf")
BROKER_ACL: Traversable = files("hub").joinpath("broker_config", "acl")
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


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (a broker saves and closes its sessions), SIGKILL after 10 s."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Mosquitto:
    """A Mosquitto process with the project's configuration on ``127.0.0.1:<port>``.

    ``auth`` switches anonymous access off: either users and their passwords (a password file
    is written with ``mosquitto_passwd -b``) or an existing password file (for example the one
    ``deploy/mosquitto/entrypoint.sh`` writes); ``acl_file`` then restricts what each user may
    publish and read (default: the deployment's ``deploy/mosquitto/acl``).
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        base_config: Path | Traversable = BROKER_CONFIG,
        extra: list[str] | None = None,
        auth: Mapping[str, str] | Path | None = None,
        acl_file: Path | Traversable = BROKER_ACL,
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
        self.auth = auth
        self.acl_file = acl_file
        self.process: subprocess.Popen[bytes] | None = None

    def _auth_lines(self) -> list[str]:
        """Password file and ACL as copies in the work folder (the broker may read them after
        dropping root, and a private instance must not depend on the repository's modes)."""
        if self.auth is None:
            return []
        passwords = self.workdir / "passwd"
        if isinstance(self.auth, Path):
            shutil.copyfile(self.auth, passwords)
        else:
            tool = shutil.which("mosquitto_passwd")
            if tool is None:
                raise ConfigError("mosquitto", "no mosquitto_passwd on PATH for auth")
            passwords.write_text("")
            for user, password in self.auth.items():
                subprocess.run([tool, "-b", str(passwords), user, password], check=True)
        acl = self.workdir / "acl"
        acl.write_text(self.acl_file.read_text())
        for path in (passwords, acl):
            path.chmod(0o600)
        return ["allow_anonymous false", f"password_file {passwords}", f"acl_file {acl}"]

    @property
    def pid_file(self) -> Path:
        """Where the broker writes its pid: the hub signals it to save a new session at once
        (``CITYHUB_MQTT__BROKER_PID_FILE``)."""
        return self.workdir / "mosquitto.pid"

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
            f"pid_file {self.pid_file}",
            *self._auth_lines(),
            *self.extra,
        ]
        if not any(line.startswith(("allow_anonymous", "password_file")) for line in ours):
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
        command = [self.binary, "-c", str(config)]
        if threading.current_thread() is threading.main_thread():
            # The broker dies with us even when we are SIGKILLed (PR_SET_PDEATHSIG follows the
            # starting thread, hence main thread only); its own session keeps a terminal's
            # Ctrl-C for us, so it outlives the hub's last acknowledgements.
            command = die_with_parent(command)
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, timeout_s)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        _terminate(self.process)
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


class NatsServer:
    """``nats-server`` with a deployment's configuration file, its addresses and JetStream
    folder replaced by private ones: the MQTT listener on ``127.0.0.1:<port>``, the NATS and
    monitoring ports free loopback ports, the store in ``workdir``. It is started the way the
    compose stack starts it: through ``entrypoint.sh`` beside the configuration, which writes
    ``passwords`` (the environment compose passes from ``.env``) into the ``auth.conf`` the
    configuration includes."""

    # What a private instance replaces: (a line of the shipped file, the line written instead)
    _ADDRESSES = (
        (re.compile(r"^(\s*)listen: 127\.0\.0\.1:4222$", re.M), "listen: 127.0.0.1:{client}"),
        (re.compile(r"^(\s*)http: 0\.0\.0\.0:8222$", re.M), "http: 127.0.0.1:{http}"),
        (re.compile(r"^(\s*)listen: 0\.0\.0\.0:1883$", re.M), "listen: 127.0.0.1:{mqtt}"),
        (re.compile(r"^(\s*)store_dir: /data$", re.M), 'store_dir: "{store}"'),
    )

    def __init__(
        self, workdir: Path, config: Path, passwords: Mapping[str, str], port: int | None = None
    ) -> None:
        self.binary = shutil.which("nats-server") or (
            "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
        )
        if self.binary is None:
            raise ConfigError("nats-server", "no nats-server binary on PATH or in /usr/sbin")
        self.workdir = workdir
        self.config = config
        self.passwords = dict(passwords)
        self._port_known = port is not None  # given, or started once: it stays
        self.port = port or free_port()
        self.http_port = free_port()
        self.client_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "nats-server.log"

    def write_config(self) -> Path:
        text = self.config.read_text()
        values = {
            "client": self.client_port,
            "http": self.http_port,
            "mqtt": self.port,
            "store": self.workdir / "jetstream",
        }
        for pattern, line in self._ADDRESSES:
            written = line.format(**values).replace("\\", "\\\\")  # a template: \ doubled
            text, found = pattern.subn(r"\g<1>" + written, text)
            if found != 1:
                raise ConfigError("nats-server", f"{self.config}: no line {pattern.pattern!r}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "nats.conf"
        path.write_text(text)
        return path

    def start(self, timeout_s: float = 15.0) -> NatsServer:
        """Start, and wait until the MQTT listener answers. A port another program took
        between our pick and the server's bind is picked again (twice at most); the MQTT
        port only before its first start (clients know it from then on)."""
        for attempt in range(3):
            try:
                self._start(timeout_s)
            except ConfigError as refused:
                if "address already in use" not in str(refused) or attempt == 2:
                    raise
                self.http_port, self.client_port = free_port(), free_port()
                if not self._port_known:
                    self.port = free_port()
            else:
                self._port_known = True
                return self
        raise AssertionError("unreachable")

    def _start(self, timeout_s: float) -> None:
        assert self.binary is not None
        config = self.write_config()
        entrypoint = self.config.with_name("entrypoint.sh")
        command = ["sh", str(entrypoint), self.binary, "-c", str(config), "-l", str(self.log_path)]
        if threading.current_thread() is threading.main_thread():
            command = die_with_parent(command)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the entrypoint's complaints, then the server's
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=log,
                start_new_session=True,
                env={
                    **os.environ,
                    **self.passwords,
                    "NATS_AUTH_FILE": str(config.parent / "auth.conf"),
                },
            )
        # The MQTT listener opens once JetStream has read its store back.
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                wait_for_port(self.port, 0.2)
                return
            except TimeoutError:
                code = self.process.poll()
                if code is not None:  # the entrypoint or the server refused to start
                    self.process = None
                    said = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
                    raise ConfigError("nats-server", f"exited {code}: {' | '.join(said)}") from None
                if time.monotonic() > deadline:
                    self.stop()
                    raise

    def stop(self) -> None:
        _terminate(self.process)
        self.process = None
