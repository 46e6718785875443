"""The v2 write path (``influxdb-client``, ``/api/v2/write``) into a real VictoriaMetrics.

VictoriaMetrics names a series ``<measurement>_<field>``, keeps tags as labels and answers
``/api/v1/export`` with millisecond timestamps; it has no InfluxQL, so reads go through its own
API here. It skips a line it cannot parse and still answers 204, so it cannot show refusals.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from hub.points import Point
from hub.stores.influxdb import InfluxDBStore
from tests.servers_influx import RunningServer

pytestmark = pytest.mark.victoriametrics

T0_MS = 1_699_999_200_000
MS = 1_000_000


@pytest.fixture
def v2_store(victoria_metrics: RunningServer) -> Iterator[InfluxDBStore]:
    store = InfluxDBStore(victoria_metrics.url, "cityhub", api="v2", token="unused", org="city")
    yield store
    store.close()


def export(server: RunningServer, match: str, expected_series: int) -> list[dict]:
    """The exported series matching ``match``, once VictoriaMetrics made them searchable."""
    query = urllib.parse.urlencode({"match[]": match})
    deadline = time.monotonic() + 10
    while True:
        # make the freshly written samples searchable now instead of within seconds
        urllib.request.urlopen(f"{server.url}/internal/force_flush", timeout=5).close()
        with urllib.request.urlopen(f"{server.url}/api/v1/export?{query}", timeout=5) as response:
            series = [json.loads(line) for line in response.read().splitlines() if line.strip()]
        if len(series) >= expected_series or time.monotonic() > deadline:
            return sorted(series, key=lambda item: json.dumps(item["metric"], sort_keys=True))
        time.sleep(0.1)


def test_v2_writes_arrive_with_escaped_tags_and_float_values(
    v2_store: InfluxDBStore, victoria_metrics: RunningServer
) -> None:
    special = "m 3,x=\"q'"
    points = [
        Point(
            "v2energy", {"device": special, "building": "b 2"}, {"power_w": 5.5}, (T0_MS + 1) * MS
        ),
        Point("v2energy", {"device": "m1"}, {"power_w": 2, "energy_wh": 1e6}, T0_MS * MS),  # type: ignore[dict-item]
        Point("v2energy", {"device": "m1"}, {"power_w": 3.0}, (T0_MS + 1000) * MS),
    ]
    assert v2_store.write(points) == []
    assert v2_store.write(points[1:]) == []  # a redelivery stays one sample per timestamp
    v2_store.ping()
    assert export(victoria_metrics, '{__name__=~"v2energy_.*"}', 3) == [
        {
            "metric": {"__name__": "v2energy_energy_wh", "device": "m1"},
            "values": [1e6],
            "timestamps": [T0_MS],
        },
        {
            "metric": {"__name__": "v2energy_power_w", "building": "b 2", "device": special},
            "values": [5.5],
            "timestamps": [T0_MS + 1],
        },
        {
            "metric": {"__name__": "v2energy_power_w", "device": "m1"},
            "values": [2, 3],
            "timestamps": [T0_MS, T0_MS + 1000],
        },
    ]
