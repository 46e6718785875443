"""A taken API port is one clear line naming CITYHUB_API__PORT, before anything starts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import READ_KEY


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def cityhub(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def assert_one_clear_line(result: subprocess.CompletedProcess[str], port: int) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "CITYHUB_API__PORT" in lines[0]
    assert str(port) in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_demo_on_a_taken_port_names_the_setting(tmp_path: Path, taken_port: int, how: str) -> None:
    if how == "flag":
        result = cityhub(["demo", "--port", str(taken_port)], tmp_path)
    else:
        result = cityhub(["demo"], tmp_path, CITYHUB_API__PORT=str(taken_port))
    assert_one_clear_line(result, taken_port)
    assert not (tmp_path / "cityhub-demo").exists(), "the demo started things before failing"


def test_run_on_a_taken_port_names_the_setting(tmp_path: Path, taken_port: int) -> None:
    result = cityhub(
        ["run"],
        tmp_path,
        CITYHUB_API__PORT=str(taken_port),
        CITYHUB_API__READ_KEYS=json.dumps([READ_KEY]),
        CITYHUB_DATA_DIR=str(tmp_path / "data"),
    )
    assert_one_clear_line(result, taken_port)
