"""Real servers for the store tests: one influxd and one VictoriaMetrics per session.

A missing binary skips the tests on a developer's machine, but fails them when ``CI`` is set:
a conformance suite that silently skipped its server would prove nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.stores.duckdb import DuckDBStore
from hub.stores.influxdb import InfluxDBStore
from tests.conftest import _start_or_skip, fresh_database
from tests.servers_influx import RunningServer, start_victoria_metrics, stop_server

__all__ = ["fresh_database"]


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("victoria-metrics")
    server = _start_or_skip(lambda: start_victoria_metrics(directory))
    yield server
    stop_server(server)


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
