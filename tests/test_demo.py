"""`cityhub demo`, the README's first command, as a new user runs it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hub.broker import free_port
from tests.conftest import wait_until


def test_demo_serves_hourly_energy_and_all_three_families_within_30_s(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "demo.out"
    with out.open("wb") as sink:
        demo = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "demo", "--data-dir", str(tmp_path / "demo"),
             "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if not k.startswith("CITYHUB_")},
        )  # fmt: skip
    started = time.monotonic()
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        key = wait_until(
            lambda: re.search(r"API key\s+(\S+)", out.read_text(errors="replace")),
            timeout_s=20,
            message="the demo printed no API key",
        ).group(1)
        client.headers["X-API-Key"] = key
        assert f"http://127.0.0.1:{port}/docs" in out.read_text()
        # The dashboard link signs in with the key in the fragment (never sent to the server).
        assert f"http://127.0.0.1:{port}/#key={key}" in out.read_text()
        gateway = re.search(r"OCPP gateway\s+ws://127.0.0.1:(\d+)/ocpp/", out.read_text())
        assert gateway, "the demo printed no OCPP gateway URL"

        def hourly_energy() -> list[dict]:
            try:
                response = client.get(
                    "/api/v1/aggregate",
                    params={
                        "measurement": "building_energy",
                        "field": "energy_import_wh",
                        "fn": "increase",
                        "every": "1h",
                        "start": "-24h",
                        "group_by": "building",
                    },
                )
            except httpx.TransportError:
                return []
            return response.json()["series"] if response.status_code == 200 else []

        # The promise: hourly energy for simulated buildings within 30 s of the start.
        series = wait_until(hourly_energy, timeout_s=30 - (time.monotonic() - started))
        assert series[0]["tags"]["building"].startswith("b-")
        assert all(point["value"] >= 0 for s in series for point in s["points"])
        # Then the backfilled day completes: 20 buildings, about 24 hours each.
        wait_until(
            lambda: len(s := hourly_energy()) == 20 and min(len(x["points"]) for x in s) >= 22,
            timeout_s=120,
            message="the backfilled day did not arrive",
        )

        catalog = client.get("/api/v1/catalog").json()
        names = {m["name"] for m in catalog["measurements"]}
        assert {"building_energy", "charger_meter", "charger_status", "bus_position"} <= names
        for measurement, tag in (
            ("building_energy", "building"),
            ("charger_status", "connector"),
            ("bus_position", "route"),
        ):
            rows = client.get("/api/v1/latest", params={"measurement": measurement}).json()["rows"]
            assert rows and all(tag in row["tags"] for row in rows), measurement
        assert client.get("/api/v1/dead-letters/counts").json()["total"] == 0
        # The demo's hub may signal its own broker: its new session was saved at once.
        assert "asked the broker (pid file" in out.read_text(errors="replace")
    finally:
        client.close()
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
            raise AssertionError(f"the demo ignored Ctrl-C:\n{out.read_text()[-3000:]}") from None
