"""The compose stack as the tests see it: its files, its environment, its interpolated config.

``docker-compose config`` (the Debian docker-compose 1.29, no engine needed) validates the
file and interpolates ``.env`` values; the tests read its output, so they check what
``docker compose up`` would run, not the raw template.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DEPLOY = REPO / "deploy"
MOSQUITTO_CONF = DEPLOY / "mosquitto" / "mosquitto.conf"
ACL_FILE = DEPLOY / "mosquitto" / "acl"
ENTRYPOINT = DEPLOY / "mosquitto" / "entrypoint.sh"
NATS_CONF = DEPLOY / "nats" / "nats.conf"
NATS_ENTRYPOINT = DEPLOY / "nats" / "entrypoint.sh"
# The stack on Mosquitto (several hub replicas on a shared subscription): an override file.
MOSQUITTO_OVERRIDE = REPO / "docker-compose.mosquitto.yml"
COMPOSE_FILES = (COMPOSE_FILE, MOSQUITTO_OVERRIDE)
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "city.json"
DATASOURCE = DEPLOY / "grafana" / "provisioning" / "datasources" / "influxdb.yml"
DASHBOARD_PROVIDER = DEPLOY / "grafana" / "provisioning" / "dashboards" / "cityhub.yml"

_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def require_binary(name: str) -> str:
    """The binary's path; skipped without it (a failure in CI, see tests/conftest.py)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (bash deploy/install-deps.sh installs it)")
    return path


def env_example() -> dict[str, str]:
    """The variables of .env.example with their example values ("" for required secrets)."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = _ASSIGNMENT.match(line)
        if match:
            values[match[1]] = match[2]
    return values


def required_variables(*files: Path) -> set[str]:
    """Variables the compose files (default: both) interpolate with ``${VAR:?message}``."""
    text = "".join(path.read_text() for path in files or COMPOSE_FILES)
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):\?", text))


def referenced_variables() -> set[str]:
    text = "".join(path.read_text() for path in COMPOSE_FILES)
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))


def filled_env(**overrides: str) -> dict[str, str]:
    """.env.example with every required (secret) value filled in, each one different, so a
    test notices a secret wired to the wrong place."""
    values = env_example()
    for name in required_variables():
        values[name] = f"{name.lower().replace('_', '-')}-{secrets.token_hex(8)}"
    values.update(overrides)
    return values


def run_config(
    env: dict[str, str], workdir: Path, files: tuple[Path, ...] = (COMPOSE_FILE,)
) -> subprocess.CompletedProcess[str]:
    """``docker-compose --env-file <env> -f docker-compose.yml [-f ...] config`` with no other
    environment: a developer's own .env or shell variables cannot make it pass."""
    binary = require_binary("docker-compose")
    env_file = workdir / "test.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in env.items()))
    given = [argument for path in files for argument in ("-f", str(path))]
    return subprocess.run(
        [binary, "--env-file", str(env_file), *given, "config"],
        cwd=REPO,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def compose_config(
    env: dict[str, str], workdir: Path, files: tuple[Path, ...] = (COMPOSE_FILE,)
) -> dict[str, Any]:
    result = run_config(env, workdir, files)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def service_environment(config: dict[str, Any], service: str) -> dict[str, str]:
    environment = config["services"][service].get("environment") or {}
    if isinstance(environment, list):  # KEY=VALUE form
        environment = dict(item.split("=", 1) for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def command_options(command: list[str]) -> dict[str, str]:
    """``--flag value`` pairs of a ``cityhub sim`` command (a lone flag maps to "")."""
    options: dict[str, str] = {}
    index = 1  # command[0] is "sim"
    while index < len(command):
        flag = command[index]
        assert flag.startswith("--"), f"unexpected argument {flag!r} in {command}"
        if index + 1 < len(command) and not command[index + 1].startswith("--"):
            options[flag] = command[index + 1]
            index += 2
        else:
            options[flag] = ""
            index += 1
    return options


def url_host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port, f"{url!r} names no host and port"
    return parts.hostname, parts.port


def mounts(config: dict[str, Any], service: str) -> dict[str, tuple[str, str, bool]]:
    """Container path → (type, source, read_only) of the service's volumes."""
    found = {}
    for volume in config["services"][service].get("volumes", []):
        if isinstance(volume, dict):
            found[volume["target"]] = (
                volume["type"],
                str(volume.get("source", "")),
                bool(volume.get("read_only")),
            )
            continue
        source, target, *mode = volume.split(":")
        kind = "bind" if source.startswith(("/", ".")) else "volume"
        found[target] = (kind, source, bool(mode) and "ro" in mode[0].split(","))
    return found


def published_targets(config: dict[str, Any], service: str) -> set[int]:
    targets = set()
    for port in config["services"][service].get("ports", []):
        if isinstance(port, dict):
            targets.add(int(port["target"]))
        else:
            targets.add(int(str(port).split(":")[-1].split("/")[0]))
    return targets


def acl_sections() -> dict[str, dict[str, set[str]]]:
    """user → access ("read", "write", "readwrite", "deny") → topics, from deploy/mosquitto/acl."""
    sections: dict[str, dict[str, set[str]]] = {}
    user = ""  # the anonymous section
    for raw in ACL_FILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split(maxsplit=2)
        if words[0] == "user":
            user = words[1]
            sections.setdefault(user, {})
        elif words[0] == "topic":
            access, topic = (words[1], words[2]) if len(words) == 3 else ("readwrite", words[1])
            sections.setdefault(user, {}).setdefault(access, set()).add(topic)
        else:
            raise AssertionError(f"unexpected ACL line {raw!r}")
    return sections


def broker_listener_port() -> int:
    for line in MOSQUITTO_CONF.read_text().splitlines():
        if line.startswith("listener "):
            return int(line.split()[1])
    raise AssertionError("no listener in deploy/mosquitto/mosquitto.conf")


def broker_setting(name: str) -> str:
    for line in MOSQUITTO_CONF.read_text().splitlines():
        if line.startswith(name + " "):
            return line.split(maxsplit=1)[1]
    raise AssertionError(f"no {name} in deploy/mosquitto/mosquitto.conf")


def write_broker_auth(env: dict[str, str], auth_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run deploy/mosquitto/entrypoint.sh as the container does, without a command to exec:
    it writes passwd, acl and healthcheck.password into ``auth_dir``."""
    require_binary("mosquitto_passwd")
    return subprocess.run(
        ["sh", str(ENTRYPOINT)],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "MOSQUITTO_AUTH_DIR": str(auth_dir),
            "MOSQUITTO_ACL_SOURCE": str(ACL_FILE),
            **{key: value for key, value in env.items() if key.startswith("MQTT_")},
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
