"""Start and stop real InfluxDB 1.x (``influxd``) and VictoriaMetrics servers on this
machine: the one home of the local servers the tests, the benchmark and the demo use (beside
:mod:`hub.broker`, which does the same for Mosquitto).

Each server runs from a private temporary directory on free loopback ports, with every
listener it does not need switched off, and is ready when its health endpoint answers.
``start_*`` raise :class:`ServerMissing` when the binary is not installed, so the fixture can
decide between skipping (a developer's laptop) and failing (CI).
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "RunningServer",
    "ServerMissing",
    "free_port",
    "influx_query",
    "restart_influxd",
    "start_influxd",
    "start_victoria_metrics",
    "stop_server",
]

INFLUXD = "influxd"
VICTORIA_METRICS = "victoria-metrics"
_DEBIAN_PACKAGE = {INFLUXD: "influxdb", VICTORIA_METRICS: "victoria-metrics"}
START_TIMEOUT_S = 30.0


class ServerMissing(RuntimeError):
    """The server's binary is not installed on this machine."""


@dataclass
class RunningServer:
    name: str
    process: subprocess.Popen[bytes]
    url: str  # http://127.0.0.1:<port>
    directory: Path
    log_path: Path

    def log_tail(self, characters: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServerMissing(f"{name} is not installed (Debian package {_DEBIAN_PACKAGE[name]})")
    return path


def _influxd_config(directory: Path, http_port: int, rpc_port: int, auth: bool = False) -> str:
    # Every listener except HTTP is off; the RPC (backup/restore) listener cannot be switched
    # off in 1.x, so it gets its own free loopback port instead of the shared default 8088.
    return f"""
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{directory / "meta"}"
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = "{directory / "data"}"
  wal-dir = "{directory / "wal"}"
  wal-fsync-delay = "0s"
  query-log-enabled = false
  index-version = "inmem"

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[retention]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = {"true" if auth else "false"}
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false
"""


def _wait_ready(server: RunningServer, path: str, expect: set[int]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last_error = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(server.url + path, timeout=1) as response:  # noqa: S310
                if response.status in expect:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as error:
            last_error = str(error)
        time.sleep(0.05)
    stop_server(server)
    raise RuntimeError(f"{server.name} not ready after {START_TIMEOUT_S}s ({last_error})")


def _spawn(name: str, argv: list[str], directory: Path, url: str) -> RunningServer:
    log_path = directory / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=directory
        )
    return RunningServer(name, process, url, directory, log_path)


def influx_query(
    url: str, statement: str, database: str | None = None, auth: tuple[str, str] | None = None
) -> bytes:
    """POST one InfluxQL statement to ``/query`` (as the user ``auth``); returns the body."""
    form = {"q": statement}
    if database:
        form["db"] = database
    request = urllib.request.Request(  # noqa: S310
        url + "/query", data=urllib.parse.urlencode(form).encode(), method="POST"
    )
    if auth:  # 1.x reads u= and p= from the URL only; basic auth keeps them out of it
        basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {basic}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return bytes(response.read())


def start_influxd(
    directory: Path, database: str, admin: tuple[str, str] | None = None
) -> RunningServer:
    """A real InfluxDB 1.x in ``directory`` with ``database`` created. With ``admin`` (user,
    password), authentication is on and that admin user is created (1.x lets the first admin
    be created without credentials)."""
    binary = _binary(INFLUXD)
    directory.mkdir(parents=True, exist_ok=True)
    http_port, rpc_port = free_port(), free_port()
    config = directory / "influxdb.conf"
    config.write_text(_influxd_config(directory, http_port, rpc_port, auth=admin is not None))
    server = _spawn(
        "influxd",
        [binary, "run", "-config", str(config)],
        directory,
        f"http://127.0.0.1:{http_port}",
    )
    _wait_ready(server, "/ping", {204})
    if admin:
        user, password = admin
        influx_query(
            server.url, f"CREATE USER \"{user}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES"
        )
    influx_query(server.url, f'CREATE DATABASE "{database}"', auth=admin)
    return server


def start_victoria_metrics(directory: Path) -> RunningServer:
    """A real single-node VictoriaMetrics storing in ``directory``."""
    binary = _binary(VICTORIA_METRICS)
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = _spawn(
        "victoria-metrics",
        [
            binary,
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={directory / 'data'}",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
            "-dedup.minScrapeInterval=1ms",  # same series and timestamp twice is one sample
            "-loggerLevel=ERROR",
        ],
        directory,
        f"http://127.0.0.1:{port}",
    )
    _wait_ready(server, "/health", {200})
    return server


def stop_server(server: RunningServer, timeout_s: float = 10.0) -> None:
    """Terminate, wait, and kill if it would not stop."""
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=timeout_s)


def restart_influxd(server: RunningServer) -> RunningServer:
    """Start a stopped influxd again on the same port with the same data (an outage ends)."""
    config = server.directory / "influxdb.conf"
    restarted = _spawn(
        "influxd", [_binary(INFLUXD), "run", "-config", str(config)], server.directory, server.url
    )
    _wait_ready(restarted, "/ping", {204})
    return restarted
