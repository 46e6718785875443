"""docker-compose.yml checked without a Docker engine: it validates, it refuses to start
without its secrets, and its parts agree with each other and with the code they run (hub
settings, simulator flags, broker config, ACL, Grafana provisioning, Dockerfile). The same for
the stack on Mosquitto (with docker-compose.mosquitto.yml), where it differs."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import BaseModel

from hub.broker import BROKER_CONFIG
from hub.contracts import AdapterEnv
from hub.devices import DeviceRegistry
from hub.plugins import load_adapters
from hub.settings import RetentionSettings, Settings, load_settings
from hub.timestamps import TimePolicy
from tests.deploy.stack import (
    ACL_FILE,
    COMPOSE_FILE,
    DASHBOARD,
    DASHBOARD_PROVIDER,
    DATASOURCE,
    DOCKERFILE,
    ENTRYPOINT,
    MOSQUITTO_CONF,
    MOSQUITTO_OVERRIDE,
    NATS_CONF,
    REPO,
    acl_sections,
    broker_listener_port,
    broker_setting,
    command_options,
    env_example,
    mounts,
    published_targets,
    referenced_variables,
    required_variables,
    run_config,
    service_environment,
    url_host_port,
)

SERVICES = {
    "broker", "influxdb", "registry", "hub", "sim-backfill", "simulators", "grafana",
    "prometheus", "broker-exporter",
}  # fmt: skip
SIMULATORS = ("registry", "sim-backfill", "simulators")
VARIANTS = ("nats", "mosquitto")


@pytest.fixture(params=VARIANTS)
def variant(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """("nats", the stack as shipped) and ("mosquitto", with docker-compose.mosquitto.yml)."""
    name = "config" if request.param == "nats" else "mosquitto_config"
    return request.param, request.getfixturevalue(name)


def nats_setting(name: str) -> str:
    """The value of the first ``name:`` line of deploy/nats/nats.conf."""
    found = re.search(rf"^\s*{name}: (\S+)", NATS_CONF.read_text(), re.M)
    assert found, f"no {name} in {NATS_CONF}"
    return found[1]


def mqtt_listener_port(kind: str) -> int:
    if kind == "mosquitto":
        return broker_listener_port()
    mqtt_block = NATS_CONF.read_text().split("\nmqtt {", 1)[1]
    found = re.search(r"listen: [\d.]+:(\d+)", mqtt_block)
    assert found, "no MQTT listener in deploy/nats/nats.conf"
    return int(found[1])


def hub_services(config: dict[str, Any]) -> list[str]:
    return [
        name for name, service in config["services"].items() if service.get("command") == ["run"]
    ]


def test_compose_config_validates_with_the_documented_variables(variant) -> None:
    _kind, config = variant
    assert set(config["services"]) == SERVICES
    assert hub_services(config) == ["hub"]
    hub = config["services"]["hub"]
    assert hub["image"] == "cityhub:local"
    assert hub["build"]["context"] == str(REPO)


def test_every_required_variable_fails_loudly_when_missing(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    required = required_variables(COMPOSE_FILE)
    # The secrets, and nothing that has a sensible default.
    assert required == {
        "MQTT_HUB_PASSWORD",
        "MQTT_SIMULATOR_PASSWORD",
        "INFLUXDB_ADMIN_PASSWORD",
        "INFLUXDB_TOKEN",
        "HUB_READ_KEY",
        "HUB_ADMIN_KEY",
        "GRAFANA_ADMIN_PASSWORD",
    }
    # Mosquitto's exporter logs in to the broker: one more secret for that variant only.
    assert required_variables(MOSQUITTO_OVERRIDE) == {"MQTT_EXPORTER_PASSWORD"}
    both = (COMPOSE_FILE, MOSQUITTO_OVERRIDE)
    attempts = [
        ({k: v for k, v in stack_env.items() if k != name}, name, files)
        for files in ((COMPOSE_FILE,), both)
        for name in required_variables(*files)
    ]
    attempts.append(({**stack_env, "INFLUXDB_TOKEN": ""}, "INFLUXDB_TOKEN", (COMPOSE_FILE,)))
    for env, name, files in attempts:
        result = run_config(env, tmp_path, files)
        assert result.returncode != 0, f"compose starts without {name}"
        assert f"set {name} in .env" in result.stderr, result.stderr
    # The shipped stack does not need the Mosquitto variant's secret.
    unset = {k: v for k, v in stack_env.items() if k != "MQTT_EXPORTER_PASSWORD"}
    assert run_config(unset, tmp_path).returncode == 0


def test_env_example_documents_every_variable_and_commits_no_secret() -> None:
    example = env_example()
    assert set(example) == referenced_variables(), "every ${VAR} in .env.example, and only those"
    for name in required_variables():
        assert example[name] == "", f"{name} must be empty in .env.example (a secret)"
    lines = Path(REPO / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^[A-Z_]+=", line) and lines[index - 1].startswith("#") is False:
            # A variable sharing the comment of the one above it is fine; an undocumented
            # block is not: walk up to the nearest comment.
            above = [text for text in lines[:index] if not re.match(r"^[A-Z_]+=", text)]
            assert above and above[-1].startswith("#"), f"{line} is not documented"


def _is_setting(name: str) -> bool:
    model: type[BaseModel] = Settings
    parts = name.removeprefix("CITYHUB_").lower().split("__")
    for index, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if index < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def test_hub_environment_holds_only_real_settings_that_load(
    variant, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, config = variant
    environment = service_environment(config, "hub")
    names = [name for name in environment if name.startswith("CITYHUB_")]
    assert names == list(environment), "the hub is configured by CITYHUB_* variables only"
    unknown = [name for name in names if not _is_setting(name)]
    assert unknown == [], f"not hub settings: {unknown}"
    assert not _is_setting("CITYHUB_MQTT__NO_SUCH_THING")  # the check can fail
    for name in [name for name in __import__("os").environ if name.startswith("CITYHUB_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()  # the values parse as well: a ConfigError would name the variable
    assert settings.mode == "production"
    assert settings.store.backend == "influxdb" and settings.store.influx_api == "v2"
    assert settings.api.read_keys and settings.api.admin_keys
    assert settings.mqtt.shared_group is None  # one hub, one durable session by default
    # NATS speaks MQTT 3.1.1 only; Mosquitto's shared subscriptions need MQTT v5.
    assert settings.mqtt.protocol == ("3.1.1" if kind == "nats" else "5")


def test_simulator_services_use_real_flags_and_variables(config: dict[str, Any]) -> None:
    """(The Mosquitto variant runs the same simulators: MQTT 3.1.1 suits both brokers.)"""
    from simulators import cli

    source = Path(cli.__file__).read_text()
    for name in SIMULATORS:
        service = config["services"][name]
        command = service["command"]
        assert command[0] == "sim"
        cli.parser().parse_args(command[1:])  # argparse exits on an unknown flag or bad value
        for variable in service_environment(config, name):
            assert variable in source, f"{name}: {variable} is not read by cityhub sim"
        assert service["healthcheck"] == {"test": ["NONE"]}  # compose's form of disable: true
    assert "--backfill-only" in config["services"]["sim-backfill"]["command"]
    assert "--backfill-only" not in config["services"]["simulators"]["command"]


def test_hosts_ports_and_credentials_line_up(variant, stack_env: dict[str, str]) -> None:
    kind, config = variant
    services = config["services"]
    hub = service_environment(config, "hub")
    listener = mqtt_listener_port(kind)
    assert hub["CITYHUB_MQTT__HOST"] == "broker"
    assert int(hub["CITYHUB_MQTT__PORT"]) == listener
    assert published_targets(config, "broker") == {listener}
    assert hub["CITYHUB_MQTT__PASSWORD"] == stack_env["MQTT_HUB_PASSWORD"]
    assert (
        service_environment(config, "broker")["MQTT_HUB_PASSWORD"] == hub["CITYHUB_MQTT__PASSWORD"]
    )
    for name in SIMULATORS:
        options = command_options(services[name]["command"])
        assert (options["--host"], int(options["--port"])) == ("broker", listener)
        assert options["--mqtt-version"] == "3.1.1"  # what NATS speaks, and Mosquitto too
        assert options["--username"] == "simulator"
        assert (
            service_environment(config, name)["CITYHUB_SIM_PASSWORD"]
            == stack_env["MQTT_SIMULATOR_PASSWORD"]
            == service_environment(config, "broker")["MQTT_SIMULATOR_PASSWORD"]
        )
    # The hub and Grafana reach InfluxDB where its service listens, on the bucket it creates.
    influx = service_environment(config, "influxdb")
    assert url_host_port(hub["CITYHUB_STORE__INFLUX_URL"]) == ("influxdb", 8086)
    assert published_targets(config, "influxdb") == {8086}
    assert hub["CITYHUB_STORE__INFLUX_TOKEN"] == influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert hub["CITYHUB_STORE__INFLUX_ORG"] == influx["DOCKER_INFLUXDB_INIT_ORG"]
    assert hub["CITYHUB_STORE__INFLUX_BUCKET"] == influx["DOCKER_INFLUXDB_INIT_BUCKET"]
    grafana = service_environment(config, "grafana")
    assert grafana["INFLUXDB_TOKEN"] == influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert grafana["INFLUXDB_BUCKET"] == influx["DOCKER_INFLUXDB_INIT_BUCKET"]
    source = yaml.safe_load(DATASOURCE.read_text())["datasources"][0]
    assert url_host_port(source["url"]) == ("influxdb", 8086)
    assert source["jsonData"]["dbName"] == source["database"] == "$INFLUXDB_BUCKET"
    assert source["jsonData"]["httpHeaderName1"] == "Authorization"
    assert source["secureJsonData"]["httpHeaderValue1"] == "Token $INFLUXDB_TOKEN"
    # The API: published, health-checked and bound where the container listens.
    api_port = int(hub["CITYHUB_API__PORT"])
    assert hub["CITYHUB_API__HOST"] == "0.0.0.0"
    assert published_targets(config, "hub") == {api_port}
    assert f"127.0.0.1:{api_port}/ready" in " ".join(services["hub"]["healthcheck"]["test"])
    assert published_targets(config, "grafana") == {3000}
    # Published ports listen on loopback unless .env says otherwise.
    for name, service in services.items():
        for port in service.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond loopback"


def test_volumes_exist_and_are_mounted_where_they_are_used(variant) -> None:
    broker_kind, config = variant
    services = config["services"]
    declared = set(config.get("volumes") or {})
    used = set()
    for name in services:
        for target, (kind, source, _) in mounts(config, name).items():
            if kind == "bind":
                assert Path(source).exists(), f"{name}: {source} (for {target}) does not exist"
                assert Path(source).resolve().is_relative_to(REPO), source
            else:
                assert source in declared, f"{name}: volume {source!r} is not declared"
                used.add(source)
    assert used == declared, f"declared but unused volumes: {declared - used}"
    broker = mounts(config, "broker")
    if broker_kind == "nats":  # the file nats-server is started with, its store in a named volume
        command = services["broker"]["command"]
        assert broker[command[command.index("-c") + 1]][1] == str(NATS_CONF)
        assert broker[nats_setting("store_dir")][0] == "volume"
    else:
        _mosquitto_files_where_expected(services, broker)
    _registry_and_grafana_mounts(config)


def _mosquitto_files_where_expected(services: dict[str, Any], broker: dict[str, Any]) -> None:
    """Config, ACL and entrypoint where entrypoint.sh and mosquitto.conf expect them."""
    assert broker["/mosquitto/config/mosquitto.conf"][1] == str(
        REPO / "deploy/mosquitto/mosquitto.conf"
    )
    assert broker["/mosquitto/config/acl"][1] == str(ACL_FILE)
    script = ENTRYPOINT.read_text()
    assert "${MOSQUITTO_ACL_SOURCE:-/mosquitto/config/acl}" in script
    assert "${MOSQUITTO_AUTH_DIR:-/mosquitto/auth}" in script
    assert broker_setting("password_file") == "/mosquitto/auth/passwd"
    assert broker_setting("acl_file") == "/mosquitto/auth/acl"
    assert broker_setting("allow_anonymous") == "false"
    assert broker_setting("persistence") == "true"
    assert broker_setting("persistence_location").rstrip("/") in broker
    entrypoint_target = services["broker"]["entrypoint"][-1]
    assert broker[entrypoint_target][1] == str(ENTRYPOINT)


def _registry_and_grafana_mounts(config: dict[str, Any]) -> None:
    services = config["services"]
    # The registry: written by the one-shot, read by the hub, in a shared volume.
    registry_file = Path(service_environment(config, "hub")["CITYHUB_INGEST__REGISTRY_FILE"])
    written = Path(command_options(services["registry"]["command"])["--registry"])
    assert written == registry_file
    hub_mounts, registry_mounts = mounts(config, "hub"), mounts(config, "registry")
    assert str(registry_file.parent) in hub_mounts and str(registry_file.parent) in registry_mounts
    assert hub_mounts[str(registry_file.parent)][1] == registry_mounts[str(registry_file.parent)][1]
    # Grafana: provisioning and the dashboards folder its provider reads.
    grafana = mounts(config, "grafana")
    provider = yaml.safe_load(DASHBOARD_PROVIDER.read_text())["providers"][0]
    dashboards = grafana[provider["options"]["path"]]
    assert dashboards[1] == str(DASHBOARD.parent) and dashboards[2]
    home = service_environment(config, "grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"
    assert grafana["/etc/grafana/provisioning"][1] == str(DATASOURCE.parents[1])


def test_start_order_and_health_checks(variant) -> None:
    _kind, config = variant
    services = config["services"]
    for service in services.values():
        for dependency, condition in service.get("depends_on", {}).items():
            target = services[dependency]
            if condition["condition"] == "service_healthy":
                assert target.get("healthcheck", {}).get("test"), f"{dependency} has no check"
            else:
                assert condition["condition"] == "service_completed_successfully"
                assert target.get("restart") == "no", f"{dependency} is not a one-shot"
    order = {name: set(service.get("depends_on", {})) for name, service in services.items()}
    assert order["hub"] == {"broker", "influxdb", "registry"}
    assert order["sim-backfill"] == {"hub"}  # the hub's session exists before history is sent
    assert order["simulators"] == {"sim-backfill"}
    assert order["grafana"] == {"influxdb", "prometheus"}
    assert order["broker-exporter"] == {"broker"}
    for name in ("broker", "influxdb", "hub", "grafana"):
        assert services[name]["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")


def test_acl_grants_exactly_what_the_services_need(mosquitto_config: dict[str, Any]) -> None:
    """The Mosquitto variant's ACL (NATS' permissions: tests/deploy/test_nats_broker.py)."""
    config = mosquitto_config
    env = AdapterEnv(time=TimePolicy(zone=ZoneInfo("UTC")), devices=DeviceRegistry())
    hub = service_environment(config, "hub")
    options = json.loads(hub.get("CITYHUB_INGEST__ADAPTER_OPTIONS", "{}"))
    names = (
        json.loads(hub["CITYHUB_INGEST__ADAPTERS"]) if "CITYHUB_INGEST__ADAPTERS" in hub else None
    )
    filters = {f.value for adapter in load_adapters(names, options, env) for f in adapter.topics}
    assert len(filters) == 6  # all three families: SenML, Tasmota, Shelly, OCPP, GTFS-RT, HFP
    sections = acl_sections()
    assert set(sections) == {"hub", "simulator", "exporter", "healthcheck"}  # no anonymous
    assert sections["simulator"] == {"write": filters}
    assert sections["hub"] == {"read": filters}
    healthcheck = " ".join(config["services"]["broker"]["healthcheck"]["test"])
    topic = re.search(r"-t '([^']+)'", healthcheck)
    assert topic and sections["healthcheck"] == {"read": {topic[1].replace("$$", "$")}}
    # The users the services log in as are the ACL's, and the entrypoint creates exactly them.
    assert hub["CITYHUB_MQTT__USERNAME"] == "hub"
    script_users = set(
        re.findall(r'mosquitto_passwd -b "\$passwords" (\w+) ', ENTRYPOINT.read_text())
    )
    assert script_users == set(sections)


def test_dockerfile_is_small_unprivileged_and_health_checked() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert stages == ["python:3.11-slim", "python:3.11-slim"]
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.MULTILINE):
        for path in source.split():
            assert (REPO / path).exists(), f"COPY {path}: missing"
    assert "--no-cache-dir" in text
    user = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n\s+CMD \[\"python\", \"-c\"", text, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["cityhub"]' in text and 'CMD ["run"]' in text
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["cityhub"] == "hub.cli:main"
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and ".git" in ignored


def test_dashboard_uses_the_provisioned_data_source() -> None:
    uid = yaml.safe_load(DATASOURCE.read_text())["datasources"][0]["uid"]
    dashboard = json.loads(DASHBOARD.read_text())
    sources = {
        json.dumps(panel["datasource"], sort_keys=True)
        for panel in dashboard["panels"]
        if "datasource" in panel
    }
    sources |= {
        json.dumps(target["datasource"], sort_keys=True)
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    }
    sources |= {
        json.dumps(v["datasource"], sort_keys=True) for v in dashboard["templating"]["list"]
    }
    assert sources == {json.dumps({"type": "influxdb", "uid": uid}, sort_keys=True)}
    assert COMPOSE_FILE.exists()


# -- what the stack keeps, what it may use, who watches it -----------------------------------

# A full version, with an image variant such as "-alpine" allowed after it.
PINNED = re.compile(r"^[\w./-]+:v?\d+\.\d+\.\d+(-[a-z][a-z0-9.]*)?(@sha256:[0-9a-f]{64})?$")
# Container paths whose content must outlive the container (and `docker compose down`).
PERSISTENT = {
    "broker": {"/data"},  # NATS' JetStream store (sessions, queued messages)
    "influxdb": {"/var/lib/influxdb2", "/etc/influxdb2"},
    "hub": {"/data", "/registry"},
    "registry": {"/registry"},
    "sim-backfill": {"/registry"},
    "grafana": {"/var/lib/grafana"},
    "prometheus": {"/prometheus"},
}
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
PROMETHEUS_DATASOURCE = DATASOURCE.parent / "prometheus.yml"


def memory_bytes(value: str | int) -> int:
    text = str(value).lower()
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text.rstrip("b"))


def test_every_service_has_a_pinned_image_and_a_memory_limit(variant) -> None:
    _kind, config = variant
    for name, service in config["services"].items():
        image = service["image"]
        if "build" in service:
            assert image == "cityhub:local", name  # built here from the pinned Dockerfile
        else:
            assert PINNED.match(image), f"{name}: image {image!r} is not pinned to a version"
        limit = service.get("mem_limit") or service.get("deploy", {}).get("resources", {}).get(
            "limits", {}
        ).get("memory")
        assert limit, f"{name} has no memory limit"
        assert 32 << 20 <= memory_bytes(limit) <= 4 << 30, f"{name}: {limit}"
    grafana_major = int(config["services"]["grafana"]["image"].split(":")[1].split(".")[0])
    assert grafana_major >= 12  # a current release


def test_every_persistent_path_is_a_named_volume(variant) -> None:
    kind, config = variant
    persistent = (
        {**PERSISTENT, "broker": {"/mosquitto/data"}} if kind == "mosquitto" else PERSISTENT
    )
    for name, paths in persistent.items():
        found = mounts(config, name)
        for path in paths:
            assert path in found, f"{name}: {path} is not mounted (an anonymous volume at best)"
            kind, source, read_only = found[path]
            assert kind == "volume" and source in config["volumes"], f"{name}: {path}"
            assert not read_only or name not in ("hub", "registry")
    hub = service_environment(config, "hub")
    assert hub["CITYHUB_DATA_DIR"] in PERSISTENT["hub"]
    assert Path(hub["CITYHUB_INGEST__REGISTRY_FILE"]).parent == Path("/registry")
    assert "CITYHUB_STORE__SPOOL_NAME" not in hub  # each replica: its container's host name
    # Every VOLUME the hub's image declares is covered by a named volume.
    for declared in re.findall(r"^VOLUME \[?\"?([^\"\]\s]+)", DOCKERFILE.read_text(), re.M):
        assert declared in PERSISTENT["hub"], declared


def test_one_shots_never_overwrite_and_backfill_once(config: dict[str, Any]) -> None:
    services = config["services"]
    registry = command_options(services["registry"]["command"])
    assert "--registry-add-missing" in registry
    backfill = command_options(services["sim-backfill"]["command"])
    marker = Path(backfill["--backfill-marker"])
    assert str(marker.parent) in mounts(config, "sim-backfill")
    assert mounts(config, "sim-backfill")[str(marker.parent)][0] == "volume"


def test_the_broker_queue_is_bounded_below_its_limits(
    config: dict[str, Any], mosquitto_config: dict[str, Any]
) -> None:
    # NATS: messages queued for the hub on disk, up to max_file_store (the alert's bound);
    # in memory only JetStream's small memory store, below the container's limit.
    assert int(nats_setting("max_file_store")) == 8 << 30
    memory_store = nats_setting("max_memory_store")
    assert memory_store.endswith("MB") and int(memory_store[:-2]) << 20 < memory_bytes(
        config["services"]["broker"]["mem_limit"]
    )
    # Mosquitto: everything in memory, bounded per session and in all below its limit.
    queued_bytes = int(broker_setting("max_queued_bytes"))
    assert 0 < queued_bytes <= 1 << 30
    assert int(broker_setting("max_queued_messages")) > 0
    heap = int(broker_setting("memory_limit"))
    limit = mosquitto_config["services"]["broker"]["mem_limit"]
    assert queued_bytes <= heap < memory_bytes(limit)
    session_expiry = service_environment(config, "hub").get("CITYHUB_MQTT__SESSION_EXPIRY_S")
    assert session_expiry is None or int(session_expiry) <= 7 * 86400


def test_the_mosquitto_variant_saves_sessions_as_the_chaos_suite_measured(
    mosquitto_config: dict[str, Any],
) -> None:
    """The Mosquitto variant runs deploy/mosquitto/mosquitto.conf, the file whose crashes the
    chaos suite measures (through hub/broker_config/, its copy): sessions and queues in the
    named volume, saved every second. Mosquitto 2.0's save after every change closes the
    crash window, but measured about 20x slower at 5k msg/s and ~100 msg/s while queueing for
    a hub that is away (README, "Broker durability"), hence NATS for the shipped stack. Nor a
    longer interval (60 s lost 4,040 of 60,000 messages in a crash 20 s after start)."""
    config = mosquitto_config
    command = config["services"]["broker"]["command"]
    broker = mounts(config, "broker")
    assert broker[command[command.index("-c") + 1]][1] == str(MOSQUITTO_CONF)
    assert BROKER_CONFIG.read_text() == MOSQUITTO_CONF.read_text()
    assert broker_setting("persistence") == "true"
    assert broker[broker_setting("persistence_location").rstrip("/")][0] == "volume"
    assert broker_setting("autosave_on_changes") == "false"
    assert int(broker_setting("autosave_interval")) == 1


def test_prometheus_scrapes_the_services_that_exist(variant) -> None:
    kind, config = variant
    services = config["services"]
    prometheus = services["prometheus"]
    config_path = next(
        arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file=")
    )
    assert mounts(config, "prometheus")[config_path][1] == str(PROMETHEUS_CONFIG)
    scrape = yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]
    jobs = {job["job_name"]: job for job in scrape}
    assert set(jobs) == {"hub", "broker", "influxdb"}
    # The hubs: every replica of the service, on the port its API listens on.
    [hub_dns] = jobs["hub"]["dns_sd_configs"]
    assert hub_dns["names"] == ["hub"] and hub_dns["type"] == "A"
    assert hub_dns["port"] == int(service_environment(config, "hub")["CITYHUB_API__PORT"])
    assert jobs["hub"]["metrics_path"] == "/metrics"
    for job in ("broker", "influxdb"):
        for target in jobs[job]["static_configs"][0]["targets"]:
            host, port = target.split(":")
            assert host in services, f"{job}: {host} is not a service"
    influx_host, influx_port = url_host_port(
        service_environment(config, "hub")["CITYHUB_STORE__INFLUX_URL"]
    )
    assert jobs["influxdb"]["static_configs"][0]["targets"] == [f"{influx_host}:{influx_port}"]
    # The exporter listens where the job scrapes, and reads the broker where it answers.
    [exporter_target] = jobs["broker"]["static_configs"][0]["targets"]
    command = services["broker-exporter"]["command"]
    if kind == "nats":
        assert command[command.index("-port") + 1] == exporter_target.split(":")[1]
        monitoring = re.search(r"^http: [\d.]+:(\d+)$", NATS_CONF.read_text(), re.M)
        assert monitoring and command[-1] == f"http://broker:{monitoring[1]}"
        assert "-jsz=all" in command  # streams: the messages held for the hub (broker lag)
    else:
        bind = command[command.index("--bind-address") + 1]
        assert bind.endswith(":" + exporter_target.split(":")[1])
        endpoint = command[command.index("--endpoint") + 1]
        assert endpoint == f"tcp://broker:{broker_listener_port()}"
        exporter = service_environment(config, "broker-exporter")
        assert acl_sections()[exporter["MQTT_USER"]] == {"read": {"$SYS/#"}}
    # Grafana reads this Prometheus.
    [source] = yaml.safe_load(PROMETHEUS_DATASOURCE.read_text())["datasources"]
    host, port = url_host_port(source["url"])
    assert host == "prometheus" and port in published_targets(config, "prometheus")


def test_the_bucket_keeps_what_the_hub_answers_from(config: dict[str, Any]) -> None:
    """On InfluxDB 2.x rollups share the bucket with the raw points (the hub does not manage
    buckets per tier), so the bucket must keep data as long as the rollups are to last, and at
    least as long as the raw points the hub answers from: a shorter bucket would answer a
    question inside the hub's retention from points InfluxDB already deleted."""
    hub = service_environment(config, "hub")
    defaults = RetentionSettings()
    raw_days = int(hub.get("CITYHUB_RETENTION__RAW_DAYS", defaults.raw_days))
    rollup_days = int(hub.get("CITYHUB_RETENTION__ROLLUP_DAYS", defaults.rollup_days))
    kept = service_environment(config, "influxdb")["DOCKER_INFLUXDB_INIT_RETENTION"]
    match = re.fullmatch(r"(\d+)(d|w)?", kept)
    assert match, f"DOCKER_INFLUXDB_INIT_RETENTION={kept!r}: not a duration this test reads"
    bucket_days = int(match[1]) * (7 if match[2] == "w" else 1)  # 0: forever
    if rollup_days == 0:  # rollups kept forever
        assert bucket_days == 0, f"the bucket keeps {kept}: rollups kept forever need forever"
    else:
        assert bucket_days == 0 or bucket_days >= max(raw_days, rollup_days), kept
