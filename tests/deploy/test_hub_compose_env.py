"""The hub run with exactly the compose file's environment, against local stand-ins for the
compose services, fed by the compose file's own simulator commands.

What is mapped, and why (everything else is passed through untouched, and the test fails if
the compose file grows a host, port or path it does not know how to map):

* service host names become ``127.0.0.1`` and service ports the local servers' ports:
  ``broker:1883`` → a private NATS Server running deploy/nats/nats.conf with the same .env
  passwords (the shipped stack), or for the stack on Mosquitto (docker-compose.mosquitto.yml,
  hubs on a shared subscription) a private Mosquitto running deploy/mosquitto/mosquitto.conf
  with the deploy ACL and the password file deploy/mosquitto/entrypoint.sh writes; either way
  the hub logs in as ``hub`` and the simulators as ``simulator``, through the permissions;
  ``http://influxdb:8086`` → a real VictoriaMetrics. InfluxDB 2.x is not installable here;
  VictoriaMetrics serves ``/api/v2/write``, the path ``influxdb-client`` takes with the
  compose settings (``INFLUX_API=v2``, org, bucket, ``Authorization: Token``, which it
  accepts and ignores), and ``/ping``, which the hub's readiness asks. It does not serve
  InfluxQL, so this test checks the stored series through VictoriaMetrics' own export API;
  the InfluxQL side is covered by test_dashboard_queries.py against a real influxd.
* container paths (``/data``, ``/registry/devices.json``) become folders of ``tmp_path``;
* the API binds ``127.0.0.1`` on a free port instead of ``0.0.0.0:8080``.

The registry the hub reads is the one the compose ``registry`` one-shot writes (its command
run here), and the traffic is the compose ``sim-backfill`` command with a shorter backfill.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.broker import Mosquitto, NatsServer, free_port
from hub.devices import DeviceRegistry
from simulators.transit.motion import SERVICE_END_S, SERVICE_START_S
from tests.conftest import HubProcess
from tests.deploy.stack import (
    COMPOSE_FILES,
    DOCKERFILE,
    command_options,
    compose_config,
    service_environment,
    url_host_port,
)
from tests.servers_influx import RunningServer, ServerMissing, start_victoria_metrics, stop_server

pytestmark = pytest.mark.victoriametrics

FAMILIES = ("building_energy_", "charger_", "bus_position_")


@pytest.fixture(scope="module")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    try:
        server = start_victoria_metrics(tmp_path_factory.mktemp("victoria-metrics"))
    except ServerMissing as missing:
        pytest.skip(str(missing))
    yield server
    stop_server(server)


def local_command(command: list[str], broker: Mosquitto | NatsServer, tmp_path: Path) -> list[str]:
    """A compose ``cityhub sim`` command pointed at the local broker and folders."""
    options = command_options(command)
    mapped = []
    for flag, value in options.items():
        if flag == "--host":
            assert value == "broker"
            value = "127.0.0.1"
        elif flag == "--port":
            value = str(broker.port)
        elif flag in ("--registry", "--backfill-marker"):
            value = str(tmp_path / value.lstrip("/"))
        assert not value.startswith("/") or value.startswith(str(tmp_path)), (
            f"{flag} {value}: a container path this test does not map"
        )
        mapped += [flag, value] if value else [flag]
    return [command[0], *mapped]


def run_simulator(
    command: list[str], env: dict[str, str], timeout_s: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def local_hub_env(
    environment: dict[str, str],
    broker: Mosquitto | NatsServer,
    store: RunningServer,
    tmp_path: Path,
) -> dict[str, str]:
    mapped = dict(environment)
    assert mapped.pop("CITYHUB_MQTT__HOST") == "broker"
    mapped["CITYHUB_MQTT__HOST"] = "127.0.0.1"
    mapped["CITYHUB_MQTT__PORT"] = str(broker.port)
    assert url_host_port(mapped["CITYHUB_STORE__INFLUX_URL"]) == ("influxdb", 8086)
    mapped["CITYHUB_STORE__INFLUX_URL"] = store.url
    assert mapped["CITYHUB_API__HOST"] == "0.0.0.0"
    mapped["CITYHUB_API__HOST"] = "127.0.0.1"
    mapped["CITYHUB_API__PORT"] = str(free_port())
    for name in ("CITYHUB_DATA_DIR", "CITYHUB_INGEST__REGISTRY_FILE"):
        mapped[name] = str(tmp_path / mapped[name].lstrip("/"))
    for name, value in mapped.items():  # nothing container-specific is left
        assert value != "broker" and "influxdb:" not in value, (name, value)
        assert not value.startswith("/") or value.startswith(str(tmp_path)), (name, value)
    # The stand-in for InfluxDB 2.x takes writes but answers no InfluxQL, which maintaining
    # rollups reads (their InfluxDB path is tested on a real influxd in tests/stores).
    mapped["CITYHUB_ROLLUPS__ENABLED"] = "false"
    return mapped


def series_names(store: RunningServer) -> set[str]:
    urllib.request.urlopen(f"{store.url}/internal/force_flush", timeout=5).close()
    with urllib.request.urlopen(f"{store.url}/api/v1/label/__name__/values", timeout=5) as reply:
        return set(json.loads(reply.read())["data"])


def run_health_checks(config: dict[str, Any], port: int) -> None:
    """The compose hub health check and the Dockerfile HEALTHCHECK, run as written."""
    compose_check = config["services"]["hub"]["healthcheck"]["test"]
    assert compose_check[0] == "CMD"
    argv = [sys.executable if arg == "python" else arg for arg in compose_check[1:]]
    argv = [arg.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for arg in argv]
    assert subprocess.run(argv, timeout=10, check=False).returncode == 0
    dockerfile_check = json.loads(DOCKERFILE.read_text().split("CMD ", 2)[1].split("\n")[0])
    assert dockerfile_check[0] == "python"
    env = {**os.environ, "CITYHUB_API__PORT": str(port)}
    done = subprocess.run([sys.executable, *dockerfile_check[1:]], env=env, timeout=10, check=False)
    assert done.returncode == 0
    env["CITYHUB_API__PORT"] = str(free_port())  # nothing there: the check must fail
    done = subprocess.run(
        [sys.executable, *dockerfile_check[1:]], env=env, timeout=10, check=False,
        capture_output=True,
    )  # fmt: skip
    assert done.returncode != 0


def backfill_reaching_bus_service(now_s: float) -> str:
    """A backfill of 20 minutes, longer at night so that it reaches the buses' service hours.

    The simulated buses run from SERVICE_START_S to SERVICE_END_S (the compose city is on UTC);
    a 20-minute backfill at 01:00 would publish no bus position at all.
    """
    day_s = int(now_s) % 86_400
    if SERVICE_START_S + 20 * 60 <= day_s <= SERVICE_END_S:
        return "20m"
    since_service_end_s = (day_s - SERVICE_END_S) % 86_400
    return f"{since_service_end_s // 60 + 20}m"


@pytest.mark.parametrize("variant", ["nats", "mosquitto-scaled"])
def test_hub_runs_on_the_compose_environment_and_stores_the_simulated_city(
    variant: str,
    victoria_metrics: RunningServer,
    stack_env: dict[str, str],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    shared_group = "cityhub" if variant == "mosquitto-scaled" else ""
    if variant == "nats":  # the stack as shipped
        config = compose_config(stack_env, tmp_path)
        compose_broker = request.getfixturevalue("nats_broker")
    else:  # on Mosquitto, the hubs on a shared subscription
        env = {**stack_env, "HUB_SHARED_GROUP": shared_group}
        config = compose_config(env, tmp_path, COMPOSE_FILES)
        compose_broker = request.getfixturevalue("compose_broker")
    services = config["services"]
    sim_env = service_environment(config, "registry")
    # 1. The registry one-shot, as compose runs it.
    registry = run_simulator(
        local_command(services["registry"]["command"], compose_broker, tmp_path), sim_env, 60
    )
    assert registry.returncode == 0, registry.stderr
    hub_env = local_hub_env(
        service_environment(config, "hub"), compose_broker, victoria_metrics, tmp_path
    )
    registry_file = Path(hub_env["CITYHUB_INGEST__REGISTRY_FILE"])
    DeviceRegistry.from_file(registry_file)  # a registry the hub accepts
    devices = json.loads(registry_file.read_text())["devices"]
    assert any("building" in tags for tags in devices.values())
    assert any("site" in tags for tags in devices.values())
    # 2. The hub, with the image's entry point and the compose command: `cityhub run`.
    entrypoint = shutil.which("cityhub", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    assert entrypoint, "the cityhub console script is not installed"
    hub = HubProcess(tmp_path, compose_broker.port)
    hub.env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CITYHUB_")},
        **hub_env,
    }
    hub.port = int(hub_env["CITYHUB_API__PORT"])
    hub.base_url = f"http://127.0.0.1:{hub.port}"
    with hub.log_path.open("ab") as log:
        hub.process = subprocess.Popen(
            [entrypoint, *services["hub"]["command"]], env=hub.env, stdout=log, stderr=log
        )
    try:
        hub.wait_ready(30)
        ready = httpx.get(f"{hub.base_url}/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        run_health_checks(config, hub.port)
        subscription = "$share/cityhub/senml/+" if shared_group else "senml/+"
        assert subscription in hub.log(), hub.log()
        # 3. The backfill one-shot's command, with minutes of history instead of a week.
        command = local_command(services["sim-backfill"]["command"], compose_broker, tmp_path)
        command[command.index("--backfill") + 1] = backfill_reaching_bus_service(time.time())
        backfill = run_simulator(command, service_environment(config, "sim-backfill"), 60)
        assert backfill.returncode == 0, backfill.stderr
        published = re.search(r"published (\d+) backfill", backfill.stderr)
        assert published and int(published[1]) > 100, backfill.stderr
        # 4. Every family arrives in the store, through the ACL, the hub and the v2 write API.
        deadline = time.monotonic() + 20
        while True:
            names = series_names(victoria_metrics)
            missing = [f for f in FAMILIES if not any(n.startswith(f) for n in names)]
            if not missing:
                break
            assert time.monotonic() < deadline, f"not stored: {missing}\n{hub.log()}"
            time.sleep(0.2)
        metrics = httpx.get(f"{hub.base_url}/metrics", timeout=5).text
        assert "cityhub_" in metrics
        answer = httpx.get(
            f"{hub.base_url}/api/v1/catalog",
            headers={"X-API-Key": stack_env["HUB_READ_KEY"]},
            timeout=10,
        )
        assert answer.status_code != 401, "the compose read key is refused"
        wrong = httpx.get(f"{hub.base_url}/api/v1/catalog", headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401
    finally:
        hub.stop()
    assert urllib.parse.urlsplit(hub_env["CITYHUB_STORE__INFLUX_URL"]).port == int(
        victoria_metrics.url.rsplit(":", 1)[1]
    )
