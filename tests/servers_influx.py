"""The local InfluxDB and VictoriaMetrics launchers, for the tests (they live in
:mod:`hub.servers`, which the benchmark uses too)."""

from hub.servers import (
    RunningServer,
    ServerMissing,
    free_port,
    influx_query,
    restart_influxd,
    start_influxd,
    start_victoria_metrics,
    stop_server,
)

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
