"""Real servers for the store tests: one influxd and one VictoriaMetrics per session.

A missing binary skips the tests on a developer's machine, but fails them when ``CI`` is set:
a conformance suite that silently skipped its server would prove nothing.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub.stores.duckdb import DuckDBStore
from hub.stores.influxdb import InfluxDBStore
from tests.servers_influx import (
    RunningServer,
    ServerMissing,
    influx_query,
    start_influxd,
    start_victoria_metrics,
    stop_server,
)

_databases = itertools.count(1)


def _start_or_skip(start: Callable[[], RunningServer]) -> RunningServer:
    try:
        return start()
    except ServerMissing as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: a server the store tests need is missing in CI")
        pytest.skip(str(missing))


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("influxd")
    server = _start_or_skip(lambda: start_influxd(directory, "cityhub"))
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("victoria-metrics")
    server = _start_or_skip(lambda: start_victoria_metrics(directory))
    yield server
    stop_server(server)


def fresh_database(server: RunningServer) -> str:
    """A new, empty database on ``server`` (cheaper than a new server per test)."""
    name = f"test_{next(_databases)}"
    influx_query(server.url, f'CREATE DATABASE "{name}"')
    return name


@pytest.fixture
def influx_store(influxd: RunningServer) -> Iterator[InfluxDBStore]:
    store = InfluxDBStore(influxd.url, fresh_database(influxd), api="v1")
    yield store
    store.close()


@pytest.fixture(
    params=["duckdb", pytest.param("influxdb", marks=pytest.mark.influxdb)],
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DuckDBStore | InfluxDBStore]:
    """Each conformance test runs once per store, on an empty one."""
    if request.param == "duckdb":
        duck = DuckDBStore(tmp_path / "conformance.duckdb")
        yield duck
        duck.close()
    else:
        yield request.getfixturevalue("influx_store")
