"""The three bridges the peer benchmark compares, each as a process started on a broker and a
sink: the hub (``cityhub run``, InfluxDB store with its spool, v2 write API), Node-RED with
the committed flow, and mqtt2influxdb with the committed YAML.

All three subscribe ``senml/+`` at QoS 1 and write one point per pack with four fields;
what each does beyond that (and what it does not) is said in its configuration file.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from bench.peers.flow import FLOW_FILES
from bench.services import HubRunner
from hub.broker import free_port

__all__ = [
    "CONTENDERS",
    "M2I_CONFIG",
    "NODE_RED_MAIN",
    "Contender",
    "Hub",
    "Mqtt2InfluxDB",
    "NodeRed",
    "installed",
]

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
NODE_RED_MAIN = NODE_MODULES / "node-red" / "red.js"
M2I_BINARY = HERE / ".venv" / "bin" / "mqtt2influxdb"
M2I_CONFIG = HERE / "mqtt2influxdb.yaml"
FIELDS_PER_MESSAGE = 4  # power_w, energy_import_wh, voltage_v, frequency_hz: one row each


class Contender(Protocol):
    """A bridge under test: started on a broker and a sink, its process tree is measured."""

    pid: int

    def start(self) -> None: ...
    def check_alive(self) -> None: ...
    def stop(self) -> None: ...
    def log(self) -> str: ...
    def write_errors(self) -> int: ...


def installed() -> str | None:
    """Why the peers cannot run (``bench/peers/install.sh`` has not been run), or None."""
    needed = (NODE_RED_MAIN, NODE_MODULES / "node-red-contrib-influxdb", M2I_BINARY)
    missing = [str(path.relative_to(HERE)) for path in needed if not path.exists()]
    return f"not installed: {', '.join(missing)}" if missing else None


def _count(pattern: re.Pattern[str], log_path: Path) -> int:
    try:
        return len(pattern.findall(log_path.read_text(errors="replace")))
    except OSError:
        return 0


class _Process:
    """A child process with its output in ``workdir/<name>.log``."""

    write_error: re.Pattern[str]  # the log line of one failed write to the sink

    def __init__(self, workdir: Path, name: str) -> None:
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(self, argv: list[str], env: dict[str, str]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, env={**os.environ, **env}, stdout=log, stderr=log, cwd=self.workdir
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"exited {self.process.returncode}:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def write_errors(self) -> int:
        return _count(self.write_error, self.log_path)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class NodeRed(_Process):
    """Node-RED 4, headless (no editor, no admin API), the flow copied into its user folder.

    Its InfluxDB client (influxdb-client-js) retries a failed write 5-10 s later, then with
    doubling delays, for at most 180 s, keeping at most 32,000 lines to retry: past that it
    drops the oldest (its log says "oldest lines removed")."""

    write_error = re.compile(r"Write to InfluxDB failed")

    def __init__(
        self, workdir: Path, broker_port: int, sink_url: str, *, batched: bool = False
    ) -> None:
        super().__init__(workdir, "node-red")
        self.env = {"MQTT_PORT": str(broker_port), "INFLUX_URL": sink_url}
        self.flow_file = FLOW_FILES[batched]

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "flows.json").write_text(self.flow_file.read_text())
        link = self.workdir / "node_modules"  # where Node-RED looks for installed nodes
        if not link.exists():
            link.symlink_to(NODE_MODULES)
        settings = self.workdir / "settings.js"
        settings.write_text(
            "module.exports = {\n"
            f'    uiHost: "127.0.0.1", uiPort: {free_port()},\n'
            '    flowFile: "flows.json", credentialSecret: false,\n'
            "    httpAdminRoot: false, httpNodeRoot: false,\n"
            "    diagnostics: { enabled: false }, telemetry: { enabled: false },\n"
            '    logging: { console: { level: "warn", metrics: false, audit: false } },\n'
            "};\n"
        )
        argv = ["node", str(NODE_RED_MAIN), "--userDir", str(self.workdir)]
        self._spawn([*argv, "--settings", str(settings)], self.env)


class Mqtt2InfluxDB(_Process):
    """mqtt2influxdb from its own venv, with the committed configuration. A failed write is
    logged and the message dropped (no retry)."""

    write_error = re.compile(r"Failed to write to InfluxDB")

    def __init__(self, workdir: Path, broker_port: int, sink_url: str) -> None:
        super().__init__(workdir, "mqtt2influxdb")
        host, _, port = sink_url.rpartition(":")
        self.env = {"MQTT_PORT": str(broker_port), "INFLUX_URL": host, "INFLUX_PORT": port}

    def start(self) -> None:
        self._spawn([str(M2I_BINARY), "-c", str(M2I_CONFIG)], self.env)


class Hub:
    """``cityhub run`` with the InfluxDB store (local spool, v2 write API) on the sink."""

    def __init__(self, workdir: Path, broker_port: int, sink_url: str, registry: Path) -> None:
        self.runner = HubRunner(
            workdir,
            broker_port,
            registry,
            client_id="bench-peers-hub",
            env={
                "CITYHUB_STORE__BACKEND": "influxdb",
                "CITYHUB_STORE__INFLUX_API": "v2",
                "CITYHUB_STORE__INFLUX_URL": sink_url,
                "CITYHUB_STORE__INFLUX_BUCKET": "cityhub",
                "CITYHUB_INGEST__ADAPTERS": '["senml"]',
            },
        )

    @property
    def pid(self) -> int:
        return self.runner.pid

    def start(self) -> None:
        self.runner.start()

    def check_alive(self) -> None:
        self.runner.check_alive()

    def log(self) -> str:
        return self.runner.log()

    def write_errors(self) -> int:
        """Store failures the spool logged (it keeps the batch and forwards it later)."""
        return _count(
            re.compile(r"WARNING hub\.stores\.spool: store: (?!reachable|writing)"),
            self.runner.log_path,
        )

    def stop(self) -> None:
        self.runner.stop()


Factory = Callable[[Path, int, str, Path], Contender]
CONTENDERS: dict[str, tuple[str, Factory]] = {
    "hub": ("City Data Hub (spool → v2 write API)", Hub),
    "node-red": (
        "Node-RED 4 + node-red-contrib-influxdb",
        lambda workdir, port, url, _registry: NodeRed(workdir, port, url),
    ),
    "node-red-batched": (
        "Node-RED 4, batched (join 1,000 points or 100 ms → influxdb batch)",
        lambda workdir, port, url, _registry: NodeRed(workdir, port, url, batched=True),
    ),
    "mqtt2influxdb": (
        "mqtt2influxdb 2.0.6",
        lambda workdir, port, url, _registry: Mqtt2InfluxDB(workdir, port, url),
    ),
}
