"""The hub as a package: a wheel built from the repository, installed into a fresh virtual
environment, runs `cityhub demo` from an empty directory and serves data (nothing is read from
the source tree at run time)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from hub.broker import free_port
from tests.conftest import wait_until

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_the_demo_from_an_empty_directory(tmp_path: Path) -> None:
    # Built from a copy: setuptools leaves build/ in the source folder, and a stale build/lib
    # there could smuggle removed modules into a later wheel.
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "cityhub-demo",
    ))  # fmt: skip
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        check=True, timeout=300,
    )  # fmt: skip
    (wheel,) = dist.glob("cityhub-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "hub/broker_config/mosquitto.conf" in names and "hub/broker_config/acl" in names
    assert not any(name.startswith(("deploy/", "tests/")) for name in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-c", str(REPO / "constraints.txt"), str(wheel)],
        check=True, timeout=600,
    )  # fmt: skip

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITYHUB_", "PYTHON"))}
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import hub.broker as b; print(b.__file__)"],
        cwd=empty, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(venv)), f"not the installed package: {where}"
    port, out = free_port(), tmp_path / "demo.out"
    with out.open("wb") as sink:
        demo = subprocess.Popen(
            [venv / "bin" / "cityhub", "demo", "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, cwd=empty, env=env,
        )  # fmt: skip
    try:
        key = wait_until(
            lambda: re.search(r"API key\s+(\S+)", out.read_text(errors="replace")),
            timeout_s=60,
            message=f"no API key printed:\n{out.read_text(errors='replace')}",
        ).group(1)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=10
        ) as client:

            def hourly_energy() -> list[dict]:
                try:
                    response = client.get(
                        "/api/v1/aggregate",
                        params={"measurement": "building_energy", "field": "energy_import_wh",
                                "fn": "increase", "every": "1h", "start": "-24h",
                                "group_by": "building"},
                    )  # fmt: skip
                except httpx.TransportError:
                    return []
                return response.json()["series"] if response.status_code == 200 else []

            series = wait_until(hourly_energy, timeout_s=60, message="no data from the demo")
        assert series[0]["tags"]["building"].startswith("b-")
        # The packaged code ran, not the repository's: the demo used the shipped broker config.
        text = out.read_text(errors="replace")
        assert "falling back to amqtt" not in text, text
        assert (empty / "cityhub-demo" / "broker" / "mosquitto.conf").exists()
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(30) == 0, out.read_text(errors="replace")
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert "Traceback" not in out.read_text(errors="replace")
