"""SIGTERM and Ctrl-C (SIGINT) on `cityhub run` and `cityhub demo` in the middle of a stream:
exit code 0 within seconds, no process of theirs left (checked by PID), no traceback, and, for
`run`, every message published before the signal stored exactly once after a restart."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from hub.broker import Mosquitto, free_port
from tests.conftest import HubProcess, Publisher, wait_until, write_registry
from tests.ingest.test_kill import METERS, reading, stored
from tests.setup.procs import assert_gone, descendants

MESSAGES = 8_000
SIGNALS = [signal.SIGTERM, signal.SIGINT]


def stop_with(process: subprocess.Popen[bytes], signum: int) -> int:
    process.send_signal(signum)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"no exit within 30 s of {signal.Signals(signum).name}") from None


@pytest.mark.slow
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_run_stops_cleanly_mid_stream_and_loses_nothing(
    tmp_path: Path, mosquitto: Mosquitto, signum: int
) -> None:
    registry = write_registry(
        tmp_path / "registry.json",
        {f"m-{n}": {"building": f"b-{n % 7}", "district": "north"} for n in range(METERS)},
    )
    env = {
        "CITYHUB_INGEST__REGISTRY_FILE": str(registry),
        "CITYHUB_INGEST__ADAPTERS": '["senml"]',
    }
    hub = HubProcess(tmp_path, mosquitto.port, **env).start()
    assert hub.process is not None
    children = descendants(hub.process.pid)
    assert children, "the hub runs no MQTT client process"  # CITYHUB_MQTT__CLIENT_PROCESS
    messages = [(f"senml/m-{i % METERS}", reading(i)) for i in range(MESSAGES)]
    publisher = Publisher(mosquitto.port)
    sender = threading.Thread(target=publisher.publish_all, args=(messages,))
    sender.start()
    wait_until(lambda: stored(hub)[0] >= 500, timeout_s=60, message="ingest did not start")

    code = stop_with(hub.process, signum)
    log = hub.log()
    assert code == 0, log
    assert "Traceback" not in log, log
    assert "stopped: received messages stored and acknowledged" in log
    assert_gone([hub.process.pid, *children])
    sender.join(120)
    publisher.close()
    assert not sender.is_alive()

    restarted = HubProcess(tmp_path, mosquitto.port, **env).start()
    wait_until(
        lambda: stored(restarted)[0] >= MESSAGES,
        timeout_s=120,
        message=f"not every message arrived: {stored(restarted)}",
    )
    time.sleep(1.0)  # anything redelivered late would show up as an extra count now
    assert stored(restarted) == (MESSAGES, sum(range(MESSAGES)))
    restarted.stop()


def hourly_energy(client: httpx.Client) -> list[dict]:
    try:
        response = client.get(
            "/api/v1/aggregate",
            params={"measurement": "building_energy", "field": "energy_import_wh",
                    "fn": "count", "every": "1h", "start": "-2d", "group_by": "building"},
        )  # fmt: skip
    except httpx.TransportError:
        return []
    return response.json()["series"] if response.status_code == 200 else []


def start_demo(tmp_path: Path, out: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    with out.open("wb") as sink:
        demo = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "demo", "--data-dir", str(tmp_path / "demo"),
             "--port", str(port), "--backfill", "1d"],
            stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if not k.startswith("CITYHUB_")},
        )  # fmt: skip
    try:
        keys = wait_until(
            lambda: re.search(r"API key\s+(\S+)", out.read_text(errors="replace")),
            timeout_s=60,
            message="the demo printed no API key",
        )
    except AssertionError:
        demo.kill()
        demo.wait()
        raise
    return demo, keys.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_demo_stops_cleanly_mid_backfill_and_restarts(tmp_path: Path, signum: int) -> None:
    port, out = free_port(), tmp_path / "demo.out"
    demo, key = start_demo(tmp_path, out, port)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    client.headers["X-API-Key"] = key
    try:
        wait_until(lambda: hourly_energy(client), timeout_s=60, message="no data from the demo")
        children = descendants(demo.pid)
        names = " ".join(" ".join(psutil.Process(p).cmdline()) for p in children)
        assert "mosquitto" in names and "multiprocessing" in names, names
        code = stop_with(demo, signum)
    finally:
        client.close()
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    text = out.read_text(errors="replace")
    assert code == 0, text
    assert "Traceback" not in text, text
    assert "stopped: received messages stored and acknowledged" in text
    assert_gone([demo.pid, *children])

    # Restart on the same folder: the broker's and the hub's sessions resume, the data stays.
    demo, key = start_demo(tmp_path, tmp_path / "restart.out", port)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=10, headers={"X-API-Key": key}
        ) as client:
            wait_until(lambda: hourly_energy(client), timeout_s=60, message="no data after restart")
        assert stop_with(demo, signal.SIGTERM) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["second-ctrl-c", "sigkill"])
def test_demo_forced_stop_leaves_no_child_behind(tmp_path: Path, how: str) -> None:
    """A second Ctrl-C exits at once; SIGKILL, which no handler sees, too: either way the
    broker (PR_SET_PDEATHSIG) and the MQTT client process (its pipe closes) die with it."""
    port, out = free_port(), tmp_path / "demo.out"
    demo, _key = start_demo(tmp_path, out, port)
    try:
        children = descendants(demo.pid)
        assert len(children) >= 2, children
        if how == "sigkill":
            demo.kill()
            assert demo.wait(10) == -signal.SIGKILL
        else:
            demo.send_signal(signal.SIGINT)
            # Two SIGINTs pending at once are one signal (POSIX does not queue them): send the
            # second once the demo has said it is stopping, as a person pressing twice would.
            wait_until(lambda: "send it again" in out.read_text(errors="replace") or None, 30)
            demo.send_signal(signal.SIGINT)
            assert demo.wait(10) == 130, out.read_text(errors="replace")
            assert "Traceback" not in out.read_text(errors="replace")
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert_gone(children)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_sim_stops_cleanly(tmp_path: Path, mosquitto: Mosquitto, signum: int) -> None:
    out = tmp_path / "sim.out"
    with out.open("wb") as sink:
        sim = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "sim", "--port", str(mosquitto.port), "--quiet"],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(lambda: "publishing" in out.read_text(), timeout_s=30, message="no start")
        code = stop_with(sim, signum)
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()
    text = out.read_text()
    assert code == 0, text
    assert "Traceback" not in text, text
    assert re.search(r"published \d+ backfill \+ \d+ live messages", text), text
