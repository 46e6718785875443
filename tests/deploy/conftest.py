"""Fixtures of the deployment tests: the interpolated compose configs (the stack on NATS, and
on Mosquitto with docker-compose.mosquitto.yml), and the Mosquitto variant's broker (deploy
config, deploy ACL, password file from deploy/mosquitto/entrypoint.sh) run privately."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.broker import Mosquitto, NatsServer
from hub.errors import ConfigError
from tests.deploy.stack import (
    COMPOSE_FILES,
    NATS_CONF,
    compose_config,
    filled_env,
    write_broker_auth,
)


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    """The values a user would put in .env (every secret filled in, each one distinct)."""
    return filled_env()


@pytest.fixture(scope="session")
def config(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``docker-compose config`` of docker-compose.yml with ``stack_env``."""
    return compose_config(stack_env, tmp_path_factory.mktemp("compose"))


@pytest.fixture(scope="session")
def mosquitto_config(
    stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The stack on Mosquitto: docker-compose.yml with docker-compose.mosquitto.yml."""
    return compose_config(stack_env, tmp_path_factory.mktemp("compose"), COMPOSE_FILES)


@pytest.fixture
def auth_dir(stack_env: dict[str, str], tmp_path: Path) -> Path:
    """passwd, acl and healthcheck.password, written by the broker container's entrypoint."""
    directory = tmp_path / "auth"
    result = write_broker_auth(stack_env, directory)
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture
def compose_broker(auth_dir: Path, tmp_path: Path) -> Iterator[Mosquitto]:
    """Mosquitto with deploy/mosquitto/mosquitto.conf (no-loss settings), the deploy ACL and
    the entrypoint's password file: the compose broker, on a private loopback port."""
    try:
        broker = Mosquitto(tmp_path / "broker", auth=auth_dir / "passwd", acl_file=auth_dir / "acl")
    except ConfigError as missing:
        pytest.skip(str(missing))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def passwords(stack_env: dict[str, str]) -> dict[str, str]:
    """The environment docker-compose.yml gives the broker: the accounts' passwords."""
    return {k: stack_env[k] for k in ("MQTT_HUB_PASSWORD", "MQTT_SIMULATOR_PASSWORD")}


@pytest.fixture
def nats_broker(passwords: dict[str, str], tmp_path: Path) -> Iterator[NatsServer]:
    """NATS Server with deploy/nats/nats.conf and the stack's passwords: the compose broker,
    on private loopback ports."""
    try:
        broker = NatsServer(tmp_path / "nats", NATS_CONF, passwords)
    except ConfigError as missing:
        pytest.skip(f"{missing} (bash deploy/install-deps.sh test installs it)")
    broker.start()
    yield broker
    broker.stop()
