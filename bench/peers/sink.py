"""The peers' common sink: a private VictoriaMetrics that takes InfluxDB line protocol.

Two ways to count what arrived, for two purposes:

- ``rows_inserted()`` reads VictoriaMetrics' own counter of line-protocol rows (one per field
  value) from ``/metrics``: the clock's end signal, cheap enough to poll at 10 Hz, but
  refreshed only about once a second (measured: a write shows up on the next tick), which
  :func:`bench.peers.stage.finish_time` allows for;
- ``count_samples()`` asks the storage itself (``count_over_time`` over every sample of one
  metric): the proof that the points are stored and readable, taken once at the end.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from pathlib import Path

from hub.servers import RunningServer, start_victoria_metrics, stop_server

__all__ = ["Sink"]

_ROWS = re.compile(r'^vm_rows_inserted_total\{type="influx"\} (\d+)$', re.MULTILINE)


class Sink:
    """VictoriaMetrics storing in ``directory``, on a free loopback port."""

    def __init__(self, directory: Path) -> None:
        self.server: RunningServer = start_victoria_metrics(directory)
        self.url = self.server.url

    @property
    def pid(self) -> int:
        return self.server.process.pid

    def rows_inserted(self) -> int:
        """Line-protocol rows (field values) accepted since the server started."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:
            found = _ROWS.search(response.read().decode())
        return int(found.group(1)) if found else 0

    def count_samples(self, metric: str, exclude_device: str, window: str = "400d") -> int:
        """Stored samples of ``metric`` (``<measurement>_<field>``) over ``window`` back from
        now, leaving out the series of ``exclude_device`` (the readiness probes)."""
        query = f'sum(count_over_time({metric}{{device!="{exclude_device}"}}[{window}]))'
        body = urllib.parse.urlencode({"query": query}).encode()
        with urllib.request.urlopen(self.url + "/api/v1/query", data=body, timeout=30) as answer:
            result = json.loads(answer.read())["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0

    def stop(self) -> None:
        stop_server(self.server)
